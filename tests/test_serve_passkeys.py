"""Passkey login for `clauderon serve`: Chromium with the DevTools virtual authenticator, loopback only.

The browser flows run the real server (`ClauderonServer` + `PasskeyAuth`, bound on a free port, opened as
`http://localhost:<port>`) with an injected clock, so expiry is tested without waiting. Every request the
browser makes must stay on loopback: anything else is aborted and fails the test.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clauderon_tui.serve.auth import COOKIE_NAME
from clauderon_tui.serve.command import ClauderonServer, ServeOptions, resolve_options
from clauderon_tui.serve.passkey_store import FILE_NAME, PasskeyStore, sign_count_ok
from clauderon_tui.serve.passkeys import PasskeyAuth
from runtime.errors import ClauderonError
from runtime.settings import ServeSettings
from tests.serve_harness import CHROMIUM, CHROMIUM_ARGS, free_port, is_loopback_url

# The tab's app is a stand-in that only reads stdin: these tests are about who may log in, not the app.
STAND_IN = f"{sys.executable} -c 'import sys; sys.stdin.read()'"
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
                 "isUserVerified": True}
STATUS_SETTLED = """() => { const s = document.getElementById("status");
  return s && s.textContent && !s.textContent.startsWith("Waiting"); }"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Served:
    """The real server in this process, with its store and clock."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.public = f"http://localhost:{self.port}"
        self.clock = Clock()
        self.store = PasskeyStore(home / FILE_NAME)
        self.path = home / FILE_NAME
        self.auth = PasskeyAuth(public_url=self.public, store=self.store, challenge_seconds=120, clock=self.clock)
        self.token_url = self.auth.login_url
        self.options = ServeOptions(host="127.0.0.1", port=self.port, public_url=self.public, password=None,
                                    tls_cert=None, tls_key=None, session_hours=12.0, auth="passkey")

    async def start(self) -> None:
        self.runner = await ClauderonServer(self.options, self.auth, command=STAND_IN).start()


class Tab:
    """One browser context, one page, and its virtual authenticator."""

    def __init__(self, context, page, cdp, authenticator: str) -> None:
        self.context, self.page, self.cdp, self.authenticator = context, page, cdp, authenticator

    async def credentials(self) -> list[dict]:
        return (await self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator}))["credentials"]

    async def replace_authenticator(self) -> None:
        await self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.authenticator})
        self.authenticator = (await self.cdp.send("WebAuthn.addVirtualAuthenticator",
                                                  {"options": AUTHENTICATOR}))["authenticatorId"]

    async def succeed(self, button: str, lands_on: str) -> None:
        async with self.page.expect_navigation(url=lands_on):  # a new navigation, even if the URL is the same
            await self.page.click(f"#{button}")

    async def fail(self, button: str) -> str:
        await self.page.click(f"#{button}")
        await self.page.wait_for_function(STATUS_SETTLED)
        return await self.page.text_content("#status")

    async def post_json(self, path: str) -> int:
        """A same-origin fetch from the page (so the browser's cookies and Origin go with it)."""
        return await self.page.evaluate("""async (path) => (await fetch(path, {method: "POST",
            headers: {"Content-Type": "application/json"}, body: "{}"})).status""", path)

    async def session_cookie(self) -> str | None:
        return next((c["value"] for c in await self.context.cookies() if c["name"] == COOKIE_NAME), None)


class Chromium:
    def __init__(self) -> None:
        self.outside: list[str] = []

    async def __aenter__(self) -> Chromium:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.browser.close()
        await self._pw.stop()

    async def _route(self, route) -> None:
        if is_loopback_url(route.request.url):
            await route.continue_()
        else:
            self.outside.append(route.request.url)
            await route.abort()

    async def tab(self) -> Tab:
        context = await self.browser.new_context()
        await context.route("**/*", self._route)
        page = await context.new_page()
        page.on("websocket", lambda ws: None if is_loopback_url(ws.url) else self.outside.append(ws.url))
        cdp = await context.new_cdp_session(page)
        await cdp.send("WebAuthn.enable")
        authenticator = (await cdp.send("WebAuthn.addVirtualAuthenticator",
                                        {"options": AUTHENTICATOR}))["authenticatorId"]
        return Tab(context, page, cdp, authenticator)


@pytest.fixture
async def served(tmp_path: Path):
    s = Served(tmp_path)
    await s.start()
    yield s
    await s.runner.cleanup()


@pytest.fixture
async def chromium():
    async with Chromium() as c:
        yield c
        assert c.outside == [], c.outside


async def register_first(served: Served, tab: Tab, name: str = "laptop") -> None:
    await tab.page.goto(served.token_url)
    assert tab.page.url == f"{served.public}/passkeys/setup"  # the token left the address bar
    await tab.page.fill("#passkey-name", name)
    await tab.succeed("passkey-register", f"{served.public}/")


async def test_register_with_the_token_log_out_and_log_in_with_the_passkey(served: Served, chromium: Chromium) -> None:
    tab = await chromium.tab()
    assert (await tab.page.goto(f"{served.public}/")).status == 401  # nothing before the first passkey
    await register_first(served, tab)
    assert await tab.page.title() == "clauderon"
    [key] = served.store.all()
    assert key.name == "laptop"
    assert served.auth.token is None  # consumed by the registration
    assert stat.S_IMODE(served.path.stat().st_mode) == 0o600
    assert json.loads(served.path.read_text())["passkeys"][0]["credential_id"] == key.credential_id
    [credential] = await tab.credentials()
    assert credential["isResidentCredential"]
    assert credential["credentialId"].rstrip("=").replace("+", "-").replace("/", "_") == key.credential_id

    await tab.page.goto(f"{served.public}/passkeys")
    await tab.succeed("logout", f"{served.public}/login")
    assert (await tab.page.goto(f"{served.public}/")).status == 401  # the login page, no app

    await tab.succeed("passkey-login", f"{served.public}/")
    page = await tab.page.goto(f"{served.public}/passkeys")
    assert page.status == 200
    assert await tab.page.text_content("#passkeys tbody .name") == "laptop"
    assert served.store.all()[0].last_used is not None


async def test_browsers_without_the_passkey_and_reused_tokens_are_refused(served: Served, chromium: Chromium) -> None:
    owner = await chromium.tab()
    await register_first(served, owner)

    # A second browser whose authenticator holds a passkey for localhost that this server never registered.
    stranger = await chromium.tab()
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    await stranger.cdp.send("WebAuthn.addCredential", {"authenticatorId": stranger.authenticator, "credential": {
        "credentialId": base64.b64encode(os.urandom(16)).decode(), "isResidentCredential": True, "rpId": "localhost",
        "privateKey": base64.b64encode(pkcs8).decode(), "userHandle": base64.b64encode(os.urandom(16)).decode(),
        "signCount": 0}})
    await stranger.page.goto(f"{served.public}/login")
    assert "not registered here" in await stranger.fail("passkey-login")
    assert await stranger.session_cookie() is None
    assert (await stranger.page.goto(f"{served.public}/")).status == 401

    # The token after the first registration: no registration page, no registration API.
    response = await stranger.page.goto(served.token_url)
    assert response.status == 401 and stranger.page.url == served.token_url  # no redirect to the setup page
    assert await stranger.page.query_selector("#passkey-login") is not None  # the passkey login page instead
    assert await stranger.page.query_selector("#passkey-register") is None
    await stranger.page.goto(f"{served.public}/passkeys/setup")
    assert stranger.page.url == f"{served.public}/login"
    assert await stranger.post_json("/passkeys/register/options") == 401
    assert await stranger.post_json("/passkeys/register/verify") == 401
    assert len(served.store) == 1

    # A clone of the owner's passkey (its private key copied, its counter reset) is refused by the counter.
    await owner.page.goto(f"{served.public}/passkeys")
    await owner.succeed("logout", f"{served.public}/login")
    await owner.succeed("passkey-login", f"{served.public}/")
    [original] = await owner.credentials()
    assert served.store.all()[0].sign_count > 0  # the virtual authenticator counts
    clone = await chromium.tab()
    await clone.cdp.send("WebAuthn.addCredential", {"authenticatorId": clone.authenticator,
                                                    "credential": {**original, "signCount": 0}})
    await clone.page.goto(f"{served.public}/login")
    assert "sign count" in await clone.fail("passkey-login")  # refused before its signature is even checked
    assert await clone.session_cookie() is None


async def test_an_expired_or_replayed_challenge_is_refused(served: Served, chromium: Chromium) -> None:
    tab = await chromium.tab()
    await register_first(served, tab)
    await tab.page.goto(f"{served.public}/passkeys")
    await tab.succeed("logout", f"{served.public}/login")

    async def late(route) -> None:  # the user took longer than the challenge lives
        served.clock.now += served.auth.challenge_seconds + 1
        await route.continue_()

    await tab.page.route("**/passkeys/login/verify", late)
    assert "expired" in await tab.fail("passkey-login")
    assert await tab.session_cookie() is None
    await tab.page.unroute("**/passkeys/login/verify")

    sent: list[str] = []

    async def record(route) -> None:
        sent.append(route.request.post_data)
        await route.continue_()

    await tab.page.route("**/passkeys/login/verify", record)
    await tab.page.reload()
    await tab.succeed("passkey-login", f"{served.public}/")
    # The same signed answer again: its challenge was used up by the login it made.
    async with aiohttp.ClientSession() as http:
        replay = await http.post(f"{served.public}/passkeys/login/verify", data=sent[0],
                                 headers={"Origin": served.public, "Content-Type": "application/json"})
        assert replay.status == 401 and "already used" in (await replay.json())["error"]
        assert COOKIE_NAME not in replay.cookies


async def test_a_second_passkey_only_from_a_logged_in_session_and_removal(served: Served, chromium: Chromium) -> None:
    tab = await chromium.tab()
    await register_first(served, tab)
    first = served.store.all()[0].credential_id

    # Logged out, the add button's request is refused.
    await tab.page.goto(f"{served.public}/passkeys")
    await tab.succeed("logout", f"{served.public}/login")
    assert await tab.post_json("/passkeys/register/options") == 401

    await tab.succeed("passkey-login", f"{served.public}/")
    await tab.replace_authenticator()  # a second device (the first is excluded from registering twice)
    await tab.page.goto(f"{served.public}/passkeys")
    await tab.page.fill("#passkey-name", "phone")
    await tab.page.click("#passkey-register")
    await tab.page.wait_for_selector("#passkeys tbody tr:nth-child(2)")
    assert [k.name for k in served.store.all()] == ["laptop", "phone"]

    await tab.succeed("logout", f"{served.public}/login")
    await tab.succeed("passkey-login", f"{served.public}/")  # with the second device
    phone = served.store.all()[1]
    assert phone.last_used is not None

    cookie = {"Cookie": f"{COOKIE_NAME}={await tab.session_cookie()}"}
    async with aiohttp.ClientSession() as http:
        foreign = await http.post(f"{served.public}/passkeys/remove", data={"credential_id": first},
                                  headers={**cookie, "Origin": "http://evil.example"}, allow_redirects=False)
        assert foreign.status == 403 and len(served.store) == 2
        anonymous = await http.post(f"{served.public}/passkeys/remove", data={"credential_id": first},
                                    headers={"Origin": served.public}, allow_redirects=False)
        assert anonymous.status == 401 and len(served.store) == 2

    await tab.page.goto(f"{served.public}/passkeys")
    await tab.page.click(f"#passkeys tr[data-id='{first}'] button.remove")
    await tab.page.wait_for_url(f"{served.public}/passkeys")
    assert [k.name for k in served.store.all()] == ["phone"]
    assert await tab.page.query_selector("button.remove") is None  # the last one offers no remove
    async with aiohttp.ClientSession() as http:
        last = await http.post(f"{served.public}/passkeys/remove", data={"credential_id": phone.credential_id},
                               headers={**cookie, "Origin": served.public}, allow_redirects=False)
        assert last.status == 409 and len(served.store) == 1


# ---------------------------------------------------------------------- refusing insecure public URLs
@pytest.mark.parametrize("url", ["http://127.0.0.1:3030", "http://some-host:3030", "https://10.1.2.3", "http://[::1]:3030"])
def test_passkey_mode_refuses_urls_without_a_secure_context(url: str) -> None:
    with pytest.raises(ClauderonError, match="secure context"):
        resolve_options(ServeSettings(auth="passkey"), public_url=url)


@pytest.mark.parametrize("url", ["http://localhost:3030", "https://box.example.net", "http://dev.localhost:8080"])
def test_passkey_mode_accepts_localhost_and_https_names(url: str) -> None:
    assert resolve_options(ServeSettings(auth="passkey"), public_url=url).auth == "passkey"


def test_passkey_mode_and_a_password_conflict() -> None:
    with pytest.raises(ClauderonError, match="remove one"):
        resolve_options(ServeSettings(auth="passkey", password="pw"))
    with pytest.raises(ClauderonError, match="needs serve.password"):
        resolve_options(ServeSettings(auth="password"))


def test_serve_cli_in_passkey_mode_on_127_0_0_1_refuses_in_one_line(short_tmp: Path) -> None:
    home = short_tmp / "h"
    env = {**os.environ, "CLAUDERON_HOME": str(home), "CLAUDERON_SERVE_AUTH": "passkey"}
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "clauderon_tui.cli", "serve", "--port", str(port),
                           "--public-url", f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "secure context" in lines[0] and f"http://127.0.0.1:{port}" in lines[0], proc.stderr
    assert not (home / "engine.json").exists()  # refused before hosting anything


# ---------------------------------------------------------------------- the store
def test_sign_counter_must_grow_unless_the_authenticator_has_none() -> None:
    assert sign_count_ok(0, 0)  # no counter at all (synced passkeys)
    assert sign_count_ok(0, 1) and sign_count_ok(5, 6)
    assert not sign_count_ok(5, 5) and not sign_count_ok(5, 4) and not sign_count_ok(5, 0) and not sign_count_ok(1, 0)


def test_store_is_private_round_trips_and_checks_counters(tmp_path: Path) -> None:
    path = tmp_path / "home" / FILE_NAME
    store = PasskeyStore(path)
    assert not path.exists() and len(store) == 0
    store.add(b"\x01\x02", b"public-key", 3, " laptop ")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = PasskeyStore(path)
    assert again.user_id == store.user_id
    [key] = again.all()
    assert (key.credential_id, key.name, key.sign_count, key.last_used) == ("AQI", "laptop", 3, None)
    with pytest.raises(ValueError, match="did not grow"):
        again.record_use("AQI", 3)
    assert PasskeyStore(path).get("AQI").sign_count == 3  # the refused use changed nothing
    again.record_use("AQI", 4)
    reloaded = PasskeyStore(path).get("AQI")
    assert reloaded.sign_count == 4 and reloaded.last_used is not None
    with pytest.raises(ValueError, match="last passkey"):
        again.remove("AQI")
    again.add(b"\x03", b"k2", 0, "")
    again.remove("AQI")
    assert [k.name for k in PasskeyStore(path).all()] == ["passkey"]
    assert sorted(p.name for p in path.parent.iterdir()) == [FILE_NAME]  # no temporary files left


def test_store_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / FILE_NAME
    store = PasskeyStore(path)
    store.add(b"\x01", b"k1", 0, "one")
    before = path.read_bytes()

    def crash(src, dst):  # the process dies between writing the new file and renaming it
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        store.add(b"\x02", b"k2", 0, "two")
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]
    assert [k.name for k in PasskeyStore(path).all()] == ["one"]


