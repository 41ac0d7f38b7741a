"""Attach to a tty container by doing Docker's HTTP upgrade ourselves on an asyncio connection.

Why not docker-py's `attach_socket`: bytes the daemon sends right after the `101` response can sit in
http.client's buffer and be lost, and its socket wrapper is not writable. Here the response headers are
read by hand and anything already read past them is handed out first by `read()`.

With `tty=True` the stream is raw: no 8-byte multiplexing headers, stdout and stderr are one stream.

Detach keys: the daemon scans stdin for a detach sequence and holds back every byte that matches a
prefix of it until the next byte shows whether it is the sequence; the default `ctrl-p,ctrl-q` therefore
delays every ctrl-p. We pass `DETACH_KEYS` = bytes 0xFF then 0xFE (single characters are allowed in
`detachKeys`; URL-escaped here). Neither byte can ever occur in UTF-8, which is what terminals send, so
nothing is held back and no typed sequence can detach us.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from runtime.backends.base import Attachment
from runtime.errors import ClauderonError

log = logging.getLogger(__name__)

DETACH_KEYS = "\xff,\xfe"
"""The `detachKeys` value as the daemon sees it (after URL decoding): 0xFF then 0xFE."""

_DETACH_KEYS_QUERY = quote(DETACH_KEYS.encode("latin-1"), safe=",")
_MAX_HEADER_BYTES = 64 * 1024
READ_CHUNK = 64 * 1024


def engine_address(base_url: str) -> tuple[str, str | int]:
    """("unix", path) or (host, port) for a Docker `base_url` such as unix:///var/run/docker.sock."""
    parts = urlsplit(base_url)
    if parts.scheme in ("unix", "http+unix"):
        return "unix", parts.path
    if parts.scheme in ("tcp", "http"):
        return parts.hostname or "127.0.0.1", parts.port or 2375
    raise ClauderonError(f"attaching over {parts.scheme or base_url!r} is not supported: "
                         "use a unix:// or tcp:// DOCKER_HOST")


async def open_attach(base_url: str, api_version: str, container_id: str, *, logs: bool = False) -> DockerAttachment:
    """POST /containers/{id}/attach with an `Upgrade: tcp` and return the raw bidirectional stream.

    `logs=True` first replays everything the container printed so far, with no gap before the live
    stream (used right after start, so the first prompt is never lost)."""
    host, where = engine_address(base_url)
    try:
        if host == "unix":
            reader, writer = await asyncio.open_unix_connection(str(where), limit=READ_CHUNK * 4)
        else:
            reader, writer = await asyncio.open_connection(host, int(where), limit=READ_CHUNK * 4)
    except OSError as exc:
        raise ClauderonError(f"cannot reach the Docker engine at {base_url} to attach: {exc.strerror or exc}") from exc
    path = (
        f"/v{api_version}/containers/{container_id}/attach"
        f"?stream=1&stdin=1&stdout=1&stderr=1&logs={int(logs)}&detachKeys={_DETACH_KEYS_QUERY}"
    )
    request = (
        f"POST {path} HTTP/1.1\r\n"
        "Host: docker\r\n"
        "Content-Type: text/plain\r\n"
        "Connection: Upgrade\r\n"
        "Upgrade: tcp\r\n"
        "\r\n"
    )
    try:
        writer.write(request.encode("latin-1"))
        await writer.drain()
        head, rest = await _read_head(reader)
    except BaseException:
        writer.close()
        raise
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    fields = status_line.split(" ", 2)
    code = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    if code not in (101, 200):
        body = rest.decode("utf-8", "replace").strip()
        writer.close()
        raise ClauderonError(f"cannot attach to container {container_id[:12]}: {status_line} {body}".strip())
    return DockerAttachment(reader, writer, rest)


async def _read_head(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """Read up to the blank line ending the response headers; return (headers, bytes read past them)."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = await reader.read(READ_CHUNK)
        if not chunk:
            raise ClauderonError("the Docker engine closed the attach connection before answering")
        buffer += chunk
        if len(buffer) > _MAX_HEADER_BYTES:
            raise ClauderonError("the Docker engine sent an oversized attach response")
    head, _, rest = buffer.partition(b"\r\n\r\n")
    # A non-101 answer may carry a body; for an upgrade the rest is already the container's output.
    return head, rest


class DockerAttachment(Attachment):
    """The raw tty stream of one container; `resize` goes through the SDK (set by the backend)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pending: bytes) -> None:
        self._reader = reader
        self._writer = writer
        self._pending = pending
        self._closed = False
        self.resizer: Callable[[int, int], Awaitable[None]] | None = None
        """Async callable (cols, rows) -> None, set by the backend that opened this attachment."""

    async def read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self._closed:
            return b""
        try:
            return await self._reader.read(READ_CHUNK)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise ClauderonError("the terminal is detached: attach again to send input")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise ClauderonError(f"the container's terminal went away: {exc}") from exc

    async def resize(self, cols: int, rows: int) -> None:
        if self.resizer is not None:
            await self.resizer(cols, rows)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
