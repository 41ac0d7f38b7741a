"""Each mitmproxy addon of proxy/addons.py on its own, driven the mitmproxy way: flows from
`mitmproxy.test.tflow`, hooks run inside `mitmproxy.test.taddons.context` (through its addon manager, as
mitmproxy calls them), and the audit lines read back from the file. No socket is opened: the end-to-end
proxy tests (test_proxy_flows.py) cover the wiring; these pin each addon's own decision.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http, tcp
from mitmproxy.proxy import layers, server_hooks
from mitmproxy.test import taddons, tflow, tutils

from proxy import (
    PLACEHOLDERS,
    AuditLog,
    CredentialStore,
    SessionProxyConfig,
    addons,
    new_proxy_password,
    read_audit,
)
from proxy.credentials import CODEX_OAUTH, ENV_NAMES
from proxy.errorpages import REFUSED
from proxy.model_errors import authentication_error
from proxy.policy import Blocked, Unresolvable
from proxy.rules import DEFAULT_RULES, HOOKS_HOST
from proxy.sessions import SessionRegistry
from proxy.tripwire import BodyScanner, Refused
from runtime.agents.registry import agent_named

SECRETS = {
    "GITHUB_TOKEN": "ghp_REALgithubTOKENvalue0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-api03-REALanthropicKEY0123456789",
    "CODEX_ACCESS_TOKEN": "codex-REAL-access-0123456789abcdef",
    "CODEX_REFRESH_TOKEN": "codex-REAL-refresh-0123456789abcdef",
    "CODEX_ID_TOKEN": "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFAYi5jIn0.REALsignature0123456789",
    "CODEX_ACCOUNT_ID": "acct-1234",
}
PUBLIC_IP = "93.184.216.34"


@dataclass
class Home:
    """What `read_audit` needs of a home."""

    root: Path


class World:
    """The addon chain in the order `ProxyService` installs it, over a tmp audit log and fixed secrets."""

    def __init__(self, root: Path, *, allowlist: list[str] | None = None, raw_tcp: list[str] | None = None,
                 routes: dict[str, str] | None = None) -> None:
        self.home = Home(root)
        self.audit = AuditLog(root / "audit.jsonl")
        self.credentials = CredentialStore(secrets_dir=root / "secrets", environ=dict(SECRETS),
                                           tokens_file=root / "codex-tokens.json")
        self.registry = SessionRegistry()
        self.resolved: list[tuple[str, int]] = []
        self.auditor = addons.Auditor(self.audit)
        self.auth = addons.ProxyAuth(self.registry, self.auditor, list(allowlist or []))
        self.raw = addons.RawTunnels(self.auth, self.auditor, list(raw_tcp or []))
        self.hooks = addons.HooksHost()
        self.wire = addons.Tripwire(self.credentials)
        self.policy = addons.AccessPolicy(list(allowlist or []))
        self.router = addons.Router(routes or {}, resolve=self.resolve)
        self.injector = addons.Injector(self.credentials, DEFAULT_RULES)
        self.refresh = addons.TokenRefresh(self.credentials)
        self.streams = addons.BodyStreams(self.wire, max_body_bytes=10 * 1024 * 1024)
        self.streamer = addons.Streamer()
        self.chain = [self.auth, self.raw, self.hooks, self.wire, self.policy, self.router, self.injector,
                      self.refresh, self.streams, self.streamer, self.auditor]

    async def resolve(self, host: str, port: int) -> str:
        """Stands in for DNS: `*.internal` is private, `nowhere.invalid` does not resolve."""
        self.resolved.append((host, port))
        if host.endswith(".internal"):
            raise Blocked(f"{host} resolves to 10.0.0.5, a private address")
        if host == "nowhere.invalid":
            raise Unresolvable(f"{host} does not resolve")
        return PUBLIC_IP

    def session(self, name: str = "s1", **fields: Any) -> tuple[SessionProxyConfig, str]:
        password, digest = new_proxy_password()
        if "agent" in fields:  # the proxy knows an agent only by the traffic it hands over, as the engine does
            fields.setdefault("traffic", agent_named(fields["agent"]).traffic)
        cfg = SessionProxyConfig(f"id-{name}", name, digest, **fields)
        self.registry.register(cfg)
        return cfg, "Basic " + base64.b64encode(f"{cfg.session_id}:{password}".encode()).decode()

    def audit_lines(self) -> list[dict[str, Any]]:
        return read_audit(self.home, None, None)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = World(tmp_path)
    with taddons.context(*built.chain):
        yield built


def request(url_host: str, path: str = "/", *, method: str = "GET", port: int = 443, scheme: str = "https",
            headers: dict[str, str] | None = None, body: bytes = b"", auth: str | None = None) -> http.HTTPFlow:
    """A proxied request as the client sent it (absolute form, with its proxy credentials)."""
    fields = [(b"host", url_host.encode())]
    fields += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    if auth is not None:
        fields.append((b"proxy-authorization", auth.encode()))
    if body or method in ("POST", "PUT"):
        fields.append((b"content-length", str(len(body)).encode()))
    req = tutils.treq(host=url_host, port=port, scheme=scheme.encode(), method=method.encode(),
                      path=path.encode(), authority=b"", headers=http.Headers(fields), content=body)
    return tflow.tflow(req=req)


async def run(world: World, flow: http.HTTPFlow, *, upstream: http.Response | None = None) -> http.HTTPFlow:
    """Every addon's hooks for the flow, event by event as mitmproxy fires them; `upstream` is the answer
    of the server when nothing refused the request."""
    await fire(world, layers.http.HttpRequestHeadersHook(flow))
    await fire(world, layers.http.HttpRequestHook(flow))
    if flow.response is None and upstream is not None:
        flow.response = upstream
    if flow.response is not None:
        await fire(world, layers.http.HttpResponseHeadersHook(flow))
        await fire(world, layers.http.HttpResponseHook(flow))
    return flow


async def fire(world: World, event: Any) -> None:
    from mitmproxy import ctx

    for addon in world.chain:
        await ctx.master.addons.invoke_addon(addon, event)


def ok(body: bytes = b"fine", **headers: str) -> http.Response:
    return http.Response.make(200, body, {"content-type": "text/plain", **headers})


# -- ProxyAuth --------------------------------------------------------------------------------------


async def test_a_request_without_proxy_credentials_is_407_and_audited(world: World) -> None:
    flow = await run(world, request("api.github.com", "/user"), upstream=ok())
    assert flow.response is not None and flow.response.status_code == 407
    assert flow.response.headers["Proxy-Authenticate"] == 'Basic realm="clauderon"'
    [line] = world.audit_lines()
    assert (line["session"], line["host"], line["status"]) == (None, "api.github.com", 407)
    assert line["blocked"] == "proxy_auth"


async def test_valid_credentials_name_the_session_and_never_travel_upstream(world: World) -> None:
    cfg, auth = world.session()
    flow = await run(world, request("example.com", "/x?q=1", auth=auth), upstream=ok())
    assert flow.response is not None and flow.response.status_code == 200
    assert flow.metadata[addons.SESSION] is cfg
    assert (flow.metadata[addons.HOST], flow.metadata[addons.PORT]) == ("example.com", 443)
    assert "proxy-authorization" not in flow.request.headers
    [line] = world.audit_lines()
    assert (line["session"], line["path"], line["status"], line["blocked"]) == (cfg.session_id, "/x", 200, None)


async def test_a_wrong_password_is_407(world: World) -> None:
    _, auth = world.session()
    flow = await run(world, request("example.com", auth=auth[:-2] + "xx"))
    assert flow.response is not None and flow.response.status_code == 407


@pytest.mark.parametrize("host_header", ["evil.example", "example.com:8443"])
async def test_a_host_header_naming_another_target_is_421(world: World, host_header: str) -> None:
    _, auth = world.session()
    flow = request("example.com", auth=auth)
    flow.request.headers["host"] = host_header
    await run(world, flow, upstream=ok())
    assert flow.response is not None and flow.response.status_code == 421
    assert flow.metadata[addons.BLOCKED] == "misdirected"
    assert world.resolved == []  # refused before the router looked anything up


async def test_two_host_headers_are_421(world: World) -> None:
    _, auth = world.session()
    flow = request("example.com", auth=auth)
    flow.request.headers.add("host", "example.com")
    await run(world, flow)
    assert flow.response is not None and flow.response.status_code == 421


async def test_a_connect_without_credentials_is_refused_and_audited_at_once(world: World) -> None:
    flow = request("api.github.com", method="CONNECT")
    world.auth.http_connect(flow)
    assert flow.response is not None and flow.response.status_code == 407
    assert world.audit_lines()[0]["blocked"] == "proxy_auth"
    assert world.auth.tunnel_of(flow.client_conn) is None


async def test_a_tunnel_authenticates_every_request_inside_it_until_the_client_leaves(world: World) -> None:
    cfg, auth = world.session()
    connect = request("api.github.com", method="CONNECT", auth=auth)
    world.auth.http_connect(connect)
    assert connect.response is None
    assert world.auth.tunnel_of(connect.client_conn) == (cfg.session_id, ("api.github.com", 443))
    inner = tflow.tflow(client_conn=connect.client_conn, req=request("api.github.com", "/user").request)
    inner.client_conn.sni = "api.github.com"
    await run(world, inner, upstream=ok())
    assert inner.response is not None and inner.response.status_code == 200
    assert inner.metadata[addons.SESSION] is cfg
    world.auth.client_disconnected(connect.client_conn)
    assert world.auth.tunnel_of(connect.client_conn) is None


async def test_a_tls_sni_naming_another_host_than_the_tunnel_is_421(world: World) -> None:
    _, auth = world.session()
    connect = request("api.github.com", method="CONNECT", auth=auth)
    world.auth.http_connect(connect)
    inner = tflow.tflow(client_conn=connect.client_conn, req=request("api.github.com", "/").request)
    inner.client_conn.tls, inner.client_conn.sni = True, "evil.example"
    await run(world, inner)
    assert inner.response is not None and inner.response.status_code == 421
    assert "SNI" in (inner.response.text or "")


async def test_an_allowlist_session_cannot_even_open_a_tunnel_to_an_unlisted_host(world: World) -> None:
    _, auth = world.session(egress="allowlist", allowlist=["*.example.com"])
    refused = request("evil.example", method="CONNECT", auth=auth)
    world.auth.http_connect(refused)
    assert refused.response is not None and refused.response.status_code == 403
    allowed = request("api.example.com", method="CONNECT", auth=auth)
    world.auth.http_connect(allowed)
    assert allowed.response is None
    assert [line["blocked"] for line in world.audit_lines()] == ["egress"]


async def test_an_allowlist_session_still_reaches_the_hooks_host(world: World) -> None:
    # Status hooks go to the proxy itself (HooksHost answers them); an allowlist must not cut them off.
    _, auth = world.session(egress="allowlist", allowlist=["*.example.com"])
    tunnel = request(HOOKS_HOST, method="CONNECT", auth=auth)
    world.auth.http_connect(tunnel)
    assert tunnel.response is None


async def test_requests_are_refused_while_the_audit_cannot_be_written(world: World) -> None:
    _, auth = world.session()
    world.audit.path = world.home.root / "gone" / "audit.jsonl"  # a directory that is not there: writes fail
    world.audit.write({"event": "probe"})
    assert world.audit.error is not None
    flow = await run(world, request("example.com", auth=auth))
    assert flow.response is not None and flow.response.status_code == 503
    assert flow.metadata[addons.BLOCKED] == "audit_failing"


async def test_a_flow_that_skipped_requestheaders_is_refused(world: World) -> None:
    flow = request("example.com")
    world.auth.request(flow)
    assert flow.response is not None and flow.response.status_code == 407


# -- HooksHost --------------------------------------------------------------------------------------


async def test_the_hooks_host_is_answered_by_the_engine_handler_and_never_forwarded(world: World) -> None:
    cfg, auth = world.session()
    seen: list[tuple[str, str, str, bytes]] = []

    def handler(session_id: str, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        seen.append((session_id, method, path, body))
        return 200, {"Content-Type": "application/json"}, b'{"ok":true}'

    world.hooks.handler = handler
    flow = await run(world, request(HOOKS_HOST, "/hooks/stop", method="POST", scheme="http", port=80,
                                    body=b'{"event":"Stop"}', auth=auth))
    assert seen == [(cfg.session_id, "POST", "/hooks/stop", b'{"event":"Stop"}')]
    assert flow.response is not None and flow.response.json() == {"ok": True}
    assert world.resolved == []  # nothing was looked up or routed for it
    assert world.audit_lines()[0]["blocked"] == "hooks_host"


async def test_the_hooks_host_without_a_handler_is_404_and_a_failing_handler_500(world: World) -> None:
    _, auth = world.session()
    flow = await run(world, request(HOOKS_HOST, "/h", scheme="http", port=80, auth=auth))
    assert flow.response is not None and flow.response.status_code == 404

    def broken(*args: Any) -> tuple[int, dict[str, str], bytes]:
        raise RuntimeError("engine bug")

    world.hooks.handler = broken
    flow = await run(world, request(HOOKS_HOST, "/h", scheme="http", port=80, auth=auth))
    assert flow.response is not None and flow.response.status_code == 500


# -- Tripwire ---------------------------------------------------------------------------------------


async def test_a_real_credential_in_a_header_is_refused_and_its_path_withheld(world: World) -> None:
    _, auth = world.session(credential_names={"github_token"})
    flow = request("api.github.com", f"/search?q={SECRETS['GITHUB_TOKEN']}", auth=auth,
                   headers={"x-leak": base64.b64encode(SECRETS["GITHUB_TOKEN"].encode()).decode()})
    await run(world, flow, upstream=ok())
    assert flow.response is not None and flow.response.status_code == 403
    assert "authorization" not in flow.request.headers  # refused before anything was injected
    [line] = world.audit_lines()
    assert (line["blocked"], line["path"], line["credential"]) == ("tripwire", "(withheld)", None)
    assert SECRETS["GITHUB_TOKEN"] not in json.dumps(line)


async def test_a_real_credential_in_a_body_plain_or_compressed_is_refused(world: World) -> None:
    _, auth = world.session()
    plain = await run(world, request("example.com", "/up", method="POST", auth=auth,
                                     body=b'{"k":"' + SECRETS["ANTHROPIC_API_KEY"].encode() + b'"}'))
    packed = await run(world, request("example.com", "/up", method="POST", auth=auth,
                                      headers={"content-encoding": "gzip"},
                                      body=gzip.compress(SECRETS["CODEX_REFRESH_TOKEN"].encode())))
    for flow in (plain, packed):
        assert flow.response is not None and flow.response.status_code == 403
        assert flow.metadata[addons.BLOCKED] == "tripwire"


async def test_a_body_that_cannot_be_decoded_cannot_be_searched_and_is_refused(world: World) -> None:
    _, auth = world.session()
    flow = await run(world, request("example.com", "/up", method="POST", auth=auth,
                                    headers={"content-encoding": "gzip"}, body=b"not gzip at all"))
    assert flow.response is not None and flow.response.status_code == 415
    assert flow.metadata[addons.BLOCKED] == "undecodable_body"


async def test_an_honest_request_passes_the_tripwire(world: World) -> None:
    _, auth = world.session()
    flow = await run(world, request("example.com", "/up", method="POST", auth=auth, body=b"hello"), upstream=ok())
    assert flow.response is not None and flow.response.status_code == 200


# -- AccessPolicy -----------------------------------------------------------------------------------


async def test_a_read_only_session_may_read_and_call_its_model_but_not_write(world: World) -> None:
    _, auth = world.session(agent="claude", access_mode="read-only", credential_names={"anthropic_api_key"})
    read = await run(world, request("api.github.com", "/repos/x", auth=auth), upstream=ok())
    model = await run(world, request("api.anthropic.com", "/v1/messages", method="POST", auth=auth, body=b"{}"),
                      upstream=ok())
    write = await run(world, request("api.github.com", "/repos/x", method="DELETE", auth=auth), upstream=ok())
    disguised = await run(world, request("api.github.com", "/repos/x", auth=auth,
                                         headers={"x-http-method-override": "DELETE"}), upstream=ok())
    assert [f.response.status_code for f in (read, model, write, disguised) if f.response] == [200, 200, 403, 403]
    assert write.metadata[addons.BLOCKED] == disguised.metadata[addons.BLOCKED] == "read_only"
    assert disguised.response is not None and "x-http-method-override" in (disguised.response.text or "")


async def test_an_allowlist_session_reaches_listed_hosts_and_its_model_only(world: World) -> None:
    _, auth = world.session(agent="claude", egress="allowlist", allowlist=["*.example.com"],
                            credential_names={"anthropic_api_key"})
    listed = await run(world, request("api.example.com", auth=auth), upstream=ok())
    model = await run(world, request("api.anthropic.com", "/v1/messages", method="POST", auth=auth), upstream=ok())
    unlisted = await run(world, request("example.org", auth=auth), upstream=ok())
    assert [f.response.status_code for f in (listed, model, unlisted) if f.response] == [200, 200, 403]
    assert unlisted.metadata[addons.BLOCKED] == "egress"


# -- Router -----------------------------------------------------------------------------------------


async def test_a_route_sends_the_host_elsewhere_without_a_lookup(tmp_path: Path) -> None:
    routed = World(tmp_path, routes={"api.github.com": "http://127.0.0.1:9999"})
    with taddons.context(*routed.chain):
        _, auth = routed.session()
        flow = await run(routed, request("api.github.com", "/user", auth=auth))
        assert (flow.request.scheme, flow.request.host, flow.request.port) == ("http", "127.0.0.1", 9999)
        assert routed.resolved == []
        data = server_hooks.ServerConnectionHookData(server=tflow.tserver_conn(), client=flow.client_conn)
        data.server.address = ("api.github.com", 443)  # a tunnel's raw TCP to the routed host
        await routed.router.server_connect(data)
        assert data.server.address == ("127.0.0.1", 9999)


@pytest.mark.parametrize(("host", "status", "blocked"), [("metadata.internal", 403, "private_address"),
                                                         ("nowhere.invalid", 502, "upstream_error")])
async def test_non_public_or_unresolvable_targets_are_refused(world: World, host: str, status: int,
                                                              blocked: str) -> None:
    _, auth = world.session()
    flow = await run(world, request(host, auth=auth), upstream=ok())
    assert flow.response is not None and flow.response.status_code == status
    assert flow.metadata[addons.BLOCKED] == blocked
    if status == 502:
        assert flow.response.headers["X-Proxy-Error-Type"] == "DNS_RESOLUTION_FAILURE"
        assert world.audit_lines()[0]["error_type"] == "DNS_RESOLUTION_FAILURE"


async def test_the_connection_goes_to_the_address_that_was_checked(world: World) -> None:
    _, auth = world.session()
    flow = await run(world, request("example.com", auth=auth))
    server = tflow.tserver_conn()
    server.address, server.sni, server.tls = ("example.com", 443), None, True
    await world.router.server_connect(server_hooks.ServerConnectionHookData(server=server, client=flow.client_conn))
    assert server.address == (PUBLIC_IP, 443)
    assert server.sni == "example.com"  # TLS still names the host
    assert world.resolved == [("example.com", 443)]  # once: no second lookup to rebind


async def test_a_connection_no_request_checked_is_checked_before_it_opens(world: World) -> None:
    server = tflow.tserver_conn()
    server.address = ("db.internal", 5432)
    await world.router.server_connect(server_hooks.ServerConnectionHookData(server=server,
                                                                            client=tflow.tclient_conn()))
    assert server.error is not None and "private" in server.error


# -- Injector ---------------------------------------------------------------------------------------


async def test_the_placeholder_is_replaced_by_the_real_credential_of_the_sessions_set(world: World) -> None:
    _, auth = world.session(agent="claude", credential_names={"anthropic_api_key", "github_token"})
    model = await run(world, request("api.anthropic.com", "/v1/messages", method="POST", auth=auth, body=b"{}",
                                     headers={"x-api-key": PLACEHOLDERS["anthropic_api_key"],
                                              "authorization": "Bearer stale"}), upstream=ok())
    assert model.request.headers["x-api-key"] == SECRETS["ANTHROPIC_API_KEY"]
    assert "authorization" not in model.request.headers  # the other alternative's header is dropped
    git = await run(world, request("github.com", "/o/r.git/info/refs", auth=auth), upstream=ok())
    basic = base64.b64encode(f"x-access-token:{SECRETS['GITHUB_TOKEN']}".encode()).decode()
    assert git.request.headers["authorization"] == f"Basic {basic}"
    lines = world.audit_lines()
    assert [line["credential"] for line in lines] == ["anthropic_api_key", "github_token"]
    assert not any(value in json.dumps(lines) for value in SECRETS.values())


async def test_a_credential_outside_the_sessions_set_is_not_injected(world: World) -> None:
    _, auth = world.session(credential_names={"anthropic_api_key"})
    flow = await run(world, request("api.github.com", "/user", auth=auth,
                                    headers={"authorization": f"Bearer {PLACEHOLDERS['github_token']}"}), upstream=ok())
    assert flow.request.headers["authorization"] == f"Bearer {PLACEHOLDERS['github_token']}"
    assert addons.CREDENTIAL not in flow.metadata


async def test_codex_oauth_carries_its_account_id(world: World) -> None:
    _, auth = world.session(agent="codex", credential_names={CODEX_OAUTH})
    flow = await run(world, request("chatgpt.com", "/backend-api/codex/responses", method="POST", auth=auth),
                     upstream=ok())
    assert flow.request.headers["authorization"] == f"Bearer {SECRETS['CODEX_ACCESS_TOKEN']}"
    assert flow.request.headers["chatgpt-account-id"] == SECRETS["CODEX_ACCOUNT_ID"]


@pytest.mark.parametrize(("agent", "host", "path", "message_at"), [
    ("claude", "api.anthropic.com", "/v1/messages", ("error", "message")),
    ("codex", "chatgpt.com", "/backend-api/codex/responses", ("error", "message")),
    ("gemini", "generativelanguage.googleapis.com", "/v1beta/models/m:streamGenerateContent", ("error", "message")),
])
async def test_a_model_call_with_no_credential_is_answered_401_in_the_apis_own_shape(
        tmp_path: Path, agent: str, host: str, path: str, message_at: tuple[str, str]) -> None:
    """Nothing goes upstream; the body says what to set, where the agent's CLI reads an error's message, and the
    engine hears of it for the session's agent status. A session holding the credential is not affected."""
    bare = World(tmp_path)
    bare.credentials = bare.injector.credentials = CredentialStore(secrets_dir=tmp_path / "secrets", environ={})
    heard: list[tuple[str, str]] = []
    bare.injector.on_missing_credential = lambda session_id, message: heard.append((session_id, message))
    with taddons.context(*bare.chain):
        cfg, auth = bare.session(agent=agent, credential_names={c.name for c in model_credentials_of(agent)})
        flow = await run(bare, request(host, path, method="POST", auth=auth, body=b"{}"))
    assert flow.response is not None and flow.response.status_code == 401
    assert flow.response.headers["content-type"] == "application/json"
    assert flow.response.headers["x-should-retry"] == "false"  # asking again will not help
    body = json.loads(flow.response.content or b"")
    message = body[message_at[0]][message_at[1]]
    names = " or ".join(c.name for c in model_credentials_of(agent))
    assert message.startswith(f"clauderon holds no {names} for this session, so {host} was not called: ")
    assert ENV_NAMES[model_credentials_of(agent)[-1].name][0] in message and "op://" in message
    assert str(tmp_path / "secrets") in message
    assert heard == [(cfg.session_id, message)]
    [line] = bare.audit_lines()
    assert (line["status"], line["blocked"], line["credential"]) == (401, "no_credential", None)


