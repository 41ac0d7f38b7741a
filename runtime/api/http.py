"""What every route module of the engine API shares: the path prefix, reading a JSON body, the set of open
websockets the server closes on stop, and ending a helper task quietly."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from runtime.errors import ClauderonError

API = "/api/v1"


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} when it has none); a body that is not an object is refused."""
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ClauderonError("request body must be a JSON object")
    return body


def flag(request: web.Request, name: str) -> bool:
    """A query flag given as `1` or `true`."""
    return request.query.get(name) in ("1", "true")


async def cancel_quietly(task: asyncio.Task[Any]) -> None:
    """Cancel a helper task and wait for it, whatever it ended with."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class OpenSockets:
    """The websockets the server has open, so that stopping it closes them (a viewer waits on none)."""

    def __init__(self) -> None:
        self._open: set[web.WebSocketResponse] = set()

    def track(self, ws: web.WebSocketResponse) -> None:
        self._open.add(ws)

    def untrack(self, ws: web.WebSocketResponse) -> None:
        self._open.discard(ws)

    async def close_all(self) -> None:
        for ws in list(self._open):
            await ws.close()
