"""The mitmproxy addons, one concern each, in the order they run for a request:

ProxyAuth (407, 421) -> Tripwire on path and headers (403) -> AccessPolicy (read-only, egress) -> Router
(routes, non-public targets, DNS pinning) -> Injector (401 for a model call no credential can go on) -> TokenRefresh
-> BodyStreams, all decided from the
request's headers (`requestheaders`), so that a body can stream upstream as it arrives. What needs the
whole body runs once it is in (`request`): HooksHost, the Tripwire on a buffered body, TokenRefresh's
rewrite. Then Streamer and Auditor on the way back. Each hook returns early once the flow is `answered`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from mitmproxy import connection, http, tcp
from mitmproxy.proxy import server_hooks

from proxy import tripwire
from proxy.audit import AuditLog
from proxy.credentials import CODEX_OAUTH, CredentialStore, how_to_provide
from proxy.errorpages import REFUSED
from proxy.model_errors import authentication_error
from proxy.policy import Blocked, Unresolvable, classify_error, egress_allowed, read_only_allows, resolve_public
from proxy.rules import (
    HOOKS_HOST,
    PLACEHOLDERS,
    TOKEN_ENDPOINTS,
    InjectionRule,
    injection_for,
    model_credentials_for,
    placeholder_jwt,
)
from proxy.sessions import SessionProxyConfig, SessionRegistry
from proxy.target import canonical_host, clean_text, same_target

logger = logging.getLogger(__name__)

SESSION = "clauderon.session"
HOST = "clauderon.host"
PORT = "clauderon.port"
CREDENTIAL = "clauderon.credential"
BLOCKED = "clauderon.blocked"
AUDITED = "clauderon.audited"
TOKEN = "clauderon.token_endpoint"
ERROR_TYPE = "clauderon.error_type"
REDACT_PATH = "clauderon.redact_path"  # the path may hold what the tripwire found: never audited

HooksHandler = Callable[[str, str, str, bytes], tuple[int, dict[str, str], bytes]]


def refuse(flow: http.HTTPFlow, status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> None:
    """Answer the flow ourselves and remember why, for the audit line (no credential went out with it)."""
    flow.metadata[BLOCKED] = reason
    flow.metadata.pop(CREDENTIAL, None)
    flow.response = http.Response.make(status, f"clauderon proxy: {message}\n",
                                       {"Content-Type": "text/plain", **(headers or {})})


def session_of(flow: http.HTTPFlow) -> SessionProxyConfig:
    """The session `ProxyAuth` attached to the flow."""
    cfg: SessionProxyConfig = flow.metadata[SESSION]
    return cfg


def answered(flow: http.HTTPFlow) -> bool:
    """Nothing more to decide: refused already, or for the engine's hooks (answered here, never forwarded)."""
    return flow.response is not None or flow.metadata.get(HOST) == HOOKS_HOST


def has_body(req: http.Request) -> bool:
    length = req.headers.get("content-length", "0").strip()
    return "transfer-encoding" in req.headers or not length.isdigit() or int(length) > 0


