"""The engine: owns the store, the backends, one terminal stream per running session, and (later) the proxy.

It runs on its own event loop (see `engine_host.py`); every UI reaches it through the API server.
Life-cycle operations live in `lifecycle.py`; this module keeps the state they share.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any, Callable, TypeVar

from runtime import __version__
from runtime.agents.registry import agent_named
from runtime.backends.base import LABEL_RECORD, Backend, Found
from runtime.engine.disk_guard import DiskGuard
from runtime.engine.egress import Egress
from runtime.errors import ClauderonError, Conflict, NotFound
from runtime.events import EventBus
from runtime.gc_policy import freeze_boot_objects
from runtime.home import Home, disk_report
from runtime.git.branch_sync import BranchSync
from runtime.engine.hooks import install_hooks, watch_transcript_turns
from runtime.models import AgentStatus, Session, Status
from runtime.settings import LoadedSettings
from runtime.store import VOLATILE, Store
from runtime.terminal import TerminalStream
from runtime.git.worktrees import WorktreeManager

log = logging.getLogger(__name__)
T = TypeVar("T")

SEEN_KEY = "engine_seen_at"
HEARTBEAT_SECONDS = 60.0
RESTART_WINDOW = 120.0
"""How long after a sandbox stops a restart of its daemon still counts as what stopped it."""

# How long backend availability answers are reused (doctor-grade checks are slow).
HEALTH_TTL_S = 10.0
UNREACHABLE = 503
"""The status a backend's error carries when the backend itself cannot be reached (not the sandbox)."""
RECENT_OUTPUT_BYTES = 256 * 1024


def default_backends(home: Home, loaded: LoadedSettings, ca_cert_pem: bytes) -> dict[str, Backend]:
    from runtime.backends.docker import DockerBackend
    from runtime.backends.kubernetes import KubernetesBackend
    from runtime.backends.local import LocalBackend

    return {
        "docker": DockerBackend(base_url=loaded.settings.docker.base_url),
        "local": LocalBackend(home),
        "kubernetes": KubernetesBackend(loaded.settings.kubernetes, home.home_id, ca_cert_pem=ca_cert_pem),
    }


