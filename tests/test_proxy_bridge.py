"""The proxy also listens on the Docker bridge gateway, so bridge-networked containers reach it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runtime.backends.local import LocalBackend
from runtime.backends.registry import capabilities_of
from runtime.engine.core import Engine
from runtime.home import Home
from runtime.settings import load_settings

pytestmark = pytest.mark.timeout(60)
GATEWAY = "127.0.0.2"  # a loopback address standing in for the bridge gateway


class BridgedBackend(LocalBackend):
    """A local backend standing in for Docker: it declares Docker's bridge network, and a gateway on loopback."""

    name = "docker"
    capabilities = capabilities_of(name)

    async def bridge_gateway(self) -> str | None:
        return GATEWAY


async def test_proxy_listens_on_the_bridge_gateway(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    engine = Engine(home, load_settings(home, environ={}), backends={"docker": BridgedBackend(home)})
    await engine.start()
    try:
        assert engine.egress.running, engine.egress.error
        reader, writer = await asyncio.open_connection(GATEWAY, engine.egress.port)
        writer.write(b"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status.startswith(b"HTTP/1.1 407")  # the proxy answers there, and still wants credentials
    finally:
        await engine.stop()
