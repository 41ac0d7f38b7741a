"""The engine's HTTP + websocket API over a unix socket (documented in docs/api.md).

The socket is 0600 and every connection's peer uid is checked, so only the user who owns the home
can drive the engine.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from runtime.api.http import OpenSockets
from runtime.api.routes import route_table
from runtime.engine.core import Engine
from runtime.errors import ClauderonError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _peer_uid(request: web.Request) -> int | None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


@web.middleware
async def peer_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    uid = _peer_uid(request)
    if uid is None or uid != os.getuid():
        return web.json_response({"error": "only the user who owns this clauderon home may use its engine"}, status=403)
    return await handler(request)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ClauderonError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "request"
        return web.json_response({"error": f"{where}: {err['msg']}"}, status=400)
    except json.JSONDecodeError:
        return web.json_response({"error": "request body is not valid JSON"}, status=400)
    except OSError as exc:  # the engine's own files: a full disk, a permission, said in one line
        log.warning("%s %s: %s", request.method, request.path, exc)
        if exc.errno == errno.ENOSPC:
            return web.json_response({"error": "no space left in CLAUDERON_HOME (" + str(exc.filename or exc.strerror)
                                      + "); free some space, nothing was changed"}, status=507)
        return web.json_response({"error": f"the engine could not do that: {exc.strerror or exc}"}, status=500)


class ApiServer:
    """Routes the API onto an `Engine`. Start with `await start(path)`, stop with `await stop()`."""

    def __init__(self, engine: Engine, on_stop_request: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_stop_request = on_stop_request
        self.app = web.Application(middlewares=[peer_check, errors_as_json])
        self.sockets = OpenSockets()
        self.app.add_routes(route_table(engine, self.sockets, on_stop_request))
        self._runner: web.AppRunner | None = None

    async def start(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where others could connect
        try:
            site = web.UnixSite(self._runner, str(path))
            await site.start()
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)

    async def stop(self) -> None:
        await self.sockets.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
