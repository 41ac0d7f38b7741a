"""Tunnels carry HTTP only: raw bytes inside a CONNECT tunnel reach nothing (cut and audited) unless
`[proxy] raw_tcp` names that host:port, and then each connection is audited with its byte counts."""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
import time

import pytest

from proxy import ProxyService, SessionProxyConfig, new_proxy_password, read_audit
from proxy.credentials import CredentialStore
from runtime.home import Home
from runtime.settings import Settings
from tests.test_proxy_fixtures import closed_port


class Echo(socketserver.BaseRequestHandler):
    received: list[bytes] = []

    def handle(self) -> None:
        while data := self.request.recv(65536):
            Echo.received.append(data)
            self.request.sendall(data)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    port = echo.server_address[1]
    settings = Settings.model_validate({
        "routes": {"rawecho.example": f"http://127.0.0.1:{port}", "rawok.example": f"http://127.0.0.1:{port}"},
        "proxy": {"raw_tcp": ["rawok.example:5432"]},
    })
    home = Home.open(tmp_path_factory.mktemp("tunnels") / "h")
    service = ProxyService(home, settings, port=closed_port(), credential_sources=CredentialStore(
        secrets_dir=home.secrets, environ={}, tokens_file=home.root / "codex.json"))
    listening = service.start()
    yield service, listening, home
    service.stop()
    echo.shutdown()


def raw_tunnel(port: int, session: str, password: str, target: str, payload: bytes) -> bytes:
    """CONNECT to `target` with the session's credentials, send `payload`, and return what comes back."""
    auth = base64.b64encode(f"{session}:{password}".encode()).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                     f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        head = conn.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
        conn.sendall(payload)
        back = b""
        try:
            while chunk := conn.recv(65536):
                back += chunk
                if len(back) >= len(payload):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return back


def session(service: ProxyService, sid: str) -> str:
    password, digest = new_proxy_password()
    service.register_session(SessionProxyConfig(sid, f"name-{sid}", digest, "shell", set()))
    return password


def audit_lines(home: Home, sid: str, deadline: float = 10) -> list[dict]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        lines = [r for r in read_audit(home, sid) if r["method"] == "TCP"]
        if lines:
            return lines
        time.sleep(0.05)
    return []


def test_raw_bytes_in_a_tunnel_reach_nothing(proxy) -> None:
    service, port, home = proxy
    Echo.received.clear()
    payload = b"\x00\x01 not http at all, a database wire protocol perhaps\n"
    back = raw_tunnel(port, "raw-no", session(service, "raw-no"), "rawecho.example:5432", payload)
    assert back == b"" and not any(payload in r for r in Echo.received)
    [line] = audit_lines(home, "raw-no")
    assert line["blocked"] == "raw_tcp" and line["host"] == "rawecho.example"


def test_raw_tcp_named_in_proxy_toml_passes_and_is_counted(proxy) -> None:
    service, port, home = proxy
    payload = b"\x00\x02 allowed raw bytes\n"
    back = raw_tunnel(port, "raw-ok", session(service, "raw-ok"), "rawok.example:5432", payload)
    assert back == payload
    [line] = audit_lines(home, "raw-ok")
    assert line["blocked"] is None and line["bytes_up"] == len(payload) and line["bytes_down"] == len(payload)
