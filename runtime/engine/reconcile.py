"""Keeping the store true to what the backends run: adopting this home's sandboxes at start, following
a session whose attachment ended, waiting out an unreachable backend, and recreating a sandbox that went
with a daemon restart or a reboot."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from runtime.backends.base import LABEL_RECORD, Found
from runtime.engine.backend_set import BackendSet
from runtime.engine.egress import Egress
from runtime.engine.health import EngineHealth
from runtime.engine.lifecycle import Lifecycle
from runtime.engine.records import SessionRecords
from runtime.engine.streams import TerminalStreams
from runtime.engine.tasks import BackgroundTasks
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.models import AgentStatus, Session, Status
from runtime.settings import EngineSettings
from runtime.store import VOLATILE

log = logging.getLogger(__name__)

SEEN_KEY = "engine_seen_at"
HEARTBEAT_SECONDS = 60.0
RESTART_WINDOW = 120.0
"""How long after a sandbox stops a restart of its daemon still counts as what stopped it."""
UNREACHABLE = 503
"""The status a backend's error carries when the backend itself cannot be reached (not the sandbox)."""
RECENT_OUTPUT_BYTES = 256 * 1024


@dataclass(frozen=True)
class ReconcileAction:
    """One thing a reconciliation did: to a session (`subject` is its name), a sandbox or a backend."""

    subject: str
    action: str
    """adopted, removed, recreating, stopped, failed, reattached or unreachable."""
    detail: str

    def public(self) -> dict[str, Any]:
        return asdict(self)


