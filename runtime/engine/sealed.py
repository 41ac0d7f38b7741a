"""The engine's end of sealed sessions' network: one unix socket per session, bridged to the proxy.

A sealed session's relay (runtime/relay) reaches this socket through a read-only mount of its directory,
so the socket is the only way out of the agent's network namespace. One socket per session means one
session can never be served through another's path. Each connection is carried to the proxy's private
loopback listener with TCP_NODELAY (without it, Nagle and delayed ACKs add ~40 ms to every response), by
a pair of protocols that hand bytes from one transport to the other as they arrive: no stream buffers or
tasks in between, which cost about 1 ms a round trip (`bench/proxy.py`, sealed path).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.home import Home, fits_unix_socket

log = logging.getLogger(__name__)

SOCKET_NAME = "proxy.sock"


class SealedSockets:
    """Per-session unix sockets; `proxy_port()` says where the proxy listens, `proxy_loop()` on which loop
    it runs. The sockets are served on that loop (the proxy's thread): bridging on another thread handed
    the GIL back and forth at every hop, +1.5 ms a round trip; on the proxy's own loop +0.4 ms."""

    def __init__(self, home: Home, proxy_port: Callable[[], int | None],
                 proxy_loop: Callable[[], asyncio.AbstractEventLoop | None] = lambda: None) -> None:
        self.home = home
        self.proxy_port = proxy_port
        self.proxy_loop = proxy_loop
        self._servers: dict[str, asyncio.AbstractServer] = {}

    async def _on_proxy_loop(self, coro: Any) -> Any:
        """Run `coro` on the proxy's loop (or here, when there is none or it is this one)."""
        loop = self.proxy_loop()
        if loop is None or loop is asyncio.get_running_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def directory(self, session_id: str) -> Path:
        """The host directory a session's relay mounts (read-only): `run/proxy/<session>/`, or in the
        home's private short directory when that path is too long for a unix socket."""
        natural = self.home.run / "proxy" / session_id
        if fits_unix_socket(natural / SOCKET_NAME):
            return natural
        return self.home.short_socket_dir() / f"proxy-{session_id}"

    async def open(self, session_id: str) -> Path:
        """Serve the session's socket (again, after an engine restart); returns its directory."""
        directory = self.directory(session_id)
        server = self._servers.get(session_id)
        if server is not None and server.is_serving():
            return directory
        directory.mkdir(parents=True, exist_ok=True)
        # The relay runs as an unprivileged user: it may enter this directory and connect, nothing else.
        # Other local users never get this far: the home itself is 0700.
        os.chmod(directory, 0o711)
        path = directory / SOCKET_NAME
        path.unlink(missing_ok=True)
        self._servers[session_id] = await self._on_proxy_loop(self._listen(path))
        os.chmod(path, 0o666)
        return directory

    async def _listen(self, path: Path) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        return await loop.create_unix_server(lambda: _Bridge(self.proxy_port), path=str(path))

    async def close(self, session_id: str) -> None:
        server = self._servers.pop(session_id, None)
        if server is not None:
            await self._on_proxy_loop(_stop(server))
        shutil.rmtree(self.directory(session_id), ignore_errors=True)

    async def close_all(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            await self._on_proxy_loop(_stop(server))


async def _stop(server: asyncio.AbstractServer) -> None:
    server.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.wait_closed(), 5)


class _Half(asyncio.Protocol):
    """One side of a bridged connection: what it receives goes straight to the other side's transport;
    when that side cannot take more, this side stops reading (flow control both ways)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.other: _Half | None = None
        self.waiting: list[bytes] = []  # received before the other side exists

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.write(data)
        else:
            self.waiting.append(data)

    def eof_received(self) -> bool:
        if self.other is not None and self.other.transport is not None and self.other.transport.can_write_eof():
            self.other.transport.write_eof()  # a half-close: the other direction can still finish
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.close()

    def pause_writing(self) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.resume_reading()


class _Bridge(_Half):
    """The relay's side: connects to the proxy when the relay connects, then hands bytes across."""

    def __init__(self, proxy_port: Callable[[], int | None]) -> None:
        super().__init__()
        self.proxy_port = proxy_port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.pause_reading()  # type: ignore[attr-defined]  # until the proxy side is there
        asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            port = self.proxy_port()
            if port is None:  # the proxy is not listening (yet): same as a refused connection
                raise ConnectionRefusedError("the proxy has no port")
            up_transport, up = await loop.create_connection(_Half, "127.0.0.1", port)
        except (OSError, TypeError) as exc:
            log.warning("sealed bridge: the proxy does not answer: %s", exc)
            if self.transport is not None:
                self.transport.close()
            return
        sock = up_transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.other, up.other = up, self
        if self.transport is None or self.transport.is_closing():
            up_transport.close()
            return
        for data in self.waiting:
            up_transport.write(data)
        self.waiting.clear()
        self.transport.resume_reading()