class Engine:
    """State shared by every operation: store, backends, streams, events, per-session locks."""

    def __init__(self, home: Home, loaded: LoadedSettings, backends: dict[str, Backend] | None = None) -> None:
        self.home = home
        self.loaded = loaded
        self.settings = loaded.settings
        self.store = Store(home, backup_count=self.settings.engine.backup_count)
        self.worktrees = WorktreeManager(home)
        self.egress = Egress(home, self.settings)
        if backends is None:
            backends = default_backends(home, loaded, self.egress.ca_cert_path.read_bytes())
        self.backends = backends
        self.events = EventBus()
        self.streams: dict[str, TerminalStream] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._ops = asyncio.Semaphore(self.settings.engine.max_concurrent_operations)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._turn_watchers: dict[str, asyncio.Task[Any]] = {}
        self._health_cache: tuple[float, dict[str, Any]] | None = None
        self._reachable_waits: dict[str, asyncio.Task[None]] = {}  # backend -> the task waiting for it
        self.hooks: Any = None  # the agent hooks handler, installed on start
        from runtime.engine.landing import Landing

        self.landing = Landing(self)
        self.started_at = time.time()
        self._last_seen = 0.0
        """When this engine last knew its running sessions' sandboxes to be running (`lost_in_restart`)."""
        from runtime.engine.lifecycle import Lifecycle

        self.lifecycle = Lifecycle(self)
        self.branches = BranchSync(self)
        self.disk = DiskGuard(self)

    # ------------------------------------------------------------------ start / stop
    async def start(self) -> None:
        """Reconcile the store with what the backends run, then attach a stream to every running session."""
        if self.store.recovered_from is not None:
            log.warning("store was recovered; re-adopting this home's containers the store does not know")
        await self._listen_on_bridge()
        await asyncio.to_thread(self.egress.start)
        install_hooks(self)  # agent hooks -> agent_status (runtime/engine/hooks.py)
        freeze_boot_objects("engine")  # before any session's stream exists: only what lives for good
        self._last_seen = self.store.get_meta(SEEN_KEY, 0.0)  # the previous engine's last look
        await self._reconcile()
        self._last_seen = time.time()  # from here on this engine watches: a daemon start after it is a restart
        self.spawn(self._heartbeat())
        self.spawn(self.disk.run())
        self.landing.start()
        self.branches.start()

    async def _heartbeat(self) -> None:
        """Note, now and then, that this engine saw its sessions running: a sandbox that was running then
        and is gone at the next start, with its daemon restarted since, went with the restart."""
        while True:
            await self.write(self.store.set_meta, SEEN_KEY, time.time())
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _listen_on_bridge(self) -> None:
        """Bridge-networked containers reach the proxy at the bridge gateway (`host.docker.internal`)."""
        docker = self.backends.get("docker")
        bridge_gateway = getattr(docker, "bridge_gateway", None)
        if bridge_gateway is None or not (await docker.available())[0]:
            return
        gateway = await bridge_gateway()
        if gateway:
            self.egress.add_listen_host(gateway)

    async def stop(self) -> None:
        """Detach from every session (they keep running) and stop background work."""
        await self.landing.stop()
        for task in list(self._tasks):
            task.cancel()
        for session_id in list(self._pumps):
            await self.stop_stream(session_id)
        self.events.close()
        await self.egress.sealed.close_all()  # the sockets' files stay: a successor engine serves them again
        await asyncio.to_thread(self.egress.stop)
        await asyncio.to_thread(self.store.writer.shutdown)  # the writes already handed over still land

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a background task the engine cancels on stop."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _reconcile(self) -> None:
        for name in self.backends:
            await self._reconcile_backend(name)
        for session in self.store.sessions():
            if session.backend not in self.backends:  # a backend this engine no longer has
                await self._resume_tracking(session)

    async def _reconcile_backend(self, name: str) -> None:
        """Adopt what the backend runs for this home and resume its sessions. A backend that cannot be
        reached is a state of the engine, not of its sessions: they are kept as they were, their proxy
        credentials stay registered (their sandboxes may well be running), and this is retried until the
        backend answers."""
        backend = self.backends[name]
        known = {s.id: s for s in self.store.sessions() if s.backend == name}
        ok, reason = await backend.available()
        if not ok:
            if any(s.status in (Status.RUNNING, Status.CREATING) for s in known.values()):
                await self._backend_lost(name, reason)
            return
        try:
            found = await backend.list_owned(self.home.home_id)
        except ClauderonError as exc:
            if exc.status == UNREACHABLE:
                return await self._backend_lost(name, exc.message)
            log.warning("cannot list %s sessions: %s", name, exc)
            found = []
        for item in found:
            if item.session_id not in known and self.store.is_tombstoned(item.session_id):
                log.info("removing %s %s left by a deleted session", name, item.backend_id)
                await backend.remove(item.backend_id)
                continue
            adopted = self._readopt(known.get(item.session_id), item, name)
            if adopted is not None:
                known[adopted.id] = await self.write(self.store.put, adopted)
        try:
            for session in known.values():
                await self._resume_tracking(session)
        except ClauderonError as exc:
            if exc.status != UNREACHABLE:
                raise
            await self._backend_lost(name, exc.message)

    async def _serve_proxy_path(self, session: Session) -> None:
        """Register a running session's proxy credentials again and, for a sealed one, serve its socket
        (its relay connects there)."""
        self.egress.restore(session)
        if self.egress.sealed.directory(session.id).exists():
            await self.egress.sealed.open(session.id)

    async def _release(self, session: Session) -> None:
        """A sandbox that stopped (its program exited, the daemon restarted) frees what only served it."""
        if session.backend_id:
            try:
                await self.backend(session).release(session.backend_id)
            except ClauderonError as exc:
                log.warning("could not release what the stopped sandbox of %s held: %s", session.name, exc)

    async def _backend_lost(self, name: str, reason: str) -> None:
        """Keep the backend's running sessions reachable through the proxy (their sandboxes may well be
        running) and wait, in one task per backend, for it to answer again."""
        waiting = self._reachable_waits.get(name)
        if waiting is not None and not waiting.done():
            return
        log.warning("%s is unreachable (%s); keeping its sessions and retrying", name, reason)
        for session in self.store.sessions():
            if session.backend == name and session.status == Status.RUNNING:
                await self._serve_proxy_path(session)
        self.forget_health()
        self._reachable_waits[name] = self.spawn(self._when_reachable(name))

    async def _when_reachable(self, name: str, *, first: float = 1.0, longest: float = 15.0) -> None:
        """Retry an unreachable backend (backing off) and reconcile it once it answers."""
        delay = first
        while not (await self.backends[name].available())[0]:
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
        log.warning("%s is reachable again; re-adopting its sessions", name)
        self.forget_health()
        self._reachable_waits.pop(name, None)
        await self._reconcile_backend(name)

    def _readopt(self, stored: Session | None, item: Found, backend: str) -> Session | None:
        """The session to track for a sandbox found carrying this home's label, when the store's record of
        it is missing or stale (a lost db, a restored backup); None when the store's record stands.

        The session's record file (store.py) is preferred: it holds what changed after create (access
        mode, egress, proxy-password hash). The label's create-time record is the last resort."""
        if stored is not None and stored.status == Status.CREATING:
            return None  # an interrupted create: `_resume_tracking` finishes or rolls it back
        record = self.store.adoption_record(item.session_id)
        if stored is not None:
            if record is not None and record.updated_at > stored.updated_at:
                log.warning("session %s: the store is older than its record file (restored from a backup?); "
                            "taking the record file's access mode, egress and credentials", stored.name)
                stored = Session.model_validate({**stored.model_dump(mode="json"),
                                                 **record.model_dump(mode="json", exclude=VOLATILE)})
            elif stored.backend_id == item.backend_id:
                return None
            if stored.backend_id != item.backend_id:
                log.warning("session %s runs in %s %s, not the %s the store had", stored.name, backend,
                            item.backend_id, stored.backend_id)
            stored.backend_id = item.backend_id
            if item.status == Status.RUNNING:
                stored.status = Status.RUNNING
            return stored
        session = record or self._record_from_label(item.labels)
        if session is None:
            log.warning("%s %s carries this home's label but no record; leaving it alone", backend, item.backend_id)
            return None
        if record is None:
            session.error = (f"re-adopted from its {backend} label alone (no record file): its proxy credentials "
                             f"are unknown, so `clauderon restart {session.name}` before using it")
        log.warning("re-adopting session %s (%s %s) that the store did not know", session.name, backend, item.backend_id)
        session.backend, session.backend_id, session.status = backend, item.backend_id, Status.RUNNING
        return session

    @staticmethod
    def _record_from_label(labels: dict[str, str]) -> Session | None:
        try:
            return Session.model_validate(json.loads(labels.get(LABEL_RECORD) or ""))
        except (ValueError, TypeError):
            return None

    async def _resume_tracking(self, session: Session) -> None:
        if session.status == Status.CREATING:
            # The engine died mid-create: adopt what got as far as running, else mark it failed.
            if session.backend_id and await self._backend_status(session) == Status.RUNNING:
                session = await self.update(session.id, status=Status.RUNNING, progress=session.progress.model_copy(update={"message": ""}))
            else:
                await self.lifecycle.discard_interrupted(session)
                await self.update(session.id, status=Status.FAILED, backend_id=None,
                                  error="the engine stopped while this session was being created; what it had made "
                                        "was removed: create it again")
                return
        if session.status != Status.RUNNING:
            return
        status = await self._backend_status(session)
        if status != Status.RUNNING:
            why = await self._lost_in_restart(session)
            if why:
                self.spawn(self._recreate(session, why))
                return
            gone = None if status == Status.STOPPED else (
                f"its sandbox is gone; `clauderon restart {session.name}` makes a new one on the same worktree")
            await self.update(session.id, status=status, agent_status=AgentStatus.EXITED, agent_detail=None,
                              error=gone or session.error)
            await self._release(session)
            return
        await self._serve_proxy_path(session)
        pump = self._pumps.get(session.id)
        if pump is not None and not pump.done():  # already live (re-adoption after the backend came back)
            return
        prefill = b""
        try:
            prefill = await self.backend(session).recent_output(session.backend_id or "", RECENT_OUTPUT_BYTES)
        except ClauderonError as exc:
            log.warning("no recent output for %s: %s", session.name, exc)
        await self.start_stream(session, prefill=prefill)
        self.follow_agent(session)

    async def _lost_in_restart(self, session: Session) -> str | None:
        if not self.settings.engine.recreate_missing or not session.backend_id:
            return None
        try:
            return await self.backend(session).lost_in_restart(session.backend_id, self._last_seen)
        except ClauderonError as exc:
            log.warning("cannot tell whether %s's sandbox went with a restart: %s", session.name, exc)
            return None

    async def _watch_for_restart(self, session: Session, stopped_at: float) -> None:
        """A daemon that stops takes its containers down first and goes away after, so a sandbox seen to
        stop may be the start of a daemon restart: it is watched for `RESTART_WINDOW` seconds, and if its
        daemon starts again meanwhile the session is recreated as if it had never stopped."""
        backend = self.backends.get(session.backend)
        while backend is not None and time.time() < stopped_at + RESTART_WINDOW:
            try:
                why = await backend.lost_in_restart(session.backend_id or "", stopped_at - 1)
            except ClauderonError:  # the daemon is away: the restart is under way
                why = None
            if why:
                current = self.store.find(session.id)
                if current is not None and current.status == Status.STOPPED and current.backend_id == session.backend_id:
                    await self._recreate(current, why)
                return
            await asyncio.sleep(2)

    async def _recreate(self, session: Session, why: str) -> None:
        """A sandbox that went with a reboot or daemon restart comes back on the same worktree and agent
        home, the agent resuming its conversation; the session says so while it happens."""
        log.warning("recreating %s: %s while it ran", session.name, why)
        await self.update(session.id, progress=session.progress.model_copy(
            update={"message": f"recreating: {why} while it ran"}))
        try:
            await self.lifecycle.restart(session.id)
        except ClauderonError as exc:
            log.warning("could not recreate %s: %s", session.name, exc)
            return
        session = self.store.get(session.id)
        await self.update(session.id, progress=session.progress.model_copy(update={"message": ""}),
                          error=None)
        log.info("recreated %s after %s", session.name, why)

    async def _backend_status(self, session: Session) -> Status:
        """The sandbox's state; raises (status `UNREACHABLE`) when the backend cannot be asked."""
        if not session.backend_id or session.backend not in self.backends:
            return Status.FAILED
        try:
            return await self.backends[session.backend].status(session.backend_id)
        except ClauderonError as exc:
            if exc.status == UNREACHABLE:
                raise
            return Status.FAILED

    # ------------------------------------------------------------------ lookups
    def backend(self, session: Session) -> Backend:
        try:
            return self.backends[session.backend]
        except KeyError:
            raise ClauderonError(f"backend {session.backend!r} is not available in this engine") from None

    def session(self, ref: str) -> Session:
        return self.store.get(ref)

    def lock_for(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    def publish(self, session: Session) -> None:
        self.events.publish({"type": "session", "session": session.public()})

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` (store I/O: a read-modify-write, flock and fsync) on the store's writer thread, one at
        a time in order, never on the loop the terminals share. Its errors (a full disk) reach the caller."""
        return await asyncio.get_running_loop().run_in_executor(self.store.writer, fn, *args)

    async def save(self, session: Session) -> Session:
        """Persist and announce a changed session."""
        await self.write(self.store.put, session)
        self.publish(session)
        return session

    async def update(self, session_id: str, **changes: Any) -> Session:
        """Change fields of a stored session and announce it (NotFound when it is gone)."""
        session = await self._change(session_id, changes, always=True)
        assert session is not None
        return session

    async def apply(self, session_id: str, **changes: Any) -> Session | None:
        """`update` for the changes that come often (agent status from hooks, what a branch sync saw): a
        change that changes nothing is neither written nor announced; None when the session is gone."""
        return await self._change(session_id, changes, always=False)

    async def _change(self, session_id: str, changes: dict[str, Any], *, always: bool) -> Session | None:
        def write() -> tuple[Any, Session] | None:
            with self.store.transaction():
                current = self.store.get(session_id) if always else self.store.find(session_id)
                if current is None or (not always and all(getattr(current, k, None) == v for k, v in changes.items())):
                    return None
                return current.agent_status, self.store.update(session_id, **changes)

        done = await self.write(write)
        if done is None:
            return None
        before, session = done
        self.publish(session)
        if "agent_status" in changes:
            self.branches.after_update(before, session)  # a turn that ended brings its commits back
        return session

    # ------------------------------------------------------------------ terminal streams
    def stream(self, ref: str) -> TerminalStream:
        session = self.session(ref)
        stream = self.streams.get(session.id)
        if stream is None:
            raise Conflict(f"session {session.name} is {session.status}; its terminal is not live (`clauderon restart {session.name}`)")
        return stream

    async def start_stream(self, session: Session, prefill: bytes = b"", *, fresh: bool = False) -> TerminalStream:
        """Attach and pump. `fresh` (a just-started sandbox) replays its output from the start;
        otherwise `prefill` (recent output recovered after an engine restart) seeds the screen."""
        attachment = await self.backend(session).attach(session.backend_id or "", replay=fresh)
        stream = self.streams.get(session.id)
        if stream is None:
            stream = TerminalStream(
                session.id, scrollback=self.settings.engine.scrollback_lines,
                ring_bytes=self.settings.engine.ring_buffer_bytes,
            )
            self.streams[session.id] = stream
        self._pumps[session.id] = asyncio.ensure_future(self._pump(session.id, stream, attachment, prefill))
        return stream

    def follow_agent(self, session: Session) -> None:
        """Once a session runs: an agent with no hook for a turn starting (`Agent.follows_turns`, Codex) is
        followed through its transcript (one follower per session; it ends by itself when the session stops)."""
        task = self._turn_watchers.get(session.id)
        if agent_named(session.agent).follows_turns and (task is None or task.done()):
            self._turn_watchers[session.id] = self.spawn(watch_transcript_turns(self, session.id))

    async def _pump(self, session_id: str, stream: TerminalStream, attachment: Any, prefill: bytes) -> None:
        try:
            await stream.run(attachment, prefill=prefill)
        except asyncio.CancelledError:
            await attachment.close()
            raise
        except Exception:  # a broken attach must not take the engine down
            log.exception("terminal stream for %s failed", session_id)
        if self._pumps.get(session_id) is not asyncio.current_task():
            return
        self._pumps.pop(session_id, None)
        session = self.store.find(session_id)
        if session is None or session.status != Status.RUNNING:
            return
        try:
            status = await self._backend_status(session)
        except ClauderonError as exc:  # the daemon went away: the session is as it was, the engine waits
            return await self._backend_lost(session.backend, exc.message)
        if status != Status.RUNNING:
            await self.update(session_id, status=Status.STOPPED, agent_status=AgentStatus.EXITED, agent_detail=None)
            await self._release(session)
            if self.settings.engine.recreate_missing:
                self.spawn(self._watch_for_restart(session, time.time()))
        else:
            # Attach dropped but the program lives (daemon restart, network): attach again shortly.
            await asyncio.sleep(1)
            if session_id not in self._pumps:
                await self.start_stream(session)

    async def stop_stream(self, session_id: str) -> None:
        task = self._pumps.pop(session_id, None)
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    def drop_stream(self, session_id: str) -> None:
        """Forget a session's terminal for good (archive, delete): its viewers are told it ended."""
        stream = self.streams.pop(session_id, None)
        if stream is not None:
            stream.close_viewers()

    # ------------------------------------------------------------------ health
    async def health(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._health_cache is None or now - self._health_cache[0] > HEALTH_TTL_S:
            backends = {}
            for name, backend in self.backends.items():
                ok, reason = await backend.available()
                backends[name] = {"available": ok, "reason": reason, "sandboxed": backend.sandboxed}
            self._health_cache = (now, backends)
        return {
            "engine": {"pid": os.getpid(), "home": str(self.home.root), "version": __version__,
                       "started_at": self.started_at, "sessions": len(self.store.sessions())},
            "proxy": self.egress.health(),
            "backends": self._health_cache[1],
            "disk": disk_report(self.home.root, self.settings.engine.min_free_space),
        }

    def forget_health(self) -> None:
        self._health_cache = None

    def require_known(self, ref: str) -> Session:
        session = self.store.find(ref)
        if session is None:
            raise NotFound(f"no session named {ref!r}; `clauderon list --all` shows them")
        return session
