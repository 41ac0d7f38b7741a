"""Engine API routes behind the app's workbench tabs: a session's files, its diff, and its container info.

They read the worktree on the engine's host, so they work for every backend; nothing outside the
worktree is reachable (see `workbench_files`), and git runs only through `gitsafe`.
Sessions whose work lives in the sandbox (`copies_workspace`: pods) are read in the pod instead,
through the backend's exec, with the same answers (`workbench_pod`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from .api_server import API
from .errors import ClauderonError
from .models import Session
from .workbench_diff import session_diff, status_porcelain
from .workbench_files import PAGE_BYTES, list_directory, marks_for, read_page, status_marks
from .workbench_stats import container_facts
from .worktrees import WorktreeInfo
from . import workbench_pod

if TYPE_CHECKING:
    from .api_server import ApiServer

AUDIT_TAIL = 20
"""Audit lines the info route returns."""


def _int(value: str | None, default: int, what: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ClauderonError(f"{what} must be a whole number") from None


def add_workbench_routes(server: "ApiServer") -> None:
    """Register the files, file, diff and info routes on the server's app."""
    engine = server.engine
    routes = web.RouteTableDef()

    def worktree_of(session: Session) -> WorktreeInfo:
        info = engine.worktrees.info(session.repo_path, session.name, session.base_branch, session.subdir,
                                     session.branch)
        if not info.worktree_path.is_dir():
            raise ClauderonError(f"the worktree of {session.name} ({info.worktree_path}) is gone", status=404)
        return info

    def listing(session: Session, path: str) -> dict[str, object]:
        info = worktree_of(session)
        rel, entries, left_out = list_directory(info.worktree_path, path)
        try:
            marks = status_marks(status_porcelain(info))
        except ClauderonError:  # a broken repository still lists its files, unmarked
            marks = {}
        return {"path": rel, "entries": marks_for(rel, entries, marks), "left_out": left_out}

    @routes.get(API + "/sessions/{ref}/files")
    async def files(request: web.Request) -> web.Response:
        session = engine.require_known(request.match_info["ref"])
        path = request.query.get("path", "")
        if (backend := workbench_pod.pod_backend(engine, session)) is not None:  # the work lives in the pod
            pod = workbench_pod.Pod(backend, session.backend_id, asyncio.get_running_loop())
            return web.json_response(await asyncio.to_thread(workbench_pod.listing, pod, path))
        return web.json_response(await asyncio.to_thread(listing, session, path))

    @routes.get(API + "/sessions/{ref}/file")
    async def file(request: web.Request) -> web.Response:
        session = engine.require_known(request.match_info["ref"])
        path = request.query.get("path", "")
        offset = _int(request.query.get("offset"), 0, "offset")
        limit = _int(request.query.get("limit"), PAGE_BYTES, "limit")
        if (backend := workbench_pod.pod_backend(engine, session)) is not None:
            pod = workbench_pod.Pod(backend, session.backend_id, asyncio.get_running_loop())
            return web.json_response(await asyncio.to_thread(workbench_pod.read_page, pod, path, offset, limit))
        root = Path(session.worktree_path)
        return web.json_response(await asyncio.to_thread(read_page, root, path, offset, limit))

    @routes.get(API + "/sessions/{ref}/diff")
    async def diff(request: web.Request) -> web.Response:
        session = engine.require_known(request.match_info["ref"])
        if (backend := workbench_pod.pod_backend(engine, session)) is not None:
            pod = workbench_pod.Pod(backend, session.backend_id, asyncio.get_running_loop())
            return web.json_response(await asyncio.to_thread(
                lambda: workbench_pod.session_diff(pod, worktree_of(session))))
        return web.json_response(await asyncio.to_thread(lambda: session_diff(worktree_of(session))))

    @routes.get(API + "/sessions/{ref}/info")
    async def info(request: web.Request) -> web.Response:
        from proxy import read_audit

        session = engine.require_known(request.match_info["ref"])
        sample = request.query.get("stats", "1") not in ("0", "false")
        try:
            backend = engine.backend(session)
        except ClauderonError as exc:
            facts = {"container": None, "stats": None, "reason": exc.message}
        else:
            facts = await container_facts(backend, session.backend_id, sample=sample)
        audit = await asyncio.to_thread(read_audit, engine.home, session.id, AUDIT_TAIL)
        return web.json_response({"session": session.public(), **facts, "audit": audit})

    server.app.add_routes(routes)
