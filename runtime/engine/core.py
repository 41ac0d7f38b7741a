"""The engine: owns the store, the backends, the credential-injecting proxy (`Egress`) and one terminal
stream per running session.

It runs on its own event loop (see `runtime/engine/host.py`); every UI reaches it through the API server
(`runtime/api/`). `Engine` is the one object the host and the API hold; it composes parts that are each
built with only what they use:

- `SessionRecords` (`records.py`): the store as the loop uses it, every change announced;
- `TerminalStreams` (`streams.py`): attaching to sandboxes and pumping their terminals;
- `Lifecycle` (`lifecycle.py`): create, delete, archive, restart and the other session operations;
- `Reconciler` (`reconcile.py`): adopting sandboxes at start, unreachable backends, restarts;
- `Landing` (`landing.py`), `BranchSync` (`runtime/git/branch_sync.py`), `DiskGuard` (`disk_guard.py`),
  `EngineHealth` (`health.py`), `AgentImages` (`agent_images.py`), and the agent hooks (`hooks.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from runtime.agents.registry import agent_named
from runtime.backends.base import Backend
from runtime.engine.agent_images import AgentImages
from runtime.engine.agent_mode import watch_permission_mode
from runtime.engine.backend_set import BackendSet, default_backends
from runtime.engine.disk_guard import DiskGuard
from runtime.engine.egress import Egress
from runtime.engine.health import EngineHealth
from runtime.engine.hooks import HooksHandler, install_hooks, report_missing_credentials, watch_transcript_turns
from runtime.engine.landing import Landing
from runtime.engine.lifecycle import Lifecycle
from runtime.engine.reconcile import Reconciler
from runtime.engine.records import SessionRecords
from runtime.engine.streams import TerminalStreams
from runtime.engine.tasks import BackgroundTasks
from runtime.events import EventBus
from runtime.gc_policy import freeze_boot_objects
from runtime.git.branch_sync import BranchSync
from runtime.git.worktrees import WorktreeManager
from runtime.home import Home
from runtime.models import Session
from runtime.settings import LoadedSettings
from runtime.store import Store
from runtime.terminal import TerminalStream
from runtime.uploads import RecentUploads

log = logging.getLogger(__name__)
T = TypeVar("T")


class Engine:
    """Builds the engine's parts, starts and stops them, and answers what the API asks of them."""

    def __init__(self, home: Home, loaded: LoadedSettings, backends: dict[str, Backend] | None = None) -> None:
        self.home = home
        self.loaded = loaded
        self.settings = settings = loaded.settings
        self.store = Store(home, backup_count=settings.engine.backup_count)
        self.events = EventBus()
        self.uploads = RecentUploads()
        self.records = SessionRecords(self.store, self.events)
        self.worktrees = WorktreeManager(home)
        self.egress = Egress(home, settings)
        self.backends = (default_backends(home, loaded, self.egress.ca_cert_path.read_bytes()) if backends is None
                         else BackendSet(backends))
        self.tasks = BackgroundTasks()
        self.streams = TerminalStreams(settings.engine, self.records, self.backends)
        self.hooks: HooksHandler | None = None  # the agent hooks handler, installed on start
        self._agent_followers: dict[str, asyncio.Task[Any]] = {}
        self._mode_watchers: dict[str, asyncio.Task[Any]] = {}
        self.branches = BranchSync(self.records, self.backends, self.worktrees, self.tasks)
        self.records.observe_agent_status(self.branches.after_update)  # a turn that ended brings its commits back
        self.lifecycle = Lifecycle(self.home, settings, self.records, self.backends, self.worktrees, self.egress,
                                   self.streams, self.branches, self.tasks, follow_agent=self.follow_agent,
                                   forget_agent_status=self._forget_agent_status)
        self._health = EngineHealth(home, settings, self.store, self.backends, self.egress)
        self.reconciler = Reconciler(home, settings.engine, self.records, self.backends, self.egress, self.streams,
                                     self.lifecycle, self.tasks, self._health, follow_agent=self.follow_agent)
        self.landing = Landing(settings.github, self.records, self.branches, github_token=self._github_token)
        self.disk = DiskGuard(home, settings.engine, self.records, self.backends)
        self.images = AgentImages(settings.docker, self.store, self.backends, self.tasks, on_built=self._image_built)

    # ------------------------------------------------------------------ start / stop
    async def start(self) -> None:
        """Reconcile the store with what the backends run, then attach a stream to every running session."""
        if self.store.recovered_from is not None:
            log.warning("store was recovered; re-adopting this home's containers the store does not know")
        await self._listen_on_bridge()
        await asyncio.to_thread(self.egress.start)
        install_hooks(self)  # agent hooks -> agent_status (runtime/engine/hooks.py)
        report_missing_credentials(self)  # a model call refused for want of a credential -> agent_status error
        freeze_boot_objects("engine")  # before any session's stream exists: only what lives for good
        await self.reconciler.start()
        await self.lifecycle.print_runs.recover()  # runs the previous engine began are lost: finished as cut off
        self.spawn(self.disk.run())
        self.landing.start()
        self.branches.start()

    async def _listen_on_bridge(self) -> None:
        """Bridge-networked containers reach the proxy at the bridge gateway (`host.docker.internal`)."""
        for backend in self.backends.values():
            if "bridge" not in backend.capabilities.network_modes or not (await backend.available())[0]:
                continue
            gateway = await backend.bridge_gateway()
            if gateway:
                self.egress.add_listen_host(gateway)

    async def stop(self) -> None:
        """Detach from every session (they keep running) and stop background work."""
        await self.landing.stop()
        self.tasks.cancel_all()
        await self.streams.stop_all()
        self.events.close()
        await self.egress.sealed.close_all()  # the sockets' files stay: a successor engine serves them again
        await asyncio.to_thread(self.egress.stop)
        await asyncio.to_thread(self.store.writer.shutdown)  # the writes already handed over still land

    def spawn(self, work: Any) -> asyncio.Task[Any]:
        """Run a background task the engine cancels on stop."""
        return self.tasks.spawn(work)

    # ------------------------------------------------------------------ agents
    def follow_agent(self, session: Session) -> None:
        """Once a session runs: an agent with no hook for a turn starting (`Agent.follows_turns`, Codex) is
        followed through its transcript (one follower per session; it ends by itself when the session stops)."""
        task = self._agent_followers.get(session.id)
        if agent_named(session.agent).follows_turns and (task is None or task.done()):
            self._agent_followers[session.id] = self.spawn(watch_transcript_turns(self, session.id))
        # An agent whose mode shift+tab cycles (Claude Code) has it read off its screen.
        watcher = self._mode_watchers.get(session.id)
        if agent_named(session.agent).supports_mode_cycle and (watcher is None or watcher.done()):
            self._mode_watchers[session.id] = self.spawn(watch_permission_mode(self, session.id))

    def _forget_agent_status(self, session_id: str) -> None:
        if self.hooks is not None:
            self.hooks.forget(session_id)

    def _github_token(self) -> str | None:
        token: str | None = self.egress.service.credentials.get("github_token")
        return token

    # ------------------------------------------------------------------ what the API asks
    def backend(self, session: Session) -> Backend:
        """The backend the session runs on (a one-line error when this engine has none of that name)."""
        return self.backends.of(session)

    def session(self, ref: str) -> Session:
        return self.records.get(ref)

    def require_known(self, ref: str) -> Session:
        """The session by id or name, or a NotFound that says how to list them."""
        return self.records.require_known(ref)

    def stream(self, ref: str) -> TerminalStream:
        """The session's live terminal (Conflict when it has none)."""
        return self.streams.stream(ref)

    def publish(self, session: Session) -> None:
        self.records.publish(session)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run store I/O on the store's writer thread (see `SessionRecords.write`)."""
        return await self.records.write(fn, *args)

    async def save(self, session: Session) -> Session:
        """Persist and announce a changed session."""
        return await self.records.save(session)

    async def update(self, session_id: str, **changes: Any) -> Session:
        """Change fields of a stored session and announce it (NotFound when it is gone)."""
        return await self.records.update(session_id, **changes)

    async def apply(self, session_id: str, **changes: Any) -> Session | None:
        """`update` for frequent changes: one that changes nothing is neither written nor announced."""
        return await self.records.apply(session_id, **changes)

    async def health(self) -> dict[str, Any]:
        return await self._health.report()

    def forget_health(self) -> None:
        self._health.forget()

    async def _image_built(self) -> None:
        """A built agent image: viewers' headers drop "agent image missing" now, not at their next refresh."""
        self.forget_health()
        self.events.publish({"type": "health", "health": await self.health()})
