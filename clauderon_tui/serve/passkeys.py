"""Passkey login for `clauderon serve` (`[serve] auth = "passkey"`), built on py_webauthn.

The printed one-time token does not log in: it opens the page that registers the first passkey, and the first
registration consumes it. Once a passkey exists no token is printed at all (a restart prints the login page),
so registration is open only to a logged-in session. Everything else is `ServeAuth`: the same session cookie,
logout, rate limiting and Origin rules.

WebAuthn choices:
- relying-party id = the public URL's host; expected origin = the public URL's origin (exactly).
- challenges are random, server-side, single-use (popped before checking) and expire after
  `challenge_seconds`; at most `MAX_CHALLENGES` are pending (the oldest go first).
- user verification is *required*: this passkey is the only thing between a browser and a shell in every
  session (and the credentials the proxy injects), so it must be possession plus PIN or biometric, not a tap.
- resident (discoverable) keys are required, so logging in needs no user name.
- sign counters must grow unless both stored and offered are 0 (authenticators without counters).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from clauderon_tui.serve.auth import LOGIN_PATH, ServeAuth
from clauderon_tui.serve.passkey_store import PasskeyStore, from_b64url, sign_count_ok

TEMPLATES = Path(__file__).resolve().parent / "templates" / "passkeys"
SETUP_COOKIE = "clauderon_setup"
SETUP_SECONDS = 15 * 60
"""How long the token's visit may take to register the first passkey."""
MAX_CHALLENGES = 1000
"""Bound on pending challenges (the login options route is reachable without a session)."""
PAGE_CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

_jinja = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)


def passkey_url_problem(public_url: str) -> str | None:
    """Why browsers would refuse WebAuthn at this public URL (None: they accept it).

    WebAuthn needs a secure context and a domain name as relying-party id: https with a name, or
    http on `localhost` (or a `*.localhost` name). An IP address is never a valid relying-party id.
    """
    parts = urlsplit(public_url)
    host = (parts.hostname or "").lower()
    is_ip = not host or host.replace(".", "").isdigit() or ":" in host
    if not is_ip and (parts.scheme == "https" or host == "localhost" or host.endswith(".localhost")):
        return None
    return (f"passkeys need a secure context: browsers refuse WebAuthn at {public_url}; use http://localhost:<port> "
            "or an https public URL with a host name (--tls-cert/--tls-key or a TLS proxy)")


@dataclass
class Challenge:
    kind: str  # "register" or "login"
    value: bytes
    expires: float
    setup: bool  # a first registration through the token (not a logged-in session)