class ProxyAuth:
    """Every flow must carry a registered session's proxy credentials (the CONNECT proves them for the
    whole tunnel), checked from the headers, before any body is read; failures get 407.

    It also decides the flow's one target (`HOST`, `PORT`): the CONNECT target for everything inside a
    tunnel, else the absolute URL's host. A `Host` header, `:authority` or TLS SNI naming anything else
    is refused with 421 (see proxy/target.py), so no later addon can be talked into another host."""

    CHALLENGE = {"Proxy-Authenticate": 'Basic realm="clauderon"'}

    def __init__(self, registry: SessionRegistry, auditor: Auditor, allowlist: list[str] | None = None) -> None:
        self.registry = registry
        self.auditor = auditor
        self.allowlist = list(allowlist or [])
        self._tunnels: dict[str, tuple[str, tuple[str, int]]] = {}  # client id -> (session id, target)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        cfg = self.registry.authenticate(flow.request.headers.get("Proxy-Authorization"))
        target: tuple[str, int] | None
        try:
            target = (canonical_host(flow.request.host), flow.request.port)
        except ValueError as exc:
            target = None
            refuse(flow, 400, "bad_target", str(exc))
        else:
            flow.metadata[HOST], flow.metadata[PORT] = target
            if cfg is None:
                refuse(flow, 407, "proxy_auth", "proxy authentication required", self.CHALLENGE)
            elif (cfg.egress == "allowlist" and target[0] != HOOKS_HOST  # answered here, never forwarded
                  and not egress_allowed(target[0], cfg.traffic.model_hosts, [*self.allowlist, *cfg.allowlist])):
                # Decided for the tunnel as a whole too: nothing at all reaches an unlisted host.
                flow.metadata[SESSION] = cfg
                refuse(flow, 403, "egress", f"{target[0]} is not on session {cfg.name}'s egress allowlist")
        if flow.response is not None or cfg is None or target is None:
            # Audited here: the Auditor's response hook skips CONNECTs, so this line must carry the refusal.
            self.auditor.record(flow, flow.response.status_code if flow.response else 407)
            return
        flow.metadata[SESSION] = cfg
        self._tunnels[flow.client_conn.id] = (cfg.session_id, target)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        if req.method == "CONNECT" or flow.response:
            return
        tunnel = self._tunnels.get(flow.client_conn.id)
        if tunnel is not None:
            session_id, target = tunnel
            cfg = self.registry.get(session_id)  # None once the session is unregistered
        else:
            cfg = self.registry.authenticate(req.headers.get("Proxy-Authorization"))
            try:
                target = (canonical_host(req.host), req.port)
            except ValueError as exc:
                flow.metadata[HOST], flow.metadata[PORT] = req.host, req.port
                refuse(flow, 400, "bad_target", str(exc))
                return
        req.headers.pop("Proxy-Authorization", None)
        flow.metadata[HOST], flow.metadata[PORT] = target
        if cfg is None:
            refuse(flow, 407, "proxy_auth", "proxy authentication required", self.CHALLENGE)
            return
        flow.metadata[SESSION] = cfg
        problem = self.auditor.log.problem()
        if problem:  # fail closed: a request that cannot be audited does not go out
            refuse(flow, 503, "audit_failing", f"{problem}; requests are refused until the audit works again")
            return
        misdirection = self._misdirection(flow, target, tunnelled=tunnel is not None)
        if misdirection:
            logger.warning("session %s: %s", cfg.session_id, misdirection)
            refuse(flow, 421, "misdirected", misdirection)

    @staticmethod
    def _misdirection(flow: http.HTTPFlow, target: tuple[str, int], *, tunnelled: bool) -> str | None:
        """Why the request names another host than the one it will reach, or None."""
        req = flow.request
        scheme = "https" if tunnelled and flow.client_conn.tls else req.scheme
        names = req.headers.get_all("host")
        if len(names) > 1:
            return "a request with two Host headers is refused"
        authority = req.host_header  # the Host header, or :authority in HTTP/2
        if authority and not same_target(target, authority, scheme):
            return (f"the request names {clean_text(authority)!r} but goes to {target[0]}:{target[1]}; "
                    "misdirected requests are refused")
        sni = flow.client_conn.sni if tunnelled else None
        if sni:
            try:
                if canonical_host(sni) != target[0]:
                    return f"TLS SNI {clean_text(sni)!r} does not match the tunnel's target {target[0]}"
            except ValueError:
                return "an invalid TLS SNI is refused"
        return None

    def request(self, flow: http.HTTPFlow) -> None:
        """A flow that skipped `requestheaders` (none should) is refused rather than let through."""
        if not flow.response and SESSION not in flow.metadata:
            flow.metadata.setdefault(HOST, flow.request.host)
            refuse(flow, 407, "proxy_auth", "proxy authentication required", self.CHALLENGE)

    def tunnel_of(self, client: connection.Client) -> tuple[str, tuple[str, int]] | None:
        """(session id, target) of the CONNECT tunnel `client` opened, or None."""
        return self._tunnels.get(client.id)

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels.pop(client.id, None)


HOOK_SECONDS = 10.0
"""The longest one hook may take to be answered; past it the hook gets 504 and the proxy moves on."""


