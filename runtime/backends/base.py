"""The one interface every backend implements, and the launch spec the engine hands it.

The engine decides *what* runs (command, environment, mounts, limits) and builds a `LaunchSpec`;
a backend only knows *where* and *how* to run it and how to attach a terminal to it.
"""

from __future__ import annotations

import abc
import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

from runtime.backends.capabilities import BackendCapabilities
from runtime.errors import ClauderonError
from runtime.models import Mount, Status

if TYPE_CHECKING:
    from runtime.settings import Settings

ProgressFn = Callable[[str], Awaitable[None] | None]
ContainerSample = tuple[dict[str, Any] | None, dict[str, Any] | None]
"""A sandbox's inspect answer (None when it is gone) and one stats answer (None when not sampled)."""
P = ParamSpec("P")
T = TypeVar("T")

# Labels every backend puts on what it creates, so an engine adopts or removes only its own home's things.
LABEL_SESSION = "clauderon.session"
LABEL_HOME = "clauderon.home"
LABEL_NAME = "clauderon.name"
# The public session record (JSON) at launch time, so a store that lost a session can re-adopt it.
LABEL_RECORD = "clauderon.record"


@dataclass(frozen=True)
class ImagePull:
    """What a pull did to an image tag: the image id (and registry digest) it named before and after."""

    image: str
    old_id: str | None
    new_id: str
    digest: str | None = None

    @property
    def changed(self) -> bool:
        return self.old_id != self.new_id


@dataclass
class LaunchSpec:
    """Everything needed to start (or restart) one session's agent."""

    session_id: str
    name: str
    home_id: str
    command: list[str]
    workdir: str
    """Working directory inside the sandbox (`/workspace/<subdir>` for containers)."""
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    image: str | None = None
    pull_policy: str = "never"
    network: str = "auto"
    cpu: float | None = None
    memory: str | None = None
    user: str | None = None
    """`uid:gid` to run as."""
    cols: int = 120
    rows: int = 40
    extra_capabilities: list[str] = field(default_factory=list)
    host_workdir: str | None = None
    """For backends without a container (local): the real directory to run in."""
    record: str | None = None
    """The session record as JSON, stored with the sandbox (label `LABEL_RECORD`) for re-adoption."""
    branch: str = ""
    """The session branch (`clauderon/<name>`)."""
    proxy_socket_dir: str | None = None
    """For sealed networking: the host directory holding this session's proxy socket (`proxy.sock`)."""
    workspace_bundle: bytes | None = None
    """For backends that copy the work in (`copies_workspace`): a `git bundle` of `branch`."""

    @property
    def labels(self) -> dict[str, str]:
        labels = {LABEL_SESSION: self.session_id, LABEL_HOME: self.home_id, LABEL_NAME: self.name}
        if self.record:
            labels[LABEL_RECORD] = self.record
        return labels


@dataclass
class ExecResult:
    """What a command run in a sandbox (no TTY) printed, and how it exited."""

    stdout: bytes
    stderr: bytes
    exit_code: int | None


@dataclass
class Found:
    """A running thing a backend found carrying this home's label."""

    session_id: str
    backend_id: str
    status: Status
    labels: dict[str, str] = field(default_factory=dict)
    """All labels, including `LABEL_RECORD` (the session record at launch) for re-adoption."""


class Attachment(abc.ABC):
    """A live, bidirectional byte stream to a session's terminal."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """Next chunk of output; b"" once the stream has ended (program exited or detached)."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Send input bytes to the program."""

    @abc.abstractmethod
    async def resize(self, cols: int, rows: int) -> None:
        """Set the terminal size the program sees."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop attaching; the program keeps running."""


