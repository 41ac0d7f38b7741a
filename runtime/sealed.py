"""The engine's end of sealed sessions' network: one unix socket per session, bridged to the proxy.

A sealed session's relay (runtime/relay) reaches this socket through a read-only mount of its directory,
so the socket is the only way out of the agent's network namespace. One socket per session means one
session can never be served through another's path. Each connection is carried to the proxy's loopback
listener with TCP_NODELAY (without it, Nagle and delayed ACKs add ~40 ms to every response).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Callable

from .home import Home, fits_unix_socket

log = logging.getLogger(__name__)

SOCKET_NAME = "proxy.sock"
_CHUNK = 65536


class SealedSockets:
    """Per-session unix sockets on the engine's loop; `proxy_port()` says where the proxy listens."""

    def __init__(self, home: Home, proxy_port: Callable[[], int]) -> None:
        self.home = home
        self.proxy_port = proxy_port
        self._servers: dict[str, asyncio.AbstractServer] = {}

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
        self._servers[session_id] = await asyncio.start_unix_server(self._bridge, path=str(path))
        os.chmod(path, 0o666)
        return directory

    async def close(self, session_id: str) -> None:
        server = self._servers.pop(session_id, None)
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
        shutil.rmtree(self.directory(session_id), ignore_errors=True)

    async def close_all(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()

    async def _bridge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.proxy_port())
        except OSError as exc:
            log.warning("sealed bridge: the proxy does not answer: %s", exc)
            writer.close()
            return
        sock = up_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
        finally:
            for side in (writer, up_writer):
                with contextlib.suppress(Exception):
                    side.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One direction; its end is passed on as a half-close so the other direction can still finish."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass
