"""Bringing each sandboxed session's commits back to the user's repository, by themselves.

A session with a repository of its own (`session_repo`) commits inside its sandbox. `BranchSync` takes
its branch out as a bundle (made inside the sandbox by exec) and imports it into the user's repository
as `clauderon/<name>`: when an agent's turn ends, every `INTERVAL` while it works, before anything
reads or lands the branch (diff, push, PR, merge), on archive and delete, and on `clauderon pull`.
Calls for one session are coalesced: at most one import runs and one waits, which every caller that
arrives meanwhile shares. Each import also records what the sandbox holds beyond its commits (the
uncommitted and ignored paths), so a stopped session can still say what it had and `delete` can refuse
to lose it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from runtime.backends.base import ExecResult
from runtime.engine.backend_set import BackendSet
from runtime.engine.records import SessionRecords
from runtime.engine.tasks import BackgroundTasks
from runtime.errors import ClauderonError, Conflict
from runtime.git.safety import GitContext, porcelain_entries
from runtime.git.session_repo import SANDBOX_GIT as GIT
from runtime.git.session_repo import Imported, import_bundle
from runtime.git.worktrees import WorktreeManager, ignored_is_work
from runtime.models import AgentStatus, Session, Status
from runtime.workbench.diff import change_summary

log = logging.getLogger(__name__)

INTERVAL = 30.0
"""How often a working session's branch is brought back (the settled bound is 60 s of staleness)."""
SANDBOX_GIT_SECONDS = 30.0
"""The longest one git command in the sandbox may take for an import (one the agent made hang is killed)."""
RETRY_AFTER = 300.0
"""Seconds the timer leaves a session alone after its import failed."""
MAX_LISTED = 1000
"""Paths of each kind kept in a session's summary (a delete names the first ten and counts the rest)."""
TURN_ENDS = frozenset({AgentStatus.IDLE, AgentStatus.WAITING_INPUT, AgentStatus.EXITED})
# In the sandbox: what is not committed, one path per entry; ignored directories come collapsed.
STATUS = [*GIT, "status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignored=matching",
          "--ignore-submodules=all"]


@dataclass
class _Queue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: asyncio.Future[Imported | None] | None = None


@runtime_checkable
class SandboxRepository(Protocol):
    """What `BranchSync` asks of a backend whose sandbox holds a repository of its own."""

    async def exec(self, backend_id: str, argv: list[str], *, timeout: float = ...) -> ExecResult:
        """Run `argv` in the sandbox (no TTY)."""
        ...

    async def fetch_bundle(self, backend_id: str, branch: str, *, known: str | None = None) -> bytes:
        """A git bundle of `branch` from the sandbox, leaving out what `known` already holds."""
        ...