class Backend(abc.ABC):
    """Runs sessions. Every method that blocks runs in a thread so the caller's loop stays free."""

    name: str
    capabilities: ClassVar[BackendCapabilities]
    """What this backend can do (`runtime.backends.registry` holds every backend's): the one thing other
    code asks instead of the backend's name."""

    _pool: ThreadPoolExecutor | None = None
    POOL_THREADS = 16

    async def _blocking(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking call (an SDK request) on this backend's own threads, never the loop's default
        executor: the workbench readers wait for backend calls from default-executor threads, so sharing
        one pool let a few concurrent reads hold every thread and wait for one more, for good."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.POOL_THREADS, thread_name_prefix=f"clauderon-{self.name}")
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    @abc.abstractmethod
    async def available(self) -> tuple[bool, str]:
        """(usable, reason): the reason says why not and how to fix it, or describes what is used."""

    @abc.abstractmethod
    async def create(self, spec: LaunchSpec, progress: ProgressFn | None = None) -> str:
        """Create and start the sandbox; returns its backend id. On failure leaves nothing behind."""

    @abc.abstractmethod
    async def remove(self, backend_id: str) -> None:
        """Stop and remove the sandbox (missing is fine)."""

    async def archive(self, backend_id: str) -> None:
        """Remove the sandbox but keep what must survive archive (a pod's volume); default: `remove`."""
        await self.remove(backend_id)

    async def pause(self, backend_id: str, paused: bool) -> None:
        """Freeze (`paused`) or thaw every process of the sandbox; its terminal and files stay as they are."""
        raise ClauderonError(f"the {self.name} backend cannot pause a session")

    @abc.abstractmethod
    async def status(self, backend_id: str) -> Status:
        """RUNNING, STOPPED, or FAILED when it is gone."""

    @abc.abstractmethod
    async def attach(self, backend_id: str, *, replay: bool = False) -> Attachment:
        """Attach to the running program's terminal; loses no output produced after it returns.

        `replay=True` first delivers what the program printed since it started (bounded), seamlessly:
        used right after create, so output printed before the attach is not lost."""

    @abc.abstractmethod
    async def recent_output(self, backend_id: str, max_bytes: int) -> bytes:
        """The last output the program produced (up to about `max_bytes`), to rebuild a screen after restart."""

    @abc.abstractmethod
    async def list_owned(self, home_id: str) -> list[Found]:
        """Everything carrying `home_id`'s label, for re-adoption after an engine restart."""

    def default_image(self, settings: Settings) -> str | None:
        """The image a new session runs when its request names none; None for a backend that runs no image."""
        return None

    async def local_images(self) -> list[dict[str, Any]]:
        """For a backend that `builds_images`: every tagged local image, `{"ref", "agent"}`."""
        return []

    async def pull_image(self, image: str) -> ImagePull:
        """For a backend that `pulls_images`: pull the newest `image` from its registry (raises with one
        line when it has none or cannot be reached; nothing changes then)."""
        raise ClauderonError(f"the {self.name} backend does not pull images itself")

    async def bridge_gateway(self) -> str | None:
        """Where on the host bridge-networked sandboxes reach it (the proxy listens there too); None for a
        backend without a bridge network, or whose bridge has no gateway."""
        return None

    async def sample_container(self, backend_id: str, *, with_stats: bool) -> ContainerSample:
        """For a backend that `has_stats`: the sandbox's inspect answer (None when it is gone) and, when
        `with_stats` and it runs, one stats answer (else None)."""
        raise ClauderonError(f"the {self.name} backend samples no container details")

    async def resolve_network(self, mode: str) -> str:
        """The network a sandbox gets for `mode` (`host` or `bridge`); no sandbox shares the host's."""
        return "host"

    async def owner_of(self, name: str) -> str | None:
        """The home id labelling an existing sandbox called `clauderon-<name>`, or None if there is none."""
        return None

    async def release(self, backend_id: str) -> None:
        """Free what only served a sandbox that has stopped (a sealed session's relay); it stays removable
        and restartable. Default: nothing to free."""
        return None

    async def lost_in_restart(self, backend_id: str, seen_running_at: float) -> str | None:
        """Why a sandbox last seen running at `seen_running_at` is not running now, when that is a restart
        of what runs it (the host rebooted, the daemon restarted since) and not something it or the user
        did; None otherwise, or when the backend cannot tell. Such a sandbox is recreated at engine start
        (`[engine] recreate_missing`)."""
        return None

    async def remove_leftovers(self, session_id: str, name: str, home_id: str) -> None:
        """Remove the sandbox an interrupted create may have left behind (its id was never recorded),
        when it is this home's: found by its name, `clauderon-<name>`."""
        if await self.owner_of(name) == home_id:
            await self.remove(f"clauderon-{name}")
