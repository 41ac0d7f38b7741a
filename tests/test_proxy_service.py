"""ProxyService lifecycle: port choice and persistence, clean start/stop, busy ports, the CA on disk."""

from __future__ import annotations

import contextlib
import socket
import stat

import pytest

from proxy import ProxyError, ProxyService, choose_port
from proxy.credentials import CredentialStore
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.settings import Settings
from tests.test_proxy_fixtures import closed_port


def connects(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except OSError:
        return False


def service(home: Home, **kw) -> ProxyService:
    store = CredentialStore(secrets_dir=home.secrets, environ={})
    return ProxyService(home, Settings(), credential_sources=store, **kw)


def test_port_is_chosen_once_and_kept(short_tmp):
    home = Home.open(short_tmp / "a")
    first = choose_port(home)
    assert (home.root / "proxy.port").read_text().strip() == str(first)
    with socket.socket() as s:  # even if that port is busy later, the home keeps its port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            s.bind(("127.0.0.1", first))
        assert choose_port(home) == first


def test_second_home_gets_another_port_when_the_default_is_taken(short_tmp):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        port = choose_port(Home.open(short_tmp / "b"), preferred=busy)
    assert port != busy and port > 0


def test_start_stop_really_closes_and_restarts_on_the_same_port(short_tmp):
    home = Home.open(short_tmp / "h")
    port = closed_port()
    svc = service(home, port=port, listen_hosts=("127.0.0.1", "127.0.0.2"))
    assert svc.start() == port
    try:
        assert connects("127.0.0.1", port) and connects("127.0.0.2", port)
        with pytest.raises(ProxyError, match="already running"):
            service(home, port=closed_port()).start()
    finally:
        svc.stop()
    assert not connects("127.0.0.1", port) and not connects("127.0.0.2", port)
    again = service(home, port=port)
    assert again.start() == port
    again.stop()
    assert not connects("127.0.0.1", port)


def test_a_squatted_port_stops_only_open_networks_and_sealed_sessions_never_reach_the_squatter(short_tmp):
    """Another process holds the shared port before the engine starts (a host-network container did it while
    the engine restarted). The proxy starts anyway on its private port; the sealed path (SealedSockets)
    is served by the real proxy, the squatter never gets a connection, and health says what is wrong."""
    import asyncio

    from runtime.engine.egress import Egress

    home = Home.open(short_tmp / "h")
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    squatter.settimeout(0.5)
    busy = squatter.getsockname()[1]
    (home.root / "proxy.port").write_text(f"{busy}\n")
    egress = Egress(home, Settings())
    egress.start()
    try:
        assert egress.service.private_port and egress.service.private_port != busy
        health = egress.health()
        assert not health["ok"] and f"port {busy} is held by another process" in health["detail"]
        with pytest.raises(ClauderonError, match="cannot start an open-network session"):
            egress.require_shared_port()

        async def through_the_sealed_path() -> bytes:
            directory = await egress.sealed.open("sess-sq")
            reader, writer = await asyncio.open_unix_connection(str(directory / "proxy.sock"))
            writer.write(b"GET http://example.invalid/ HTTP/1.1\r\nHost: example.invalid\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(200), 10)
            writer.close()
            await egress.sealed.close_all()
            return answer

        answer = asyncio.run(through_the_sealed_path())
        assert answer.startswith(b"HTTP/1.1 407"), answer  # the real proxy asks for the session's credentials
        with pytest.raises(socket.timeout):
            squatter.accept()
    finally:
        egress.stop()
        squatter.close()


@pytest.mark.parametrize("text", ["0", "99999", "-5", "port", ""])
def test_a_bad_proxy_port_file_gets_a_fresh_port(short_tmp, text, caplog):
    home = Home.open(short_tmp / "h")
    (home.root / "proxy.port").write_text(text)
    port = choose_port(home)
    assert 1 <= port <= 65535 and (home.root / "proxy.port").read_text().strip() == str(port)
    assert "not a port" in caplog.text


def test_ca_generated_once_with_a_private_key_kept_private(short_tmp):
    home = Home.open(short_tmp / "h")
    svc = service(home, port=closed_port())
    cert = svc.ca_cert_path
    assert cert == home.root / "proxy-ca" / "proxy-ca.pem"
    text = cert.read_text()
    assert "BEGIN CERTIFICATE" in text and "PRIVATE KEY" not in text
    key = home.root / "proxy-ca" / "mitmproxy-ca.pem"
    assert "PRIVATE KEY" in key.read_text()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert service(home, port=closed_port()).ca_cert_path.read_text() == text