class HooksHost:
    """`clauderon.internal` is answered by the engine's handler (agent hooks), never forwarded.

    Handlers run on a small executor of their own with a time bound: a hook whose handling blocks (it
    reads agent-named files) can then hold up only other hooks, never DNS lookups or other sessions'
    requests on the shared default executor."""

    def __init__(self) -> None:
        self.handler: HooksHandler | None = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="clauderon-hooks")

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.metadata[HOST] != HOOKS_HOST:
            return
        flow.metadata[BLOCKED] = "hooks_host"  # answered locally; audited as such
        handler = self.handler
        if handler is None:
            flow.response = http.Response.make(404, b"no hooks handler registered\n", {"Content-Type": "text/plain"})
            return
        req = flow.request
        try:
            # The engine's handler may block (it talks to the engine); keep it off the proxy loop.
            status, headers, body = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(
                self._executor, handler, session_of(flow).session_id, req.method, req.path, req.raw_content or b""),
                HOOK_SECONDS)
        except TimeoutError:
            logger.warning("hook %s of session %s took over %.0fs", req.path, session_of(flow).session_id, HOOK_SECONDS)
            status, headers, body = 504, {"Content-Type": "text/plain"}, b"hook handling timed out\n"
        except Exception:  # the handler is engine code; its failure must not kill the proxy
            logger.exception("hooks handler failed")
            status, headers, body = 500, {"Content-Type": "text/plain"}, b"hooks handler failed\n"
        flow.response = http.Response.make(status, body, dict(headers))


class Tripwire:
    """A request carrying a real credential value (which only the host should hold), in any encoding
    `proxy.tripwire` knows, is refused before anything is injected: something inside the container has a
    secret it must not have. Its path is never audited (it may be what carried the value).

    Path and headers are searched as they arrive; a body either as it streams (`BodyStreams`) or, when it
    had to be read whole, once it is in."""

    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials
        self._values: frozenset[str] | None = None
        self._pattern: re.Pattern[bytes] | None = None

    def needles(self) -> tuple[re.Pattern[bytes] | None, int]:
        """The pattern matching any real value in any form, and the longest value's length."""
        values = self.credentials.real_values()
        if values is not self._values:  # recompiled only when the credentials change (e.g. a refresh)
            self._values = values
            self._pattern = tripwire.compile_needles(values)
        return self._pattern, max(map(len, values), default=0)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        pattern, _ = self.needles()
        if answered(flow) or pattern is None:
            return
        req = flow.request
        self._check(flow, pattern, [req.path.encode("utf-8", "surrogateescape"),
                                    *tripwire.header_haystacks(req.headers.fields)])

    def request(self, flow: http.HTTPFlow) -> None:
        pattern, _ = self.needles()
        req = flow.request
        if answered(flow) or pattern is None or req.stream or not req.raw_content:
            return
        hay = [req.raw_content]
        if "content-encoding" in req.headers:
            # A compressed body hides the value from a search of its bytes: search what the upstream will
            # decode too, every layer of it; a stack that cannot be undone cannot be searched.
            try:
                hay.append(tripwire.undo_content_encoding(req.raw_content, req.headers["content-encoding"]))
            except tripwire.Undecodable as exc:
                flow.metadata[REDACT_PATH] = True
                refuse(flow, 415, "undecodable_body", f"request refused: {exc}; the proxy must be able to read "
                       "what leaves a sandbox")
                return
        self._check(flow, pattern, hay)

    @staticmethod
    def _check(flow: http.HTTPFlow, pattern: re.Pattern[bytes], hay: list[bytes]) -> None:
        if tripwire.carries_secret(pattern, hay):
            logger.warning("tripwire: session %s sent a real credential to %s", session_of(flow).session_id,
                           flow.metadata[HOST])
            flow.metadata[REDACT_PATH] = True
            refuse(flow, 403, "tripwire", "request refused: it contains a real credential value")


METHOD_OVERRIDES = ("x-http-method-override", "x-http-method", "x-method-override")


def read_only_disguise(req: http.Request) -> str | None:
    """How a request would pass for a read while writing, or None: a method override header (many APIs
    honour it), a read method carrying a body, or an upgrade to a websocket (a two-way channel)."""
    for name in METHOD_OVERRIDES:
        if name in req.headers:
            return f"the {name} header is refused"
    if req.headers.get("upgrade") or "upgrade" in req.headers.get("connection", "").lower():
        return "protocol upgrades (websockets) are refused"
    if req.method.upper() in ("GET", "HEAD", "OPTIONS") and has_body(req):
        return "a read with a body is refused"
    return None


