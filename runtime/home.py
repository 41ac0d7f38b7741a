"""Where a clauderon home lives on disk, and the layout inside it.

Everything inside is private to the user: the home is created 0700 and the process umask is 077.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy import CA_DIR, atomic_write

# A unix socket path longer than this cannot be bound (sun_path is 108 bytes with its NUL).
MAX_UNIX_SOCKET_PATH = 104


def fits_unix_socket(path: Path) -> bool:
    """Whether a unix socket can be bound at `path`."""
    return len(os.fsencode(path)) <= MAX_UNIX_SOCKET_PATH


def is_private_dir(path: Path) -> bool:
    """A real directory (not a link) owned by this user with no access for anyone else."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def default_home() -> Path:
    return Path(os.environ.get("CLAUDERON_HOME") or Path.home() / ".clauderon").expanduser()


@dataclass(frozen=True)
class Home:
    """Paths inside one `CLAUDERON_HOME`."""

    root: Path

    @classmethod
    def open(cls, root: Path | str | None = None) -> Home:
        """Resolve and create the home (0700) and set umask 077 for this process."""
        os.umask(0o077)
        path = Path(root).expanduser() if root else default_home()
        path = path.absolute()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        home = cls(path)
        for sub in (home.logs, home.worktrees, home.agent_homes, home.secrets, home.run, home.records):
            sub.mkdir(mode=0o700, exist_ok=True)
        return home

    @property
    def home_id(self) -> str:
        """A short stable id for this home, used to label the containers it owns."""
        return hashlib.sha256(str(self.root).encode()).hexdigest()[:12]

    @property
    def config_file(self) -> Path:
        """`config.toml`: the user's settings."""
        return self.root / "config.toml"
    @property
    def proxy_config_file(self) -> Path:
        """`proxy.toml`: the proxy's settings."""
        return self.root / "proxy.toml"
    @property
    def docker_config_file(self) -> Path:
        """`docker-config.toml`: the original clauderon's Docker settings, read for compatibility."""
        return self.root / "docker-config.toml"
    @property
    def proxy_ca(self) -> Path:
        """The proxy's CA directory (its private key never leaves it; `proxy-ca.pem` is what sandboxes get)."""
        return self.root / CA_DIR
    @property
    def db_file(self) -> Path:
        """`db.json`: the session store."""
        return self.root / "db.json"
    @property
    def db_lock(self) -> Path:
        """The lock file that serialises writers of the store."""
        return self.root / "db.lock"
    @property
    def backups(self) -> Path:
        """Copies of the store taken before a schema migration."""
        return self.root / "backups"
    @property
    def logs(self) -> Path:
        """The engine's and proxy's logs."""
        return self.root / "logs"
    @property
    def worktrees(self) -> Path:
        """One git worktree per session."""
        return self.root / "worktrees"
    @property
    def agent_homes(self) -> Path:
        """One home directory per session's agent."""
        return self.root / "agents"
    @property
    def incoming(self) -> Path:
        """Images uploaded for a chat message (a browser's paste, a terminal's pasted data) until they are sent;
        files 0600, pruned after a day."""
        return self.root / "incoming"
    @property
    def secrets(self) -> Path:
        """Credential files (mode 0600), one per name."""
        return self.root / "secrets"
    @property
    def run(self) -> Path:
        """Runtime files: the socket directory pointer, sealed sessions' proxy sockets."""
        return self.root / "run"
    @property
    def records(self) -> Path:
        """One file per session with what re-adoption needs that can change after create (store.py)."""
        return self.root / "records"
    @property
    def engine_lock(self) -> Path:
        """Held by the running engine (one per home)."""
        return self.root / "engine.lock"
    @property
    def engine_info(self) -> Path:
        """`engine.json`: the running engine's pid and socket."""
        return self.root / "engine.json"
    @property
    def socket_pointer(self) -> Path:
        """Where the engine's socket directory is recorded."""
        return self.root / "engine.sock.path"
    @property
    def themes(self) -> Path:
        """User theme files."""
        return self.root / "themes"

    @property
    def socket_path(self) -> Path:
        """`engine.sock` in the home, or in `short_socket_dir()` when the home's path is too long to bind."""
        natural = self.root / "engine.sock"
        if fits_unix_socket(natural):
            return natural
        return self.short_socket_dir() / "engine.sock"

    def short_socket_dir(self) -> Path:
        """A private directory for this home's unix sockets when paths inside the home are too long to bind.

        `$XDG_RUNTIME_DIR` (else /tmp) + `clauderon-<uid>-<home id>`, created 0700 and checked every time
        (a directory, ours, 0700, not a link): that name is guessable, and another local user who made it
        first could otherwise hold or watch the engine's socket. If it fails the check, a fresh random
        directory is made instead and recorded in the home (`run/socket-dir`), so clients find it too."""
        pointer = self.run / "socket-dir"
        try:
            recorded: Path | None = Path(pointer.read_text().strip())
        except OSError:
            recorded = None
        if recorded is not None and recorded.is_absolute() and is_private_dir(recorded):
            return recorded
        base = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
        predictable = base / f"clauderon-{os.getuid()}-{self.home_id}"
        with contextlib.suppress(FileExistsError):
            os.mkdir(predictable, 0o700)
        if is_private_dir(predictable):
            return predictable
        fresh = Path(tempfile.mkdtemp(prefix=f"clauderon-{os.getuid()}-", dir=base))
        atomic_write(pointer, str(fresh), mode=0o600)
        return fresh

    def worktree(self, name: str) -> Path:
        return self.worktrees / name

    def agent_home(self, session_id: str) -> Path:
        return self.agent_homes / session_id


def disk_report(root: Path, floor: int) -> dict[str, Any]:
    """Free space on the disk holding `root` against `floor` bytes: `ok`, `free`, a one-line `detail` and
    a `short` form for the app's header."""
    try:
        free = shutil.disk_usage(root).free
    except OSError as exc:
        return {"ok": False, "free": None, "short": "unreadable",
                "detail": f"cannot read free space of {root}: {exc.strerror or exc}"}
    shown = f"{free / 2 ** 30:.1f} GiB" if free >= 2 ** 30 else f"{free / 2 ** 20:.0f} MiB"
    if free < floor:
        return {"ok": False, "free": free, "short": f"{shown} free", "detail": f"only {shown} free for "
                f"CLAUDERON_HOME ({root}); free space there or lower [engine] min_free_space"}
    return {"ok": True, "free": free, "short": f"{shown} free", "detail": f"{shown} free"}