class PasskeyAuth(ServeAuth):
    """`ServeAuth` whose login is a passkey and whose token only registers the first passkey."""

    def __init__(self, *, public_url: str, store: PasskeyStore, session_seconds: float = 12 * 3600,
                 challenge_seconds: float = 120.0, token: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(public_url=public_url, token=token, session_seconds=session_seconds, clock=clock)
        self.store = store
        if len(store):
            self.token = None  # registration is closed to visitors once a passkey exists
        self.rp_id = urlsplit(self.public_url).hostname or ""
        self.challenge_seconds = challenge_seconds
        self._challenges: dict[str, Challenge] = {}
        self._setup_grants: dict[str, float] = {}  # sha256(setup cookie) -> expiry

    @property
    def login_url(self) -> str:
        """The token URL while the first passkey is not registered, else the login page."""
        return f"{self.public_url}/?token={self.token}" if self.token else f"{self.public_url}{LOGIN_PATH}"

    # -- pages ---------------------------------------------------------------------------------------------------
    def page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        """A passkey page: self-contained apart from this server's passkeys.js."""
        body = _jinja.get_template(template).render(**context)
        return web.Response(status=status, text=body, content_type="text/html",
                            # same-origin, not no-referrer: with no-referrer a form POST carries `Origin: null`,
                            # and the Origin check on /logout and /passkeys/remove would refuse our own forms.
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
                                     "X-Frame-Options": "DENY", "Content-Security-Policy": PAGE_CSP})

    def login_page(self, status: int = 401, error: str = "") -> web.Response:
        return self.page("login.html", status, error=error, setup_pending=self.token is not None)

    async def handle_login_page(self, request: web.Request) -> web.StreamResponse:
        if self.has_session(request):
            raise web.HTTPSeeOther("/")
        return self.login_page(200)

    async def handle_script(self, request: web.Request) -> web.Response:
        """GET /passkeys/static/passkeys.js (public: the login page needs it)."""
        return web.Response(body=(TEMPLATES / "passkeys.js").read_bytes(), content_type="application/javascript",
                            headers={"Cache-Control": "no-cache"})

    async def handle_token_visit(self, request: web.Request, token: str) -> web.StreamResponse:
        """`/?token=`: a right token grants this browser the first registration (a short-lived cookie)."""
        client = self._client(request)
        wait = self.limiter.retry_after(client)
        if wait > 0:
            return self._too_many(wait)
        if not self._secret_ok(token):
            self.limiter.failed(client)
            return self.login_page(401, "That token is not valid (it may have been used already).")
        self.limiter.succeeded(client)
        value = secrets.token_urlsafe(32)
        now = self.clock()
        self._setup_grants = {k: v for k, v in self._setup_grants.items() if v > now}
        self._setup_grants[_digest(value)] = now + SETUP_SECONDS
        response = web.Response(status=303, headers={"Location": "/passkeys/setup", "Cache-Control": "no-store",
                                                     "Referrer-Policy": "no-referrer"})
        response.set_cookie(SETUP_COOKIE, value, httponly=True, samesite="Strict", secure=self.secure_cookie,
                            path="/passkeys", max_age=SETUP_SECONDS)
        return response

    def _setup_granted(self, request: web.Request) -> bool:
        value = request.cookies.get(SETUP_COOKIE)
        expiry = self._setup_grants.get(_digest(value)) if value else None
        return self.token is not None and expiry is not None and expiry > self.clock()

    async def handle_setup_page(self, request: web.Request) -> web.StreamResponse:
        """GET /passkeys/setup: register the first passkey (after the token's visit)."""
        if self._setup_granted(request):
            return self.page("setup.html")
        raise web.HTTPSeeOther("/passkeys" if self.has_session(request) else LOGIN_PATH)

    async def handle_manage_page(self, request: web.Request) -> web.StreamResponse:
        """GET /passkeys: the registered passkeys, with remove and add (a session is required)."""
        rows = [{"id": k.credential_id, "name": k.name, "created": _when(k.created), "last_used": _when(k.last_used)}
                for k in self.store.all()]
        return self.page("manage.html", passkeys=rows, error=request.query.get("error", "")[:200])

    # -- WebAuthn ceremonies -------------------------------------------------------------------------------------
    def _new_challenge(self, kind: str, value: bytes, setup: bool) -> str:
        now = self.clock()
        self._challenges = {h: c for h, c in self._challenges.items() if c.expires > now}
        while len(self._challenges) >= MAX_CHALLENGES:
            self._challenges.pop(next(iter(self._challenges)))
        handle = secrets.token_urlsafe(16)
        self._challenges[handle] = Challenge(kind, value, now + self.challenge_seconds, setup)
        return handle

    def _take_challenge(self, handle: str, kind: str) -> Challenge | None:
        """The pending challenge, removed whatever happens next (single use); None if unknown or expired."""
        challenge = self._challenges.pop(handle, None)
        if challenge is None or challenge.kind != kind or challenge.expires <= self.clock():
            return None
        return challenge

    def _may_register(self, request: web.Request) -> tuple[bool, bool]:
        """(allowed, through the token's setup grant)."""
        if self.has_session(request):
            return True, False
        return self._setup_granted(request), True

    async def handle_register_options(self, request: web.Request) -> web.StreamResponse:
        """POST /passkeys/register/options: creation options for a logged-in session or the token's visit."""
        if (refused := _foreign(request, self.origin)) is not None:
            return refused
        allowed, setup = self._may_register(request)
        if not allowed:
            return _json({"error": "log in first"}, 401)
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name="clauderon", user_id=self.store.user_id, user_name="clauderon",
            user_display_name=f"clauderon on {self.rp_id}", timeout=int(self.challenge_seconds * 1000),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=from_b64url(k.credential_id))
                                 for k in self.store.all()])
        handle = self._new_challenge("register", options.challenge, setup)
        return _json({"handle": handle, "options": json.loads(options_to_json(options))})

    async def handle_register_verify(self, request: web.Request) -> web.StreamResponse:
        """POST /passkeys/register/verify: check the new credential and keep it."""
        if (refused := _foreign(request, self.origin)) is not None:
            return refused
        body = await _body(request)
        challenge = self._take_challenge(str(body.get("handle", "")), "register")
        allowed, setup = self._may_register(request)
        if not allowed:
            return _json({"error": "log in first"}, 401)
        if challenge is None or challenge.setup != setup:
            return _json({"error": "the prompt expired or was already used; try again"}, 400)
        credential = body.get("credential")
        if not isinstance(credential, str | dict):
            return _json({"error": "passkey not accepted: the request carries no credential"}, 400)
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=challenge.value, expected_rp_id=self.rp_id,
                expected_origin=self.origin, require_user_verification=True)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            return _json({"error": f"passkey not accepted: {exc}"}, 400)
        self.store.add(verified.credential_id, verified.credential_public_key, verified.sign_count,
                       str(body.get("name") or "passkey"))
        if not setup:
            return _json({"next": "/passkeys"})
        self.token = None  # consumed: the token never registers or logs in again
        self._setup_grants.clear()
        response = self.start_session(_json({"next": "/"}))
        response.del_cookie(SETUP_COOKIE, path="/passkeys")
        return response

    async def handle_login_options(self, request: web.Request) -> web.StreamResponse:
        """POST /passkeys/login/options: request options for any registered (discoverable) passkey."""
        if (refused := _foreign(request, self.origin)) is not None:
            return refused
        options = generate_authentication_options(rp_id=self.rp_id, timeout=int(self.challenge_seconds * 1000),
                                                  user_verification=UserVerificationRequirement.REQUIRED)
        handle = self._new_challenge("login", options.challenge, False)
        return _json({"handle": handle, "options": json.loads(options_to_json(options))})

    async def handle_login_verify(self, request: web.Request) -> web.StreamResponse:
        """POST /passkeys/login/verify: a valid assertion from a registered passkey starts a session."""
        if (refused := _foreign(request, self.origin)) is not None:
            return refused
        client = self._client(request)
        wait = self.limiter.retry_after(client)
        if wait > 0:
            return self._too_many(wait)
        body = await _body(request)
        challenge = self._take_challenge(str(body.get("handle", "")), "login")
        credential = body.get("credential")
        key = self.store.get(str(credential.get("rawId", ""))) if isinstance(credential, dict) else None
        if challenge is None:
            error = "the prompt expired or was already used; try again"
        elif key is None or not isinstance(credential, dict):
            error = "this passkey is not registered here"
        else:
            error = ""
            try:
                verified = verify_authentication_response(
                    credential=credential, expected_challenge=challenge.value, expected_rp_id=self.rp_id,
                    expected_origin=self.origin, credential_public_key=from_b64url(key.public_key),
                    credential_current_sign_count=key.sign_count, require_user_verification=True)
                if not sign_count_ok(key.sign_count, verified.new_sign_count):
                    raise ValueError("the signature counter did not grow (a cloned passkey?)")
                self.store.record_use(key.credential_id, verified.new_sign_count)
            except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
                error = f"passkey not accepted: {exc}"
        if error:
            self.limiter.failed(client)
            return _json({"error": error}, 401)
        self.limiter.succeeded(client)
        return self.start_session(_json({"next": "/"}))

    async def handle_remove(self, request: web.Request) -> web.StreamResponse:
        """POST /passkeys/remove (form, session, our Origin): forget one passkey, never the last."""
        if request.headers.get("Origin") != self.origin:
            return web.Response(status=403, text="foreign origin\n")
        form = await request.post()
        try:
            self.store.remove(str(form.get("credential_id", "")))
        except KeyError:
            raise web.HTTPSeeOther("/passkeys?error=no+such+passkey") from None
        except ValueError:
            return web.Response(status=409, text="the last passkey cannot be removed: add another one first\n")
        raise web.HTTPSeeOther("/passkeys")

    # -- wiring ----------------------------------------------------------------------------------------------------
    _OPEN = {LOGIN_PATH, "/passkeys/static/passkeys.js", "/passkeys/setup", "/passkeys/register/options",
             "/passkeys/register/verify", "/passkeys/login/options", "/passkeys/login/verify"}

    def is_open(self, request: web.Request) -> bool:
        # The register routes check for a session or the token's grant themselves.
        return request.path in self._OPEN or (request.path == "/logout" and request.method == "POST")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(LOGIN_PATH, self.handle_login_page)
        app.router.add_post("/logout", self.handle_logout)
        app.router.add_get("/passkeys/static/passkeys.js", self.handle_script)
        app.router.add_get("/passkeys/setup", self.handle_setup_page)
        app.router.add_get("/passkeys", self.handle_manage_page)
        app.router.add_post("/passkeys/register/options", self.handle_register_options)
        app.router.add_post("/passkeys/register/verify", self.handle_register_verify)
        app.router.add_post("/passkeys/login/options", self.handle_login_options)
        app.router.add_post("/passkeys/login/verify", self.handle_login_verify)
        app.router.add_post("/passkeys/remove", self.handle_remove)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _when(stamp: float | None) -> str:
    return "never" if stamp is None else datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})


def _foreign(request: web.Request, origin: str) -> web.Response | None:
    """A 403 unless the request comes from our own pages (browsers always send Origin on fetch POSTs)."""
    if request.headers.get("Origin") != origin:
        return _json({"error": "foreign origin"}, 403)
    return None


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