# ---------------------------------------------------------------------- the real command
async def test_real_serve_registers_into_the_home_and_closes_registration_on_restart(short_tmp: Path,
                                                                                    chromium: Chromium) -> None:
    from tests.serve_harness import ServeProcess

    home = short_tmp / "home"
    home.mkdir()
    (home / "config.toml").write_text('[engine]\non_exit = "stop"\n[serve]\nauth = "passkey"\n')
    serve = ServeProcess(home)
    try:
        assert any("register the first passkey" in line for line in serve.lines), serve.lines
        tab = await chromium.tab()
        await tab.page.goto(serve.login_url)
        await tab.page.fill("#passkey-name", "real")
        await tab.succeed("passkey-register", f"{serve.public_url}/")
        assert stat.S_IMODE((home / FILE_NAME).stat().st_mode) == 0o600
        assert [k.name for k in PasskeyStore(home / FILE_NAME).all()] == ["real"]
        assert serve.stop(signal.SIGTERM) == 0
    finally:
        serve.stop(signal.SIGKILL)
    # Restarted: a passkey exists, so no token is printed at all; the login page is.
    proc = subprocess.Popen([sys.executable, "-m", "clauderon_tui.cli", "serve", "--port", str(serve.port)],
                            env=serve.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[1].strip() == f"Log in with a passkey at http://localhost:{serve.port}/login", lines
        assert "token" not in "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


# ---------------------------------------------------------------------- the password form, in a browser
async def test_the_password_login_form_posts_our_origin_from_a_real_browser(chromium: Chromium) -> None:
    """Regression: under `Referrer-Policy: no-referrer` Chromium sends `Origin: null` with a form POST, and the
    Origin check on POST /login refused the password form (found while wiring the passkey pages' forms)."""
    from clauderon_tui.serve.auth import ServeAuth

    port = free_port()
    public = f"http://localhost:{port}"
    auth = ServeAuth(public_url=public, password="correct horse")
    options = ServeOptions(host="127.0.0.1", port=port, public_url=public, password="correct horse", tls_cert=None,
                           tls_key=None, session_hours=1.0)
    runner = await ClauderonServer(options, auth, command=STAND_IN).start()
    try:
        tab = await chromium.tab()
        await tab.page.goto(f"{public}/login")
        await tab.page.fill("#secret", "correct horse")
        async with tab.page.expect_navigation(url=f"{public}/"):
            await tab.page.click("button[type=submit]")
        assert await tab.session_cookie() is not None
    finally:
        await runner.cleanup()