class AccessPolicy:
    """Read-only sessions may only read (plus their model calls); allowlist sessions only reach listed hosts."""

    def __init__(self, allowlist: list[str]) -> None:
        self.allowlist = allowlist

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if answered(flow):
            return
        cfg, host, req = session_of(flow), flow.metadata[HOST], flow.request
        if cfg.access_mode == "read-only":
            why = read_only_disguise(req)
            if not why and not read_only_allows(req.method, host, req.path, cfg.traffic.model_calls):
                why = f"{req.method} is a write"
            if why:
                refuse(flow, 403, "read_only", f"session {cfg.name} is read-only: {clean_text(req.method, 32)} "
                       f"{host}{clean_text(req.path, 200)} refused ({why}; switch the session to read-write "
                       "to allow writes)")
                return
        if cfg.egress == "allowlist" and not egress_allowed(host, cfg.traffic.model_hosts,
                                                           [*self.allowlist, *cfg.allowlist]):
            refuse(flow, 403, "egress", f"{host} is not on session {cfg.name}'s egress allowlist")


class Router:
    """Routes from settings send a host elsewhere; every other target must resolve to public addresses
    only, and the connection goes to the address that was checked (no second lookup to rebind)."""

    def __init__(self, routes: dict[str, str],
                 resolve: Callable[[str, int], Awaitable[str]] = resolve_public) -> None:
        self.resolve = resolve
        """`async (host, port) -> checked address`; replaceable so tests can stand in for DNS."""
        self.routes: dict[str, tuple[str, str, int]] = {}
        for host, url in routes.items():
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            self.routes[host.lower()] = (parts.scheme or "http", parts.hostname or "", port)
        self._route_targets = {(h, p) for _, h, p in self.routes.values()}
        self._pins: dict[tuple[str, int], str] = {}

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        if answered(flow):
            return
        req = flow.request
        route = self.routes.get(flow.metadata[HOST].lower())
        if route is not None:
            req.scheme, req.host, req.port = route
            return
        try:
            self._pins[(req.host, req.port)] = await self.resolve(req.host, req.port)
        except Blocked as exc:
            refuse(flow, 403, "private_address", f"{exc}; only a route in proxy.toml may name such a target")
        except Unresolvable as exc:
            flow.metadata[ERROR_TYPE] = "DNS_RESOLUTION_FAILURE"
            refuse(flow, 502, "upstream_error", str(exc), {"X-Proxy-Error-Type": "DNS_RESOLUTION_FAILURE"})

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        server = data.server
        if server.address is None or tuple(server.address) in self._route_targets:
            return
        host, port = server.address
        route = self.routes.get(str(host).lower())
        if route is not None:  # a tunnel's raw TCP (HTTP flows were routed in `request`)
            server.address = (route[1], route[2])
            return
        ip = self._pins.get((host, port))
        if ip is None:  # not seen by `requestheaders` (should not happen with lazy connections): check here too
            try:
                ip = await self.resolve(host, port)
            except (Blocked, Unresolvable) as exc:
                server.error = f"clauderon: {exc}"
                return
        if ip != host:
            if server.sni is None and server.tls:
                server.sni = host
            server.address = (ip, port)


MissingCredentialHandler = Callable[[str, str], None]
"""`(session_id, message)`: a session's agent called its model with no credential to put on the call."""