class BranchSync:
    """The engine's importer of sandboxed sessions' branches (one per engine)."""

    def __init__(self, records: SessionRecords, backends: BackendSet, worktrees: WorktreeManager,
                 tasks: BackgroundTasks) -> None:
        self.records = records
        self.backends = backends
        self.worktrees = worktrees
        self.tasks = tasks
        self._queues: dict[str, _Queue] = {}

    def start(self) -> None:
        self.tasks.spawn(self._every_interval())

    @staticmethod
    def applies(session: Session) -> bool:
        return session.own_repository

    async def sync(self, session: Session) -> Imported | None:
        """Bring the branch back now (sharing an import already waiting); None when the session has no
        running sandbox to take it from. Raises `ClauderonError` with one line when it cannot."""
        if not self.applies(session):
            return None
        queue = self._queues.setdefault(session.id, _Queue())
        if queue.waiting is None:
            queue.waiting = asyncio.ensure_future(self._next_turn(queue, session.id))
        return await asyncio.shield(queue.waiting)

    def forget(self, session_id: str) -> None:
        """A deleted session's queue goes with it."""
        self._queues.pop(session_id, None)

    def schedule(self, session: Session) -> None:
        """Sync in the background (a turn ended); a failure is logged and recorded on the session."""
        if self.applies(session):
            self.tasks.spawn(self._quietly(session))

    async def _quietly(self, session: Session) -> None:
        try:
            await self.sync(session)
        except ClauderonError as exc:
            log.warning("session %s: %s", session.name, exc)

    async def _next_turn(self, queue: _Queue, session_id: str) -> Imported | None:
        async with queue.lock:  # the import before this one finishes first
            queue.waiting = None  # callers from now on queue the one after
            return await self._import(session_id)

    async def _import(self, session_id: str) -> Imported | None:
        session = self.records.store.find(session_id)
        if session is None or not session.backend_id or session.status != Status.RUNNING:
            return None
        backend_id = session.backend_id
        backend = self.backends.of(session)
        repo = await asyncio.to_thread(self.worktrees.repo_context, session.repo_path)
        ref = f"refs/heads/{session.branch}"
        known = (await asyncio.to_thread(repo.run, ["rev-parse", "--verify", "--quiet", ref],
                                         check=False)).stdout.strip()
        try:
            if not isinstance(backend, SandboxRepository):  # only a sandbox with its own repository is synced
                raise ClauderonError(f"the {backend.name} backend cannot hand a branch back")
            tip = await self._sandbox_tip(backend, backend_id, session)
            if tip == known:  # nothing new: no bundle (an empty one is refused, a full one is waste)
                imported = Imported(session.branch, tip, None)
            else:
                data = await backend.fetch_bundle(backend_id, session.branch, known=known or None)
                imported = await asyncio.to_thread(import_bundle, repo, session.name, session.branch, data)
            changes = await self._changes(backend, backend_id)
            changes["committed"] = await asyncio.to_thread(self._summary, repo, session)
        except ClauderonError as exc:
            message = f"cannot bring {session.branch} back from the sandbox: {exc.message}"
            await self._record(session_id, error=message)
            raise ClauderonError(message) from None
        await self._record(session_id, tip=imported.tip, **changes)
        if imported.previous != imported.tip:
            log.info("session %s: %s is now %s", session.name, session.branch, imported.tip[:12])
        return imported

    @staticmethod
    async def _sandbox_tip(backend: SandboxRepository, backend_id: str, session: Session) -> str:
        result = await backend.exec(backend_id, [*GIT, "rev-parse", "--verify", f"refs/heads/{session.branch}"],
                                    timeout=SANDBOX_GIT_SECONDS)
        tip = result.stdout.decode(errors="replace").strip()
        if result.exit_code != 0 or not tip:
            raise ClauderonError(f"the sandbox has no branch {session.branch} any more")
        return tip

    @staticmethod
    def _summary(repo: GitContext, session: Session) -> dict[str, int] | None:
        """The branch's changes against its base as the session list shows them; None when the base is gone."""
        try:
            return change_summary(repo, session.base_branch, session.branch)
        except ClauderonError as exc:
            log.info("session %s: no change summary: %s", session.name, exc)
            return None

    async def _changes(self, backend: SandboxRepository, backend_id: str) -> dict[str, Any]:
        """The uncommitted and the ignored paths in the sandbox (at most `MAX_LISTED` of each)."""
        result = await backend.exec(backend_id, STATUS, timeout=SANDBOX_GIT_SECONDS)
        if result.exit_code != 0:  # what the sandbox holds is unknown: nothing may count it as nothing
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise ClauderonError(f"git status failed in the sandbox: {lines[-1] if lines else 'no output'}")
        uncommitted: list[str] = []
        ignored: list[str] = []
        for code, path in porcelain_entries(result.stdout.decode("utf-8", errors="replace")):
            listed = ignored if code == "!!" else uncommitted
            if len(listed) < MAX_LISTED:
                listed.append(path)
        return {"uncommitted": uncommitted, "ignored": ignored}

    async def _record(self, session_id: str, **summary: Any) -> None:
        """Keep what this import saw on the session (`sandbox_changes`), with when."""
        await self.records.apply(session_id, sandbox_changes={"taken_at": time.time(), **summary})

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            for session in self.records.store.sessions():
                if (self.applies(session) and session.status == Status.RUNNING
                        and session.agent_status not in TURN_ENDS and not self._failed_lately(session)):
                    await self._quietly(session)

    @staticmethod
    def _failed_lately(session: Session) -> bool:
        """A sandbox whose last import failed is not retried by the timer for `RETRY_AFTER` (a turn's end
        and every explicit call still try): its failure may cost a full time bound each try."""
        last = session.sandbox_changes or {}
        return bool(last.get("error")) and time.time() - last.get("taken_at", 0) < RETRY_AFTER

    def after_update(self, before: AgentStatus, session: Session) -> None:
        """Called for every stored change: a turn that just ended brings the branch back."""
        if session.agent_status in TURN_ENDS and before not in TURN_ENDS:
            self.schedule(session)


def unsaved_work(session: Session, disposable: Sequence[str]) -> list[str]:
    """What `delete` would lose, from the last look inside the sandbox: uncommitted paths, and ignored
    paths that `.worktreeinclude` did not copy in. Raises `Conflict` when there was no good look at a
    sandbox that ran (its work is unknown, so it cannot be called nothing)."""
    changes = session.sandbox_changes or {}
    if session.status != Status.FAILED and (not changes or changes.get("error")):
        raise Conflict(f"clauderon could not look inside the sandbox of {session.name} "
                       f"({changes.get('error') or 'it never did'}); restart it so its work can be checked, or "
                       f"`clauderon delete {session.name} --force` to discard whatever it holds")
    ignored = [p for p in changes.get("ignored", []) if ignored_is_work(p, session.included_paths, disposable)]
    return [*changes.get("uncommitted", []), *ignored]


__all__ = ["BranchSync", "INTERVAL", "unsaved_work"]
