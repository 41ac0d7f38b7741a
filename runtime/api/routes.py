"""Route handlers of the engine API. Every route that names a session accepts its id or its name."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from runtime.errors import ClauderonError
from runtime.names import suggest_name
from runtime.terminal import ChunkKind
from runtime.requests import CreateRequest
from runtime.api.server import API, cancel_quietly, read_json
from runtime.api.transcript import add_transcript_routes

if TYPE_CHECKING:
    from runtime.api.server import ApiServer

log = logging.getLogger(__name__)

# Console websocket: bytes frames carry terminal bytes both ways, text frames carry JSON control messages.
MAX_CONSOLE_COLS, MAX_CONSOLE_ROWS = 1000, 500


def _size(value: str | None, default: int, limit: int, what: str) -> int:
    if value is None:
        return default
    try:
        size = int(value)
    except ValueError:
        raise ClauderonError(f"{what} must be a whole number") from None
    if not 2 <= size <= limit:
        raise ClauderonError(f"{what} must be between 2 and {limit}")
    return size


def add_routes(server: "ApiServer") -> None:
    engine = server.engine
    life = engine.lifecycle
    routes = web.RouteTableDef()

    def session_json(session) -> web.Response:
        return web.json_response(session.public())

    @routes.get(f"{API}/health")
    async def health(request: web.Request) -> web.Response:
        return web.json_response(await engine.health())

    @routes.get(f"{API}/sessions")
    async def list_sessions(request: web.Request) -> web.Response:
        include = request.query.get("all", "1") not in ("0", "false")
        body = await asyncio.to_thread(engine.store.public_list, include)  # off the loop the terminals share
        return web.Response(body=body, content_type="application/json")

    @routes.post(f"{API}/sessions")
    async def create(request: web.Request) -> web.Response:
        req = CreateRequest.model_validate(await read_json(request))
        session = await life.create(req)
        if request.query.get("wait") in ("1", "true"):
            session = await life.wait_settled(session.id)
        return web.json_response(session.public(), status=201)

    @routes.get(API + "/sessions/{ref}")
    async def get(request: web.Request) -> web.Response:
        return session_json(engine.require_known(request.match_info["ref"]))

    @routes.delete(API + "/sessions/{ref}")
    async def delete(request: web.Request) -> web.Response:
        force = request.query.get("force") in ("1", "true")
        return web.json_response(await life.delete(request.match_info["ref"], force=force))

    @routes.post(API + "/sessions/{ref}/archive")
    async def archive(request: web.Request) -> web.Response:
        return session_json(await life.archive(request.match_info["ref"]))

    @routes.post(API + "/sessions/{ref}/unarchive")
    async def unarchive(request: web.Request) -> web.Response:
        return session_json(await life.unarchive(request.match_info["ref"]))

    @routes.post(API + "/sessions/{ref}/resume")
    async def resume(request: web.Request) -> web.Response:
        return session_json(await life.resume(request.match_info["ref"]))

    @routes.post(API + "/sessions/{ref}/restart")
    async def restart(request: web.Request) -> web.Response:
        return session_json(await life.restart(request.match_info["ref"]))

    @routes.post(API + "/sessions/{ref}/access-mode")
    async def access_mode(request: web.Request) -> web.Response:
        body = await read_json(request)
        return session_json(await life.set_access_mode(request.match_info["ref"], str(body.get("mode", ""))))

    @routes.post(API + "/sessions/{ref}/pull")
    async def pull(request: web.Request) -> web.Response:
        return web.json_response(await life.pull(request.match_info["ref"]))

    @routes.post(API + "/sessions/{ref}/push")
    async def push(request: web.Request) -> web.Response:
        body = await read_json(request)
        return web.json_response(await engine.landing.push(request.match_info["ref"], force=bool(body.get("force"))))

    @routes.post(API + "/sessions/{ref}/pr")
    async def open_pr(request: web.Request) -> web.Response:
        body = await read_json(request)
        return web.json_response(await engine.landing.open_pr(request.match_info["ref"], draft=bool(body.get("draft"))))

    @routes.get(API + "/sessions/{ref}/pr")
    async def pr(request: web.Request) -> web.Response:
        refresh = request.query.get("refresh") in ("1", "true")
        return web.json_response(await engine.landing.state(request.match_info["ref"], refresh=refresh))

    @routes.post(API + "/sessions/{ref}/merge")
    async def merge(request: web.Request) -> web.Response:
        body = await read_json(request)
        method = str(body.get("method", "merge"))
        if method not in ("merge", "squash", "rebase"):
            raise ClauderonError("method must be merge, squash or rebase")
        result = await engine.landing.merge(request.match_info["ref"], method=method, delete_branch=bool(body.get("delete_branch")))
        return web.json_response(result)

    @routes.get(API + "/sessions/{ref}/screen")
    async def screen(request: web.Request) -> web.Response:
        stream = engine.stream(request.match_info["ref"])
        cols, rows, _ = stream.snapshot()
        return web.json_response({"text": stream.screen_text(), "cols": cols, "rows": rows})

    @routes.post(API + "/sessions/{ref}/send")
    async def send(request: web.Request) -> web.Response:
        body = await read_json(request)
        text = body.get("text", "")
        if not isinstance(text, str):
            raise ClauderonError("text must be a string")
        await life.send(request.match_info["ref"], text, enter=bool(body.get("enter")))
        return web.json_response({"ok": True})

    @routes.post(API + "/sessions/{ref}/resize")
    async def resize(request: web.Request) -> web.Response:
        body = await read_json(request)
        cols = _size(str(body.get("cols")), 0, MAX_CONSOLE_COLS, "cols")
        rows = _size(str(body.get("rows")), 0, MAX_CONSOLE_ROWS, "rows")
        await engine.stream(request.match_info["ref"]).resize(cols, rows)
        return web.json_response({"ok": True})

    @routes.get(f"{API}/repos/recent")
    async def recent_repos(request: web.Request) -> web.Response:
        return web.json_response(engine.store.recent_repos())

    @routes.get(f"{API}/repos/branches")
    async def branches(request: web.Request) -> web.Response:
        repo = request.query.get("repo", "")
        root, _ = await asyncio.to_thread(engine.worktrees.resolve_repo, repo)
        return web.json_response(await asyncio.to_thread(engine.worktrees.branches, root))

    @routes.get(f"{API}/names/suggest")
    async def suggest(request: web.Request) -> web.Response:
        taken = {s.name for s in engine.store.sessions()}
        return web.json_response({"name": suggest_name(request.query.get("prompt", ""), taken)})

    @routes.get(f"{API}/credentials")
    async def credentials(request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(engine.egress.service.credentials_report))

    @routes.get(f"{API}/audit")
    async def audit(request: web.Request) -> web.Response:
        from proxy import read_audit

        ref = request.query.get("session")
        session_id = engine.require_known(ref).id if ref else None
        limit = _size(request.query.get("limit"), 100, 100_000, "limit")
        return web.json_response(await asyncio.to_thread(read_audit, engine.home, session_id, limit))

    @routes.post(f"{API}/engine/stop")
    async def stop(request: web.Request) -> web.Response:
        if server.on_stop_request is None:
            raise ClauderonError("this engine is hosted by an app; quit the app to stop it", status=409)
        asyncio.get_running_loop().call_soon(server.on_stop_request)
        return web.json_response({"ok": True})

    @routes.get("/ws/v1/events")
    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        server.track(ws)
        queue = engine.events.subscribe()
        try:
            await ws.send_json({"type": "snapshot", "sessions": [s.public() for s in engine.store.sessions()]})
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
            server.untrack(ws)
            await ws.close()
        return ws

    @routes.get("/ws/v1/console/{ref}")
    async def console(request: web.Request) -> web.WebSocketResponse:
        stream = engine.stream(request.match_info["ref"])
        cols = _size(request.query.get("cols"), 0, MAX_CONSOLE_COLS, "cols") or None
        rows = _size(request.query.get("rows"), 0, MAX_CONSOLE_ROWS, "rows") or None
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        server.track(ws)
        if request.query.get("active") in ("1", "true") and cols and rows:
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
            server.untrack(ws)
            await ws.close()
        return ws

    server.app.add_routes(routes)
    add_transcript_routes(server)  # transcript pages, live tail, chat (api_transcript.py)

    # -- workbench (files, diff, info): its own module ------------------------------------------------
    from runtime.api.workbench import add_workbench_routes

    add_workbench_routes(server)