class Injector:
    """Replaces placeholders with real credentials, per the rule table and the session's credential set.

    A call to the agent's model API that no credential can go on is answered here with a 401 in the API's own
    shape naming what to set (the agent's CLI shows it), and reported to `on_missing_credential`: sent on, it
    would carry only a placeholder and fail upstream in ways agents retry for minutes."""

    def __init__(self, credentials: CredentialStore, rules: tuple[InjectionRule, ...]) -> None:
        self.credentials = credentials
        self.rules = rules
        self.on_missing_credential: MissingCredentialHandler | None = None
        """Called on the proxy's loop: must not block (the engine hands it to its own loop)."""

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if answered(flow):
            return
        cfg, headers, host = session_of(flow), flow.request.headers, flow.metadata[HOST]
        injection = injection_for(self.rules, self.credentials, host, cfg.credential_names)
        if injection is None:
            names = model_credentials_for(self.rules, cfg.traffic, host)
            if names:
                self._refuse_missing(flow, cfg, host, names)
            return
        for name in injection.remove:
            headers.pop(name, None)
        headers.update(injection.headers)
        flow.metadata[CREDENTIAL] = injection.credential

    def _refuse_missing(self, flow: http.HTTPFlow, cfg: SessionProxyConfig, host: str, names: list[str]) -> None:
        message = (f"clauderon holds no {' or '.join(names)} for this session, so {host} was not called: "
                   f"{how_to_provide(names, self.credentials.secrets_dir)}; then create a new session")
        body, headers = authentication_error(cfg.traffic.error_shape, message)
        refuse(flow, 401, "no_credential", message)
        flow.response = http.Response.make(401, body, headers)
        handler = self.on_missing_credential
        if handler is not None:
            try:
                handler(cfg.session_id, message)
            except Exception:  # engine code: its failure must not take the proxy down
                logger.exception("missing-credential report for session %s failed", cfg.session_id)