def model_credentials_of(agent: str) -> tuple[Any, ...]:
    """The agent's model credentials, in its order of preference."""
    return agent_named(agent).traffic.model_credentials


async def test_the_401_shapes_are_the_ones_the_apis_use() -> None:
    assert json.loads(authentication_error("anthropic", "m")[0]) == {
        "type": "error", "error": {"type": "authentication_error", "message": "m"}}
    openai = json.loads(authentication_error("openai", "m")[0])["error"]
    assert (openai["message"], openai["type"], openai["code"]) == ("m", "invalid_request_error", "invalid_api_key")
    assert json.loads(authentication_error("google", "m")[0])["error"]["status"] == "UNAUTHENTICATED"
    assert authentication_error("", "m") == (b"clauderon proxy: m\n", {"Content-Type": "text/plain",
                                                                        "x-should-retry": "false"})


async def test_a_token_endpoint_and_other_hosts_are_not_refused_for_want_of_a_model_credential(tmp_path: Path) -> None:
    bare = World(tmp_path)
    bare.credentials = bare.injector.credentials = CredentialStore(secrets_dir=tmp_path / "secrets", environ={})
    with taddons.context(*bare.chain):
        _, auth = bare.session(agent="codex", credential_names={CODEX_OAUTH})
        token = await run(bare, request("auth.openai.com", "/oauth/token", method="POST", auth=auth, body=b"{}"),
                          upstream=ok())
        other = await run(bare, request("api.github.com", "/user", auth=auth), upstream=ok())
    assert [f.response.status_code for f in (token, other) if f.response] == [200, 200]


