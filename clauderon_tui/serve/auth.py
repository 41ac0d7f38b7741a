"""Authentication for `clauderon serve`: a secret (token or password) exchanged for a session cookie.

textual-serve has no authentication and no Origin check, and every websocket it accepts starts an app
process that can type into every session. So every route but the login exchange needs the cookie, and
`/ws` also needs an `Origin` equal to the public URL's origin (a page on another site cannot open it
with the user's cookie, and SameSite=Strict keeps the cookie off cross-site requests anyway).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from proxy import atomic_write

COOKIE_NAME = "clauderon_session"
FREE_FAILURES = 3
"""Wrong secrets a client may send before it has to wait."""
MAX_BACKOFF_SECONDS = 300.0
"""The longest wait after repeated wrong secrets."""
MAX_TRACKED_CLIENTS = 10_000
"""Bound on the rate limiter's memory (the oldest entries go first)."""
LOGIN_PATH = "/login"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def origin_of(url: str) -> str:
    """`scheme://host[:port]` as a browser writes it in `Origin` (default ports left out)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass
class Backoff:
    """Wrong secrets of one client: after `FREE_FAILURES`, each further one doubles the wait."""

    failures: int = 0
    blocked_until: float = 0.0


@dataclass
class RateLimiter:
    """Exponential backoff per client address for wrong tokens and passwords."""

    clock: Callable[[], float] = time.monotonic
    clients: dict[str, Backoff] = field(default_factory=dict)

    def retry_after(self, client: str) -> float:
        """Seconds this client must still wait before its next try (0: it may try now)."""
        entry = self.clients.get(client)
        return 0.0 if entry is None else max(0.0, entry.blocked_until - self.clock())

    def failed(self, client: str) -> None:
        """Record one wrong secret."""
        entry = self.clients.pop(client, None) or Backoff()
        entry.failures += 1
        if entry.failures > FREE_FAILURES:
            wait = min(MAX_BACKOFF_SECONDS, 2.0 ** (entry.failures - FREE_FAILURES))
            entry.blocked_until = self.clock() + wait
        self.clients[client] = entry  # re-inserted: dict order is the eviction order
        while len(self.clients) > MAX_TRACKED_CLIENTS:
            self.clients.pop(next(iter(self.clients)))

    def succeeded(self, client: str) -> None:
        """A right secret clears the client's record."""
        self.clients.pop(client, None)


