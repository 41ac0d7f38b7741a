"""The engine API's route table: one class per resource, each built with what it needs, and `route_table`,
the one place that lists every route in registration order. Every route that names a session accepts its
id or its name (documented in docs/api.md)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from aiohttp import WSMsgType, web

from proxy import read_audit
from runtime.api.http import API, OpenSockets, cancel_quietly, flag, read_json
from runtime.api.images import ImageRoutes
from runtime.api.transcript import TranscriptRoutes
from runtime.api.workbench import WorkbenchRoutes
from runtime.engine.agent_mode import cycle_permission_mode
from runtime.engine.core import Engine
from runtime.errors import ClauderonError
from runtime.models import Session
from runtime.names import suggest_name
from runtime.requests import CreateRequest
from runtime.terminal import ChunkKind

log = logging.getLogger(__name__)

# Console websocket: bytes frames carry terminal bytes both ways, text frames carry JSON control messages.
MAX_CONSOLE_COLS, MAX_CONSOLE_ROWS = 1000, 500
MERGE_METHODS = ("merge", "squash", "rebase")


def bounded_int(value: str | None, default: int, limit: int, what: str) -> int:
    """A whole number from 2 to `limit` (`default` when absent); anything else is refused in one line."""
    if value is None:
        return default
    try:
        size = int(value)
    except ValueError:
        raise ClauderonError(f"{what} must be a whole number") from None
    if not 2 <= size <= limit:
        raise ClauderonError(f"{what} must be between 2 and {limit}")
    return size


def session_json(session: Session) -> web.Response:
    return web.json_response(session.public())


class EngineRoutes:
    """The engine itself: health, credentials, audit, the event stream and stopping it."""

    def __init__(self, engine: Engine, sockets: OpenSockets, on_stop_request: Callable[[], None] | None) -> None:
        self.engine = engine
        self.sockets = sockets
        self.on_stop_request = on_stop_request

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{API}/health", self.health),
            web.get(f"{API}/credentials", self.credentials),
            web.get(f"{API}/audit", self.audit),
            web.post(f"{API}/engine/stop", self.stop),
            web.post(f"{API}/reconcile", self.reconcile),
            web.get("/ws/v1/events", self.events),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(await self.engine.health())

    async def credentials(self, request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.engine.egress.service.credentials_report))

    async def audit(self, request: web.Request) -> web.Response:
        ref = request.query.get("session")
        session_id = self.engine.require_known(ref).id if ref else None
        limit = bounded_int(request.query.get("limit"), 100, 100_000, "limit")
        return web.json_response(await asyncio.to_thread(read_audit, self.engine.home, session_id, limit))

    async def stop(self, request: web.Request) -> web.Response:
        if self.on_stop_request is None:
            raise ClauderonError("this engine is hosted by an app; quit the app to stop it", status=409)
        asyncio.get_running_loop().call_soon(self.on_stop_request)
        return web.json_response({"ok": True})

    async def reconcile(self, request: web.Request) -> web.Response:
        actions = await self.engine.reconciler.reconcile_now()
        return web.json_response({"actions": [a.public() for a in actions]})

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        """A snapshot of the sessions (and the uploads of the last minutes) and the health, then every engine
        event until either side closes."""
        engine = self.engine
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.track(ws)
        queue = engine.events.subscribe()
        try:
            await ws.send_json({"type": "snapshot", "sessions": [s.public() for s in engine.store.sessions()],
                                "uploads": engine.uploads.recent()})
            await ws.send_json({"type": "health", "health": await engine.health()})
            reader = asyncio.ensure_future(ws.receive())
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    await cancel_quietly(getter)
                    break
                event = getter.result()
                if event is None:
                    break
                await ws.send_json(event)
            await cancel_quietly(reader)
        finally:
            engine.events.unsubscribe(queue)
            self.sockets.untrack(ws)
            await ws.close()
        return ws


class SessionRoutes:
    """Sessions and their life cycle: list, create, read, delete, archive, resume, restart, refresh, access mode,
    pull."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lifecycle = engine.lifecycle

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{API}/sessions", self.list),
            web.post(f"{API}/sessions", self.create),
            web.get(API + "/sessions/{ref}", self.get),
            web.delete(API + "/sessions/{ref}", self.delete),
            web.post(API + "/sessions/{ref}/archive", self.archive),
            web.post(API + "/sessions/{ref}/unarchive", self.unarchive),
            web.post(API + "/sessions/{ref}/resume", self.resume),
            web.post(API + "/sessions/{ref}/restart", self.restart),
            web.post(API + "/sessions/{ref}/refresh", self.refresh),
            web.post(API + "/sessions/{ref}/rename", self.rename),
            web.post(API + "/sessions/{ref}/access-mode", self.access_mode),
            web.post(API + "/sessions/{ref}/pull", self.pull),
        ]

    async def list(self, request: web.Request) -> web.Response:
        include = request.query.get("all", "1") not in ("0", "false")
        body = await asyncio.to_thread(self.engine.store.public_list, include)  # off the loop the terminals share
        return web.Response(body=body, content_type="application/json")

    async def create(self, request: web.Request) -> web.Response:
        req = CreateRequest.model_validate(await read_json(request))
        session = await self.lifecycle.create(req)
        if flag(request, "wait"):
            session = await self.lifecycle.wait_settled(session.id)
        return web.json_response(session.public(), status=201)

    async def get(self, request: web.Request) -> web.Response:
        return session_json(self.engine.require_known(request.match_info["ref"]))

    async def delete(self, request: web.Request) -> web.Response:
        return web.json_response(await self.lifecycle.delete(request.match_info["ref"], force=flag(request, "force")))

    async def archive(self, request: web.Request) -> web.Response:
        return session_json(await self.lifecycle.archive(request.match_info["ref"]))

    async def unarchive(self, request: web.Request) -> web.Response:
        return session_json(await self.lifecycle.unarchive(request.match_info["ref"]))

    async def resume(self, request: web.Request) -> web.Response:
        return session_json(await self.lifecycle.resume(request.match_info["ref"]))

    async def restart(self, request: web.Request) -> web.Response:
        return session_json(await self.lifecycle.restart(request.match_info["ref"]))

    async def rename(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        title, description = body.get("title"), body.get("description")
        if not all(v is None or isinstance(v, str) for v in (title, description)):
            raise ClauderonError("title and description must be strings")
        return session_json(await self.lifecycle.rename(request.match_info["ref"], title, description))

    async def refresh(self, request: web.Request) -> web.Response:
        return web.json_response(await self.lifecycle.refresh(request.match_info["ref"]))

    async def access_mode(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        return session_json(await self.lifecycle.set_access_mode(request.match_info["ref"], str(body.get("mode", ""))))

    async def pull(self, request: web.Request) -> web.Response:
        return web.json_response(await self.lifecycle.pull(request.match_info["ref"]))


class LandingRoutes:
    """Landing a session's work: push, open a pull request, its state, merge."""

    def __init__(self, engine: Engine) -> None:
        self.landing = engine.landing

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(API + "/sessions/{ref}/push", self.push),
            web.post(API + "/sessions/{ref}/pr", self.open_pr),
            web.get(API + "/sessions/{ref}/pr", self.pr),
            web.post(API + "/sessions/{ref}/merge", self.merge),
        ]

    async def push(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        return web.json_response(await self.landing.push(request.match_info["ref"], force=bool(body.get("force"))))

    async def open_pr(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        return web.json_response(await self.landing.open_pr(request.match_info["ref"], draft=bool(body.get("draft"))))

    async def pr(self, request: web.Request) -> web.Response:
        return web.json_response(await self.landing.state(request.match_info["ref"], refresh=flag(request, "refresh")))

    async def merge(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        method = str(body.get("method", "merge"))
        if method not in MERGE_METHODS:
            raise ClauderonError("method must be merge, squash or rebase")
        result = await self.landing.merge(request.match_info["ref"], method=method,
                                          delete_branch=bool(body.get("delete_branch")))
        return web.json_response(result)


class TerminalRoutes:
    """A session's terminal: its screen as text, typing, resizing, and the console websocket."""

    def __init__(self, engine: Engine, sockets: OpenSockets) -> None:
        self.engine = engine
        self.sockets = sockets

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(API + "/sessions/{ref}/screen", self.screen),
            web.post(API + "/sessions/{ref}/send", self.send),
            web.post(API + "/sessions/{ref}/permission-mode/cycle", self.cycle_permission_mode),
            web.post(API + "/sessions/{ref}/resize", self.resize),
            web.get("/ws/v1/console/{ref}", self.console),
        ]

    async def screen(self, request: web.Request) -> web.Response:
        stream = self.engine.stream(request.match_info["ref"])
        cols, rows, _ = stream.snapshot()
        return web.json_response({"text": stream.screen_text(), "cols": cols, "rows": rows})

    async def send(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        text = body.get("text", "")
        if not isinstance(text, str):
            raise ClauderonError("text must be a string")
        await self.engine.lifecycle.send(request.match_info["ref"], text, enter=bool(body.get("enter")))
        return web.json_response({"ok": True})

    async def cycle_permission_mode(self, request: web.Request) -> web.Response:
        session = await cycle_permission_mode(self.engine, request.match_info["ref"])
        return web.json_response(session.public())

    async def resize(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        cols = bounded_int(str(body.get("cols")), 0, MAX_CONSOLE_COLS, "cols")
        rows = bounded_int(str(body.get("rows")), 0, MAX_CONSOLE_ROWS, "rows")
        await self.engine.stream(request.match_info["ref"]).resize(cols, rows)
        return web.json_response({"ok": True})

    async def console(self, request: web.Request) -> web.WebSocketResponse:
        """Terminal bytes both ways as binary frames; snapshot, resize and ended as JSON text frames."""
        stream = self.engine.stream(request.match_info["ref"])
        cols = bounded_int(request.query.get("cols"), 0, MAX_CONSOLE_COLS, "cols") or None
        rows = bounded_int(request.query.get("rows"), 0, MAX_CONSOLE_ROWS, "rows") or None
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self.sockets.track(ws)
        if flag(request, "active") and cols and rows:
            await stream.resize(cols, rows)  # an interactive viewer takes the size before its snapshot
        viewer = stream.subscribe(cols, rows)
        try:
            snap_cols, snap_rows, snapshot = viewer.snapshot
            await ws.send_json({"type": "snapshot", "cols": snap_cols, "rows": snap_rows})
            await ws.send_bytes(snapshot)

            async def outbound() -> None:
                async for chunk in viewer:
                    if chunk.kind is ChunkKind.DATA:
                        await ws.send_bytes(chunk.data)
                    elif chunk.kind is ChunkKind.RESIZE:
                        await ws.send_json({"type": "resize", "cols": chunk.cols, "rows": chunk.rows})
                    elif chunk.kind is ChunkKind.RESYNC:  # fell behind: a fresh snapshot replaces the screen
                        await ws.send_json({"type": "snapshot", "cols": chunk.cols, "rows": chunk.rows})
                        await ws.send_bytes(chunk.data)
                    # ENDED: the program's terminal ended; the stream goes on if the session restarts.
                await ws.send_json({"type": "ended"})
                await ws.close()

            sender = asyncio.ensure_future(outbound())
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    await stream.write(msg.data, viewer=viewer)
                elif msg.type == WSMsgType.TEXT:
                    control = json.loads(msg.data)
                    if control.get("type") == "resize":
                        await stream.resize(int(control["cols"]), int(control["rows"]), viewer=viewer)
            await cancel_quietly(sender)
        finally:
            stream.unsubscribe(viewer)
            self.sockets.untrack(ws)
            await ws.close()
        return ws


class RepoRoutes:
    """What the create dialog asks: recent repositories, a repository's branches, a name for a prompt."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{API}/repos/recent", self.recent),
            web.get(f"{API}/repos/branches", self.branches),
            web.get(f"{API}/names/suggest", self.suggest_name),
        ]

    async def recent(self, request: web.Request) -> web.Response:
        return web.json_response(self.engine.store.recent_repos())

    async def branches(self, request: web.Request) -> web.Response:
        worktrees = self.engine.worktrees
        root, _ = await asyncio.to_thread(worktrees.resolve_repo, request.query.get("repo", ""))
        return web.json_response(await asyncio.to_thread(worktrees.branches, root))

    async def suggest_name(self, request: web.Request) -> web.Response:
        taken = {s.name for s in self.engine.store.sessions()}
        return web.json_response({"name": suggest_name(request.query.get("prompt", ""), taken)})


def route_table(engine: Engine, sockets: OpenSockets, on_stop_request: Callable[[], None] | None) -> list[web.RouteDef]:
    """Every route of the engine API (no two patterns overlap, so the order is only for reading)."""
    return [
        *EngineRoutes(engine, sockets, on_stop_request).routes(),
        *SessionRoutes(engine).routes(),
        *LandingRoutes(engine).routes(),
        *TerminalRoutes(engine, sockets).routes(),
        *RepoRoutes(engine).routes(),
        *ImageRoutes(engine, sockets).routes(),
        *TranscriptRoutes(engine, sockets).routes(),
        *WorkbenchRoutes(engine).routes(),
    ]