class TokenRefresh:
    """Codex's OAuth refresh: the container holds placeholder tokens. The placeholder refresh token going
    up is swapped for the real one; real tokens coming back are kept on the host and replaced by
    placeholders. These responses are read whole (never streamed) so they can be rewritten."""

    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if answered(flow) or (flow.metadata[HOST], flow.request.path.split("?")[0]) not in TOKEN_ENDPOINTS:
            return
        if self.credentials.codex is not None and CODEX_OAUTH in session_of(flow).credential_names:
            flow.metadata[TOKEN] = True  # read whole (BodyStreams), rewritten in `request`

    def request(self, flow: http.HTTPFlow) -> None:
        codex = self.credentials.codex
        if answered(flow) or not flow.metadata.get(TOKEN) or codex is None:
            return
        flow.metadata[CREDENTIAL] = CODEX_OAUTH
        body = flow.request.raw_content or b""
        flow.request.content = body.replace(PLACEHOLDERS["codex_refresh_token"].encode(), codex.refresh_token.encode())

    def response(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(TOKEN) or flow.response is None:
            return
        try:
            data = json.loads(flow.response.content or b"")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return
        access, refresh, id_token = data.get("access_token"), data.get("refresh_token"), data.get("id_token")
        if access or refresh or id_token:
            self.credentials.update_codex_tokens(access, refresh, id_token)
        if access:
            data["access_token"] = PLACEHOLDERS["codex_access_token"]
        if refresh:
            data["refresh_token"] = PLACEHOLDERS["codex_refresh_token"]
        if id_token:
            data["id_token"] = placeholder_jwt(id_token)
        flow.response.content = json.dumps(data).encode()


class BodyStreams:
    """A large request body goes upstream as it arrives, through the tripwire's `BodyScanner`, so a 1 GB
    upload never sits in the engine: one with no length given (chunked) or over `STREAM_ABOVE`. A smaller
    one is read whole and searched before one byte of it goes out, so a refused request never reaches the
    upstream at all. Read whole too: hooks and token refreshes (answered or rewritten here) and
    content-encoded bodies (decoded whole to be searched), all up to max_body_bytes."""

    STREAM_ABOVE = 1024 * 1024

    def __init__(self, wire: Tripwire, max_body_bytes: int) -> None:
        self.wire, self.max_body_bytes = wire, max_body_bytes

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        if answered(flow) or flow.metadata.get(TOKEN) or "content-encoding" in req.headers or not has_body(req):
            return
        length = req.headers.get("content-length", "").strip()
        if "transfer-encoding" in req.headers or not length.isdigit() or int(length) > self.STREAM_ABOVE:
            req.stream = tripwire.BodyScanner(*self.wire.needles(), self.max_body_bytes)


class Streamer:
    """Forward every response as it arrives (SSE event by event), except token endpoint responses."""

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and not flow.metadata.get(TOKEN):
            flow.response.stream = True


class RawTunnels:
    """Tunnels carry HTTP only. Bytes that are neither HTTP nor TLS around HTTP (what mitmproxy hands to
    its TCP layer) skip everything HTTP-level (allowlist, read-only, tripwire): they are cut at once and
    audited, unless `[proxy] raw_tcp` names that host:port; then one audit line per connection records
    the bytes each way."""

    def __init__(self, auth: ProxyAuth, auditor: Auditor, allowed: list[str]) -> None:
        self.auth, self.auditor = auth, auditor
        self.allowed = {a.strip().lower() for a in allowed}
        self._refused: set[str] = set()  # ids of server connections a refused raw flow would open

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        session_id, (host, port) = self.auth.tunnel_of(flow.client_conn) or (None, ("?", 0))
        flow.metadata[SESSION], flow.metadata[HOST], flow.metadata[PORT] = session_id, host, port
        if f"{host}:{port}" in self.allowed:
            return
        logger.warning("session %s: raw TCP to %s:%s refused (tunnels carry HTTP only)", session_id, host, port)
        flow.metadata[BLOCKED] = "raw_tcp"
        self.auditor.record_tcp(flow)
        self._refused.add(flow.server_conn.id)  # mitmproxy opens it next: `server_connect` stops that

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.id in self._refused:
            self._refused.discard(data.server.id)
            data.server.error = "clauderon: tunnels carry HTTP only; raw TCP refused"

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        if flow.metadata.get(BLOCKED):  # a second wall: not one byte of a refused flow is relayed
            flow.messages[-1].content = b""

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        if not flow.metadata.get(BLOCKED):
            self.auditor.record_tcp(flow)

    tcp_error = tcp_end


class Auditor:
    """One audit line per request (never a credential value), and the error type of failed upstreams."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def record(self, flow: http.HTTPFlow, status: int | None, error_type: str | None = None) -> None:
        if flow.metadata.get(AUDITED):
            return
        flow.metadata[AUDITED] = True
        cfg = flow.metadata.get(SESSION)
        req = flow.request
        self.log.write({
            "ts": round(time.time(), 3),
            "session": cfg.session_id if cfg else None,
            # Container-chosen strings are stored without control characters (the audit is printed).
            "host": clean_text(str(flow.metadata.get(HOST, req.host)), 300),
            "method": clean_text(req.method, 32),
            "path": "(withheld)" if flow.metadata.get(REDACT_PATH) else clean_text(req.path.split("?", 1)[0], 2000),
            "credential": flow.metadata.get(CREDENTIAL),
            "status": status,
            "blocked": flow.metadata.get(BLOCKED),
            "error_type": error_type or flow.metadata.get(ERROR_TYPE),
            "duration_ms": round((time.time() - req.timestamp_start) * 1000, 1),
        })

    def record_tcp(self, flow: tcp.TCPFlow) -> None:
        """One line per raw TCP connection: refused, or allowed with the bytes each way."""
        up = sum(len(m.content) for m in flow.messages if m.from_client)
        self.log.write({
            "ts": round(time.time(), 3), "session": flow.metadata.get(SESSION),
            "host": clean_text(str(flow.metadata.get(HOST)), 300), "method": "TCP", "path": "",
            "credential": None, "status": None, "blocked": flow.metadata.get(BLOCKED),
            "bytes_up": up, "bytes_down": sum(len(m.content) for m in flow.messages) - up,
        })

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.request.method != "CONNECT":
            self.record(flow, flow.response.status_code if flow.response else None)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.request.method == "CONNECT":
            return
        msg = flow.error.msg if flow.error else ""
        refusal = flow.metadata.get(REFUSED)
        if refusal is not None:  # a streamed body refused part-way (errorpages); the upstream never got all of it
            flow.metadata[BLOCKED] = refusal.reason
            if refusal.reason == "tripwire":
                flow.metadata[REDACT_PATH] = True
                logger.warning("tripwire: session %s sent a real credential to %s", session_of(flow).session_id,
                               flow.metadata[HOST])
            self.record(flow, refusal.status)
            return
        if "body_size_limit" in msg:  # mitmproxy's own 413 (errorpages): the body was not read, or not all
            flow.metadata.setdefault(BLOCKED, "body_too_large")
            self.record(flow, 413)
            return
        error_type = classify_error(msg)
        flow.metadata.setdefault(BLOCKED, "upstream_error")
        logger.info("upstream error for %s: %s (%s)", flow.metadata.get(HOST), msg, error_type)
        # A stream cut mid-way keeps the status the client already got; otherwise the client got a 502.
        self.record(flow, flow.response.status_code if flow.response else 502, error_type)