def read_password(password: str | None, password_file: str | None) -> str | None:
    """The configured password: `password`, else the first line of `password_file`."""
    if password:
        return password
    if password_file:
        lines = Path(password_file).expanduser().read_text().splitlines()
        if not lines or not lines[0]:
            raise ValueError(f"{password_file} is empty")
        return lines[0]
    return None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenFile:
    """The login token's hash for one `clauderon serve`, in the home (0600), so that `clauderon serve
    --new-token` can hand the running server a fresh one-time token. Only a hash is stored."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def publish(self, public_url: str, token: str, pid: int | None = None) -> None:
        """Make `token` the one valid login token of the server (process `pid`, default this one) at `public_url`."""
        atomic_write(self.path, json.dumps({"public_url": public_url, "pid": pid or os.getpid(),
                                            "token_sha256": _digest(token)}), mode=0o600)

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def consume(self, offered: str) -> bool:
        """Whether `offered` is the current token; a right one is used up at once."""
        data = self.read()
        expected = data.get("token_sha256")
        if not isinstance(expected, str) or not hmac.compare_digest(_digest(offered), expected):
            return False
        data["token_sha256"] = None
        atomic_write(self.path, json.dumps(data), mode=0o600)
        return True


class ServeAuth:
    """The secret, the live browser sessions, and the middleware that guards every route.

    The token is single-use: it logs in one browser, then a fresh one comes from `clauderon serve
    --new-token` or a restart. Wrong tokens back off per client, but a right token is never held back: it
    has 256 bits, so guessing gains nothing, while a backoff it had to wait out would let any local process
    (they all share 127.0.0.1) lock the owner out. A password, which can be guessed, waits out the backoff."""

    def __init__(self, *, public_url: str, password: str | None = None, token: str | None = None,
                 session_seconds: float = 12 * 3600, clock: Callable[[], float] = time.monotonic,
                 token_file: Path | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self.origin = origin_of(public_url)
        self.secure_cookie = self.origin.startswith("https:")
        self.password = password
        self.token = None if password else (token or secrets.token_urlsafe(32))
        """The login token printed at start (None when a password is configured); it works once."""
        self.token_file = TokenFile(token_file) if token_file and self.token else None
        if self.token_file is not None and self.token is not None:
            self.token_file.publish(self.public_url, self.token)
        self._token_used = False
        self.session_seconds = session_seconds
        self.clock = clock
        self.limiter = RateLimiter(clock=clock)
        self._sessions: dict[str, float] = {}  # sha256(cookie value) -> expiry

    @property
    def login_url(self) -> str:
        """The URL to print: with the token, or the login page when a password is used."""
        return f"{self.public_url}/?token={self.token}" if self.token else f"{self.public_url}{LOGIN_PATH}"

    # -- secrets and sessions ------------------------------------------------------------------------------------
    def _secret_ok(self, offered: str) -> bool:
        expected = self.token or self.password or ""
        # Digests first: compare_digest on equal-length inputs leaks nothing about the secret's length.
        return bool(expected) and hmac.compare_digest(hashlib.sha256(offered.encode()).digest(),
                                                      hashlib.sha256(expected.encode()).digest())

    def _new_session(self) -> str:
        value = secrets.token_urlsafe(32)
        now = self.clock()
        self._sessions = {k: v for k, v in self._sessions.items() if v > now}
        self._sessions[hashlib.sha256(value.encode()).hexdigest()] = now + self.session_seconds
        return value

    def has_session(self, request: web.Request) -> bool:
        """Whether the request carries a live session cookie."""
        value = request.cookies.get(COOKIE_NAME)
        if not value:
            return False
        expiry = self._sessions.get(hashlib.sha256(value.encode()).hexdigest())
        return expiry is not None and expiry > self.clock()

    def _end_session(self, request: web.Request) -> None:
        value = request.cookies.get(COOKIE_NAME, "")
        self._sessions.pop(hashlib.sha256(value.encode()).hexdigest(), None)

    # -- responses ---------------------------------------------------------------------------------------------------
    def _logged_in(self, client: str) -> web.Response:
        self.limiter.succeeded(client)
        # 303 to "/": the secret leaves the address bar and the history entry.
        return self.start_session(web.Response(status=303, headers={"Location": "/"}))

    def start_session(self, response: web.Response) -> web.Response:
        """Put a fresh session cookie (HttpOnly, SameSite=Strict, expiring) on `response`."""
        response.set_cookie(COOKIE_NAME, self._new_session(), httponly=True, samesite="Strict",
                            secure=self.secure_cookie, path="/", max_age=int(self.session_seconds))
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _too_many(self, wait: float) -> web.Response:
        return web.Response(status=429, text=f"too many wrong attempts; try again in {wait:.0f}s\n",
                            headers={"Retry-After": str(max(1, round(wait)))})

    def login_page(self, status: int = 401, error: str = "") -> web.Response:
        """The small self-contained login page (no assets: nothing else is reachable before login)."""
        what = "password" if self.password else "token (printed by `clauderon serve`)"
        body = LOGIN_HTML.format(what=html.escape(what), error=html.escape(error),
                                 kind="password" if self.password else "text")
        # same-origin, not no-referrer: under no-referrer the form's POST carries `Origin: null` and
        # handle_login_form refuses it as foreign (the form could never log in from a browser).
        return web.Response(status=status, text=body, content_type="text/html",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
                                     "X-Frame-Options": "DENY",
                                     "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                     "img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"})

    def _client(self, request: web.Request) -> str:
        return request.remote or "unknown"

    def _consume_token(self, offered: str) -> bool:
        """A right, unused login token (from the start or `--new-token`); it is used up by this call."""
        if self.token is None:
            return False
        if self.token_file is not None:
            return self.token_file.consume(offered)
        if self._token_used or not self._secret_ok(offered):
            return False
        self._token_used = True
        return True

    async def _exchange(self, request: web.Request, offered: str) -> web.StreamResponse:
        client = self._client(request)
        if self.password is None:
            if self._consume_token(offered):
                return self._logged_in(client)
            wait = self.limiter.retry_after(client)
            if wait > 0:
                return self._too_many(wait)
            self.limiter.failed(client)
            return self.login_page(401, "That token is not valid (each token logs in once: "
                                        "`clauderon serve --new-token` prints a fresh one).")
        wait = self.limiter.retry_after(client)
        if wait > 0:
            return self._too_many(wait)
        if self._secret_ok(offered):
            return self._logged_in(client)
        self.limiter.failed(client)
        return self.login_page(401, "That was not right.")

    # -- routes and middleware ----------------------------------------------------------------------------------------
    async def handle_login_form(self, request: web.Request) -> web.StreamResponse:
        """POST /login: the secret typed into the login page."""
        origin = request.headers.get("Origin")
        if origin is not None and origin != self.origin:
            return web.Response(status=403, text="foreign origin\n")
        form = await request.post()
        return await self._exchange(request, str(form.get("secret", "")))

    async def handle_login_page(self, request: web.Request) -> web.StreamResponse:
        """GET /login."""
        if self.has_session(request):
            raise web.HTTPSeeOther("/")
        return self.login_page(200)

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        """POST /logout: forget this browser's session."""
        if request.headers.get("Origin") != self.origin:
            return web.Response(status=403, text="foreign origin\n")
        self._end_session(request)
        response = web.Response(status=303, headers={"Location": LOGIN_PATH})
        response.del_cookie(COOKIE_NAME, path="/")
        return response

    async def handle_token_visit(self, request: web.Request, token: str) -> web.StreamResponse:
        """`GET /?token=...` (only while a token exists): log in. Other auth modes give the token other uses."""
        return await self._exchange(request, token)

    def is_open(self, request: web.Request) -> bool:
        """Whether the route is reachable without a session (its handler then guards itself)."""
        return request.path == LOGIN_PATH or (request.path == "/logout" and request.method == "POST")

    def add_routes(self, app: web.Application) -> None:
        """The routes reachable without a session."""
        app.router.add_get(LOGIN_PATH, self.handle_login_page)
        app.router.add_post(LOGIN_PATH, self.handle_login_form)
        app.router.add_post("/logout", self.handle_logout)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Token exchange on `/?token=`, then: a session for everything, and our own Origin for `/ws`."""
        path = request.path
        if path == "/" and "token" in request.query and self.token:  # never a password in a URL
            if self.has_session(request):  # this browser is in already: just drop the token from the address
                raise web.HTTPSeeOther("/")
            return await self.handle_token_visit(request, request.query["token"])
        if self.is_open(request):
            return await handler(request)
        if not self.has_session(request):
            if path == "/" and request.method == "GET":
                return self.login_page(401)
            return web.Response(status=401, text="log in first\n")
        if path == "/ws" and request.headers.get("Origin") != self.origin:
            return web.Response(status=403, text=f"websocket origin must be {self.origin}\n")
        response = await handler(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response


LOGIN_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>clauderon</title>
<style>
  body {{ background: #0c181f; color: #e6edf3; font-family: menlo, monaco, "Courier New", monospace;
         display: flex; min-height: 100vh; margin: 0; align-items: center; justify-content: center; }}
  form {{ background: #12232d; padding: 24px; width: min(90vw, 420px); box-sizing: border-box; }}
  h1 {{ font-size: 20px; margin: 0 0 16px; }}
  label {{ display: block; margin-bottom: 8px; }}
  input {{ width: 100%; box-sizing: border-box; padding: 8px; font: inherit; margin-bottom: 12px; }}
  button {{ padding: 8px 20px; font: inherit; background: #5e0ba7; color: #fff; border: none; }}
  .error {{ color: #ff7b72; min-height: 1em; }}
</style>
</head>
<body>
<form method="post" action="/login">
  <h1>clauderon</h1>
  <label for="secret">Log in with the {what}</label>
  <input id="secret" name="secret" type="{kind}" autocomplete="current-password" autofocus required>
  <p class="error">{error}</p>
  <button type="submit">Log in</button>
</form>
</body>
</html>
"""


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True


def new_token(path: Path) -> str:
    """`clauderon serve --new-token`: give the running server at this file a fresh one-time token; its URL."""
    token_file = TokenFile(path)
    data = token_file.read()
    pid, public_url = data.get("pid"), data.get("public_url")
    alive = isinstance(pid, int) and pid > 0 and _process_exists(pid)
    if not alive or not isinstance(public_url, str):
        raise ValueError("no `clauderon serve` with a login token is running for this home and port; "
                         "start one with `clauderon serve` (it prints a token)")
    token = secrets.token_urlsafe(32)
    token_file.publish(public_url, token, pid=pid)
    return f"{public_url}/?token={token}"