# -- TokenRefresh -----------------------------------------------------------------------------------


async def test_a_codex_token_refresh_is_swapped_both_ways(world: World) -> None:
    _, auth = world.session(agent="codex", credential_names={CODEX_OAUTH})
    body = json.dumps({"grant_type": "refresh_token", "refresh_token": PLACEHOLDERS["codex_refresh_token"]}).encode()
    fresh = {"access_token": "codex-NEW-access-abcdef0123456789", "refresh_token": "codex-NEW-refresh-abcdef012345",
             "id_token": SECRETS["CODEX_ID_TOKEN"].replace("REAL", "NEW0")}
    flow = request("auth.openai.com", "/oauth/token", method="POST", auth=auth, body=body)
    await fire(world, layers.http.HttpRequestHeadersHook(flow))
    assert flow.request.stream is False or flow.request.stream is None  # read whole, to be rewritten
    await fire(world, layers.http.HttpRequestHook(flow))
    assert json.loads(flow.request.content or b"")["refresh_token"] == SECRETS["CODEX_REFRESH_TOKEN"]
    flow.response = http.Response.make(200, json.dumps(fresh).encode(), {"content-type": "application/json"})
    await fire(world, layers.http.HttpResponseHeadersHook(flow))
    assert not flow.response.stream  # the Streamer leaves it whole
    await fire(world, layers.http.HttpResponseHook(flow))
    answered = json.loads(flow.response.content or b"")
    assert answered["access_token"] == PLACEHOLDERS["codex_access_token"]
    assert answered["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]
    assert fresh["id_token"] not in json.dumps(answered)
    codex = world.credentials.codex
    assert codex is not None and (codex.access_token, codex.refresh_token) == (fresh["access_token"],
                                                                                fresh["refresh_token"])
    assert fresh["access_token"] in world.credentials.real_values()  # the tripwire knows the new value


# -- BodyStreams and Streamer -----------------------------------------------------------------------


async def test_large_or_chunked_bodies_stream_through_the_scanner_and_small_ones_are_read_whole(world: World) -> None:
    _, auth = world.session()
    small = request("example.com", "/up", method="POST", auth=auth, body=b"x" * 100)
    large = request("example.com", "/up", method="POST", auth=auth)
    large.request.headers["content-length"] = str(addons.BodyStreams.STREAM_ABOVE + 1)
    chunked = request("example.com", "/up", method="POST", auth=auth)
    chunked.request.headers["transfer-encoding"] = "chunked"
    del chunked.request.headers["content-length"]
    for flow in (small, large, chunked):
        await fire(world, layers.http.HttpRequestHeadersHook(flow))
    assert not small.request.stream
    assert isinstance(large.request.stream, BodyScanner) and isinstance(chunked.request.stream, BodyScanner)
    scanner = chunked.request.stream
    with pytest.raises(Refused) as refused:
        scanner(b"prefix " + SECRETS["GITHUB_TOKEN"].encode())
    assert refused.value.reason == "tripwire"


async def test_responses_stream_as_they_arrive(world: World) -> None:
    _, auth = world.session()
    flow = await run(world, request("example.com", auth=auth), upstream=ok(b"data: 1\n\n", **{"content-type":
                                                                                             "text/event-stream"}))
    assert flow.response is not None and flow.response.stream is True


# -- RawTunnels -------------------------------------------------------------------------------------


def raw_flow(client: Any) -> tcp.TCPFlow:
    flow = tflow.ttcpflow(client_conn=client, messages=[])
    return flow


async def test_raw_tcp_in_a_tunnel_is_cut_and_audited(world: World) -> None:
    cfg, auth = world.session()
    connect = request("db.example.com", method="CONNECT", port=5432, auth=auth)
    world.auth.http_connect(connect)
    flow = raw_flow(connect.client_conn)
    world.raw.tcp_start(flow)
    assert flow.metadata[addons.BLOCKED] == "raw_tcp"
    data = server_hooks.ServerConnectionHookData(server=flow.server_conn, client=flow.client_conn)
    world.raw.server_connect(data)
    assert data.server.error is not None and "raw TCP refused" in data.server.error
    flow.messages.append(tcp.TCPMessage(True, b"SELECT secrets"))
    world.raw.tcp_message(flow)
    assert flow.messages[-1].content == b""  # not one byte relayed
    [line] = world.audit_lines()
    assert (line["session"], line["host"], line["method"], line["blocked"]) == (cfg.session_id, "db.example.com",
                                                                                "TCP", "raw_tcp")


async def test_raw_tcp_to_a_listed_target_is_relayed_and_its_bytes_counted(tmp_path: Path) -> None:
    allowed = World(tmp_path, raw_tcp=["db.example.com:5432"])
    with taddons.context(*allowed.chain):
        _, auth = allowed.session()
        connect = request("db.example.com", method="CONNECT", port=5432, auth=auth)
        allowed.auth.http_connect(connect)
        flow = raw_flow(connect.client_conn)
        allowed.raw.tcp_start(flow)
        flow.messages += [tcp.TCPMessage(True, b"ping"), tcp.TCPMessage(False, b"pong!!")]
        allowed.raw.tcp_message(flow)
        assert flow.messages[-1].content == b"pong!!"
        allowed.raw.tcp_end(flow)
        [line] = allowed.audit_lines()
        assert (line["blocked"], line["bytes_up"], line["bytes_down"]) == (None, 4, 6)


# -- Auditor ----------------------------------------------------------------------------------------


async def test_a_streamed_body_refused_part_way_is_audited_with_the_refusal(world: World) -> None:
    cfg, auth = world.session()
    flow = request("example.com", "/upload/secret-name", method="POST", auth=auth)
    await fire(world, layers.http.HttpRequestHeadersHook(flow))
    flow.metadata[REFUSED] = Refused(403, "tripwire", "request refused")
    flow.error = tflow.terr("refused")
    await fire(world, layers.http.HttpErrorHook(flow))
    [line] = world.audit_lines()
    assert (line["session"], line["status"], line["blocked"], line["path"]) == (cfg.session_id, 403, "tripwire",
                                                                                "(withheld)")


@pytest.mark.parametrize(("message", "status", "blocked", "error_type"), [
    ("body_size_limit exceeded", 413, "body_too_large", None),
    ("[Errno 111] Connect call failed ('93.184.216.34', 443)", 502, "upstream_error", "CONNECTION_REFUSED"),
])
async def test_failed_flows_are_audited_with_what_failed(world: World, message: str, status: int, blocked: str,
                                                         error_type: str | None) -> None:
    _, auth = world.session()
    flow = request("example.com", "/", auth=auth)
    await fire(world, layers.http.HttpRequestHeadersHook(flow))
    flow.error = tflow.terr(message)
    await fire(world, layers.http.HttpErrorHook(flow))
    [line] = world.audit_lines()
    assert (line["status"], line["blocked"], line["error_type"]) == (status, blocked, error_type)


async def test_one_line_a_flow_even_when_two_hooks_would_record_it(world: World) -> None:
    _, auth = world.session()
    flow = await run(world, request("example.com", "/a", auth=auth), upstream=ok())
    flow.error = tflow.terr("connection closed")
    await fire(world, layers.http.HttpErrorHook(flow))
    assert len(world.audit_lines()) == 1