class Reconciler:
    """Tracks every session's sandbox for the engine (one per engine)."""

    def __init__(self, home: Home, settings: EngineSettings, records: SessionRecords, backends: BackendSet,
                 egress: Egress, streams: TerminalStreams, lifecycle: Lifecycle, tasks: BackgroundTasks,
                 health: EngineHealth, follow_agent: Callable[[Session], None]) -> None:
        self.home = home
        self.settings = settings
        self.records = records
        self.store = records.store
        self.backends = backends
        self.egress = egress
        self.streams = streams
        self.lifecycle = lifecycle
        self.tasks = tasks
        self.health = health
        self.follow_agent = follow_agent
        self._reachable_waits: dict[str, asyncio.Task[None]] = {}  # backend -> the task waiting for it
        self._last_seen = 0.0
        """When this engine last knew its running sessions' sandboxes to be running (`lost_in_restart`)."""
        self._report: list[ReconcileAction] | None = None
        self._on_demand = asyncio.Lock()
        streams.when_ended(self.stream_ended)

    async def start(self) -> None:
        """Reconcile the store with what the backends run, then note now and then that this engine watches."""
        self._last_seen = self.store.get_meta(SEEN_KEY, 0.0)  # the previous engine's last look
        await self._reconcile()
        self._last_seen = time.time()  # from here on this engine watches: a daemon start after it is a restart
        self.tasks.spawn(self._heartbeat())

    async def reconcile_now(self) -> list[ReconcileAction]:
        """The start-up reconciliation, run again on demand (`clauderon reconcile`): what it did, in order.
        Creates under way in this engine are left to finish."""
        async with self._on_demand:
            self._report = []
            try:
                await self._reconcile()
                return self._report
            finally:
                self._report = None

    def _note(self, subject: str, action: str, detail: str) -> None:
        if self._report is not None:
            self._report.append(ReconcileAction(subject, action, detail))

    async def _heartbeat(self) -> None:
        """Note, now and then, that this engine saw its sessions running: a sandbox that was running then
        and is gone at the next start, with its daemon restarted since, went with the restart."""
        while True:
            await self.records.write(self.store.set_meta, SEEN_KEY, time.time())
            await asyncio.sleep(HEARTBEAT_SECONDS)

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
                self._note(item.backend_id, "removed", f"the {name} sandbox of a deleted session")
                continue
            adopted = self._readopt(known.get(item.session_id), item, name)
            if adopted is not None:
                known[adopted.id] = await self.records.write(self.store.put, adopted)
                self._note(adopted.name, "adopted", f"{name} {item.backend_id}, which the store did not track")
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
                await self.backends.of(session).release(session.backend_id)
            except ClauderonError as exc:
                log.warning("could not release what the stopped sandbox of %s held: %s", session.name, exc)

    async def _backend_lost(self, name: str, reason: str) -> None:
        """Keep the backend's running sessions reachable through the proxy (their sandboxes may well be
        running) and wait, in one task per backend, for it to answer again."""
        self._note(name, "unreachable", f"{reason}; its sessions are kept as they were, and it is retried")
        waiting = self._reachable_waits.get(name)
        if waiting is not None and not waiting.done():
            return
        log.warning("%s is unreachable (%s); keeping its sessions and retrying", name, reason)
        for session in self.store.sessions():
            if session.backend == name and session.status == Status.RUNNING:
                await self._serve_proxy_path(session)
        self.health.forget()
        self._reachable_waits[name] = self.tasks.spawn(self._when_reachable(name))

    async def _when_reachable(self, name: str, *, first: float = 1.0, longest: float = 15.0) -> None:
        """Retry an unreachable backend (backing off) and reconcile it once it answers."""
        delay = first
        while not (await self.backends[name].available())[0]:
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
        log.warning("%s is reachable again; re-adopting its sessions", name)
        self.health.forget()
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
        session = record or _record_from_label(item.labels)
        if session is None:
            log.warning("%s %s carries this home's label but no record; leaving it alone", backend, item.backend_id)
            return None
        if record is None:
            session.error = (f"re-adopted from its {backend} label alone (no record file): its proxy credentials "
                             f"are unknown, so `clauderon restart {session.name}` before using it")
        log.warning("re-adopting session %s (%s %s) that the store did not know", session.name, backend,
                    item.backend_id)
        session.backend, session.backend_id, session.status = backend, item.backend_id, Status.RUNNING
        return session

    async def _resume_tracking(self, session: Session) -> None:
        if session.status == Status.CREATING:
            if self.lifecycle.is_creating(session.id):
                return
            # The engine died mid-create: adopt what got as far as running, else mark it failed.
            if session.backend_id and await self._backend_status(session) == Status.RUNNING:
                session = await self.records.update(
                    session.id, status=Status.RUNNING, progress=session.progress.model_copy(update={"message": ""}))
                self._note(session.name, "adopted", "its create was interrupted after its sandbox started")
            else:
                await self.lifecycle.discard_interrupted(session)
                await self.records.update(session.id, status=Status.FAILED, backend_id=None,
                                          error="the engine stopped while this session was being created; what it "
                                                "had made was removed: create it again")
                self._note(session.name, "failed", "its create was interrupted; what it had made was removed")
                return
        if session.status != Status.RUNNING:
            return
        status = await self._backend_status(session)
        if status != Status.RUNNING:
            why = await self._lost_in_restart(session)
            if why:
                self._note(session.name, "recreating", f"{why} while it ran")
                self.tasks.spawn(self._recreate(session, why))
                return
            gone = None if status == Status.STOPPED else (
                f"its sandbox is gone; `clauderon restart {session.name}` makes a new one on the same worktree")
            await self.records.update(session.id, status=status, agent_status=AgentStatus.EXITED, agent_detail=None,
                                      error=gone or session.error)
            self._note(session.name, status.value, gone or "its sandbox has stopped")
            await self._release(session)
            return
        await self._serve_proxy_path(session)
        if self.streams.is_pumping(session.id):  # already live (re-adoption after the backend came back)
            return
        prefill = b""
        try:
            prefill = await self.backends.of(session).recent_output(session.backend_id or "", RECENT_OUTPUT_BYTES)
        except ClauderonError as exc:
            log.warning("no recent output for %s: %s", session.name, exc)
        await self.streams.start(session, prefill=prefill)
        self._note(session.name, "reattached", "its terminal is followed again")
        self.follow_agent(session)

    async def _lost_in_restart(self, session: Session) -> str | None:
        if not self.settings.recreate_missing or not session.backend_id:
            return None
        try:
            return await self.backends.of(session).lost_in_restart(session.backend_id, self._last_seen)
        except ClauderonError as exc:
            log.warning("cannot tell whether %s's sandbox went with a restart: %s", session.name, exc)
            return None

    async def stream_ended(self, session_id: str) -> None:
        """An attachment ended by itself: the sandbox stopped (the session says so), the daemon went away
        (the engine waits for it), or only the attachment dropped (attach again shortly)."""
        session = self.store.find(session_id)
        if session is None or session.status != Status.RUNNING:
            return
        try:
            status = await self._backend_status(session)
        except ClauderonError as exc:  # the daemon went away: the session is as it was, the engine waits
            return await self._backend_lost(session.backend, exc.message)
        if status != Status.RUNNING:
            await self.records.update(session_id, status=Status.STOPPED, agent_status=AgentStatus.EXITED,
                                      agent_detail=None)
            await self._release(session)
            if self.settings.recreate_missing:
                self.tasks.spawn(self._watch_for_restart(session, time.time()))
        else:
            # Attach dropped but the program lives (daemon restart, network): attach again shortly.
            await asyncio.sleep(1)
            if not self.streams.is_attached(session_id):
                await self.streams.start(session)

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
                if (current is not None and current.status == Status.STOPPED
                        and current.backend_id == session.backend_id):
                    await self._recreate(current, why)
                return
            await asyncio.sleep(2)

    async def _recreate(self, session: Session, why: str) -> None:
        """A sandbox that went with a reboot or daemon restart comes back on the same worktree and agent
        home, the agent resuming its conversation; the session says so while it happens."""
        log.warning("recreating %s: %s while it ran", session.name, why)
        await self.records.update(session.id, progress=session.progress.model_copy(
            update={"message": f"recreating: {why} while it ran"}))
        try:
            await self.lifecycle.restart(session.id)
        except ClauderonError as exc:
            log.warning("could not recreate %s: %s", session.name, exc)
            return
        session = self.store.get(session.id)
        await self.records.update(session.id, progress=session.progress.model_copy(update={"message": ""}),
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


def _record_from_label(labels: dict[str, str]) -> Session | None:
    """The create-time record a sandbox's label carries, when it parses."""
    try:
        return Session.model_validate(json.loads(labels.get(LABEL_RECORD) or ""))
    except (ValueError, TypeError):
        return None
