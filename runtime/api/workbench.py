"""Engine API routes behind the app's workbench tabs: a session's files, its diff, and its container info.

Files are read on the engine's host where the worktree is, confined to it (see `workbench_files`);
host git runs only through `gitsafe` and only on the user's repository or a linked worktree of it.
Where the session's git lives in its sandbox, git runs there, through the backend's exec, with the
same answers (`runtime/workbench/pod.py`): pods (`copies_workspace`, files too) and Docker sessions with a
repository of their own (status and diff; a stopped one shows its branch as last brought back).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy import read_audit
from runtime.api.http import API
from runtime.engine.core import Engine
from runtime.errors import ClauderonError
from runtime.git.worktrees import WorktreeInfo
from runtime.models import Session, Status
from runtime.workbench import pod as workbench_pod
from runtime.workbench.diff import imported_diff, session_diff, status_porcelain
from runtime.workbench.files import PAGE_BYTES, list_directory, marks_for, read_page, status_marks
from runtime.workbench.stats import container_facts

log = logging.getLogger(__name__)

AUDIT_TAIL = 20
"""Audit lines the info route returns."""


def _int(value: str | None, default: int, what: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ClauderonError(f"{what} must be a whole number") from None


class WorkbenchRoutes:
    """The files, file, diff and info routes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(API + "/sessions/{ref}/files", self.files),
            web.get(API + "/sessions/{ref}/file", self.file),
            web.get(API + "/sessions/{ref}/diff", self.diff),
            web.get(API + "/sessions/{ref}/info", self.info),
        ]

    def worktree_of(self, session: Session) -> WorktreeInfo:
        """The session's worktree on this host (404 when it is gone)."""
        info = self.engine.worktrees.info(session.repo_path, session.name, session.base_branch, session.subdir,
                                          session.branch, session.own_repository)
        if not info.worktree_path.is_dir():
            raise ClauderonError(f"the worktree of {session.name} ({info.worktree_path}) is gone", status=404)
        return info

    def sandbox_of(self, session: Session) -> workbench_pod.Pod | None:
        """An exec handle into the session's sandbox when its git lives there and it runs, else None."""
        backend = workbench_pod.pod_backend(self.engine.backend, session)
        if backend is None and session.own_repository and session.backend_id and session.status == Status.RUNNING:
            backend = self.engine.backend(session)
        return workbench_pod.Pod(backend, session.backend_id, asyncio.get_running_loop()) if backend else None

    def listing(self, session: Session, path: str, sandbox: workbench_pod.Pod | None) -> dict[str, object]:
        """A directory of the host worktree, marked with git status (blocking)."""
        info = self.worktree_of(session)
        rel, entries, left_out = list_directory(info.worktree_path, path)
        try:
            if sandbox is not None:
                marks = status_marks(sandbox.run(workbench_pod.STATUS).stdout)
            else:
                marks = {} if info.own_repository else status_marks(status_porcelain(info))
        except ClauderonError:  # a broken repository still lists its files, unmarked
            marks = {}
        return {"path": rel, "entries": marks_for(rel, entries, marks), "left_out": left_out}

    async def fresh_branch(self, session: Session) -> None:
        try:
            await self.engine.branches.sync(session)
        except ClauderonError as exc:  # the diff still shows what the sandbox has
            log.warning("diff of %s: %s", session.name, exc)

    async def files(self, request: web.Request) -> web.Response:
        session = self.engine.require_known(request.match_info["ref"])
        path = request.query.get("path", "")
        sandbox = self.sandbox_of(session)
        if sandbox is not None and not session.own_repository:  # the files live in the pod
            return web.json_response(await asyncio.to_thread(workbench_pod.listing, sandbox, path))
        return web.json_response(await asyncio.to_thread(self.listing, session, path, sandbox))

    async def file(self, request: web.Request) -> web.Response:
        session = self.engine.require_known(request.match_info["ref"])
        path = request.query.get("path", "")
        offset = _int(request.query.get("offset"), 0, "offset")
        limit = _int(request.query.get("limit"), PAGE_BYTES, "limit")
        if (backend := workbench_pod.pod_backend(self.engine.backend, session)) is not None:
            pod = workbench_pod.Pod(backend, session.backend_id, asyncio.get_running_loop())
            return web.json_response(await asyncio.to_thread(workbench_pod.read_page, pod, path, offset, limit))
        root = Path(session.worktree_path)
        return web.json_response(await asyncio.to_thread(read_page, root, path, offset, limit))

    async def diff(self, request: web.Request) -> web.Response:
        engine = self.engine
        session = engine.require_known(request.match_info["ref"])
        await self.fresh_branch(session)
        sandbox = self.sandbox_of(session)
        user_repo = await asyncio.to_thread(engine.worktrees.repo_context, session.repo_path)
        worktree_of = self.worktree_of
        if sandbox is not None:
            return web.json_response(await asyncio.to_thread(
                lambda: workbench_pod.session_diff(sandbox, worktree_of(session), user_repo)))
        if session.own_repository:  # stopped: the branch as last brought back, and what was left uncommitted
            return web.json_response(await asyncio.to_thread(
                lambda: imported_diff(user_repo, worktree_of(session), engine.store.get(session.id).sandbox_changes)))
        return web.json_response(await asyncio.to_thread(lambda: session_diff(worktree_of(session))))

    async def info(self, request: web.Request) -> web.Response:
        engine = self.engine
        session = engine.require_known(request.match_info["ref"])
        sample = request.query.get("stats", "1") not in ("0", "false")
        facts: dict[str, Any]
        try:
            backend = engine.backend(session)
        except ClauderonError as exc:
            facts = {"container": None, "stats": None, "reason": exc.message}
        else:
            facts = await container_facts(backend, session.backend_id, sample=sample)
        audit = await asyncio.to_thread(read_audit, engine.home, session.id, AUDIT_TAIL)
        return web.json_response({"session": session.public(), **facts, "audit": audit})
