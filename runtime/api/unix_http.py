"""One HTTP request over the engine's unix socket, with the standard library only.

Why not aiohttp: importing it costs a `clauderon list` process more than everything else it does (the
request itself takes a millisecond), and the app's first frame waits on the same import. The request /
response calls need nothing of it: one connection a request (`Connection: close`, so the answer ends at
EOF), parsed by `http.client`. aiohttp stays for the websocket streams (events, consoles, transcripts).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
from urllib.parse import quote, urlencode

CONNECT_TIMEOUT_S = 5


class _Received:
    """What `http.client.HTTPResponse` reads a response from: the bytes already received."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.data)


async def unix_request(socket_path: str, method: str, path: str, *, params: dict[str, str] | None = None,
                       body: bytes | None = None, content_type: str = "application/json",
                       timeout: float | None = None) -> tuple[int, bytes]:
    """`(status, body)` of `method path` (path already quoted). Raises `OSError` when nothing answers at
    `socket_path`, `TimeoutError` past `timeout` seconds (None: none), `http.client.HTTPException` or
    `asyncio.IncompleteReadError` on a broken answer."""
    if params:
        path = f"{path}?{urlencode(params, quote_via=quote)}"
    head = [f"{method} {path} HTTP/1.1", "Host: clauderon", "Connection: close"]
    if body is not None:
        head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    elif method in ("POST", "PUT", "PATCH", "DELETE"):
        head.append("Content-Length: 0")
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(socket_path), CONNECT_TIMEOUT_S)
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
            await writer.drain()
            received = await reader.read()  # the engine closes the connection after the answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    response = http.client.HTTPResponse(_Received(received), method=method)  # type: ignore[arg-type]
    response.begin()
    return response.status, response.read()
