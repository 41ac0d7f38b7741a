"""`clauderon serve` over HTTP: the login exchange, cookies, Origin, rate limiting, assets, https, and the CLI."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from clauderon_tui.serve.auth import COOKIE_NAME, FREE_FAILURES, ServeAuth, new_token, origin_of
from clauderon_tui.serve.command import ClauderonServer, ServeOptions, resolve_options
from runtime.errors import ClauderonError
from runtime.settings import ServeSettings

PUBLIC = "http://localhost:3030"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def options(public_url: str = PUBLIC, **extra) -> ServeOptions:
    values = dict(host="127.0.0.1", port=3030, public_url=public_url, password=None, tls_cert=None, tls_key=None,
                  session_hours=12.0)
    values.update(extra)
    return ServeOptions(**values)


async def client_for(auth: ServeAuth, command: str | None = None) -> TestClient:
    server = ClauderonServer(options(auth.public_url), auth, command=command)
    client = TestClient(TestServer(await server._make_app()), cookie_jar=aiohttp.DummyCookieJar())  # cookies by hand
    await client.start_server()
    return client


def session_cookie(response: aiohttp.ClientResponse) -> str:
    header = response.headers.get("Set-Cookie", "")
    match = re.match(rf"{COOKIE_NAME}=([^;]+)", header)
    assert match, header
    return match.group(1)


async def logged_in(client: TestClient, auth: ServeAuth) -> dict[str, str]:
    response = await client.get(f"/?token={auth.token}", allow_redirects=False)
    assert response.status == 303
    return {"Cookie": f"{COOKIE_NAME}={session_cookie(response)}"}


async def test_token_exchange_sets_a_strict_httponly_cookie_and_leaves_the_address() -> None:
    auth = ServeAuth(public_url=PUBLIC)
    async with await client_for(auth) as client:
        response = await client.get(f"/?token={auth.token}", allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on localhost: a Secure cookie would never come back
        headers = {"Cookie": f"{COOKIE_NAME}={session_cookie(response)}"}
        page = await client.get("/", headers=headers)
        assert page.status == 200
        html = await page.text()
        assert "<title>clauderon</title>" in html
        assert "--client-only" not in html and sys.executable not in html and "Textual" not in html
        # Everything the page loads comes from this server: no absolute URL except the websocket's.
        assert re.findall(r"(?:https?|wss?)://[^\s\"'<>]+", html) == ["ws://localhost:3030/ws"]


async def test_no_cookie_or_bad_token_is_401() -> None:
    auth = ServeAuth(public_url=PUBLIC)
    async with await client_for(auth) as client:
        for path in ("/", "/ws", "/static/js/textual.js", "/static/clauderon.css", "/download/x", "/anything"):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 401, path
            assert "Set-Cookie" not in response.headers
        page = await client.get("/")
        assert "<form" in await page.text()  # the login page, self-contained
        bad = await client.get("/?token=" + "x" * 43, allow_redirects=False)
        assert bad.status == 401 and "Set-Cookie" not in bad.headers
        forged = await client.get("/", headers={"Cookie": f"{COOKIE_NAME}=forged"})
        assert forged.status == 401


async def test_wrong_tokens_back_off_per_client_then_429() -> None:
    clock = Clock()
    auth = ServeAuth(public_url=PUBLIC, clock=clock)
    async with await client_for(auth) as client:
        for _ in range(FREE_FAILURES + 1):
            assert (await client.get("/?token=wrong", allow_redirects=False)).status == 401
        blocked = await client.get("/?token=wrong", allow_redirects=False)
        assert blocked.status == 429
        assert int(blocked.headers["Retry-After"]) >= 1
        assert (await client.post("/login", data={"secret": "wrong"})).status == 429
        clock.now += 2.5
        assert (await client.get("/?token=wrong", allow_redirects=False)).status == 401  # 5th failure: 4 s
        assert (await client.get("/?token=wrong", allow_redirects=False)).status == 429
        # The right token is never held back by other clients' (or its own) wrong guesses.
        assert (await client.get(f"/?token={auth.token}", allow_redirects=False)).status == 303
        assert not auth.limiter.clients  # success forgets the client


async def test_a_password_waits_out_the_backoff() -> None:
    clock = Clock()
    auth = ServeAuth(public_url=PUBLIC, password="correct horse", clock=clock)
    async with await client_for(auth) as client:
        for _ in range(FREE_FAILURES + 1):
            assert (await client.post("/login", data={"secret": "wrong"})).status == 401
        # A password can be guessed: even the right one waits, so racing gains nothing.
        assert (await client.post("/login", data={"secret": "correct horse"}, allow_redirects=False)).status == 429
        clock.now += 3
        assert (await client.post("/login", data={"secret": "correct horse"}, allow_redirects=False)).status == 303


@pytest.mark.timeout(120)
async def test_ten_thousand_bad_guesses_never_lock_the_owner_out() -> None:
    auth = ServeAuth(public_url=PUBLIC)
    async with await client_for(auth) as client:
        for _ in range(10_000):  # any local process: every one of them is 127.0.0.1
            assert (await client.get("/?token=guess", allow_redirects=False)).status in (401, 429)
        response = await client.get(f"/?token={auth.token}", allow_redirects=False)
        assert response.status == 303 and session_cookie(response)


async def test_the_login_token_works_once() -> None:
    auth = ServeAuth(public_url=PUBLIC)
    async with await client_for(auth) as client:
        first = await client.get(f"/?token={auth.token}", allow_redirects=False)
        assert first.status == 303
        again = await client.get(f"/?token={auth.token}", allow_redirects=False)
        assert again.status == 401 and "--new-token" in await again.text()
        # The browser that used it is in: visiting its URL again only drops the token from the address.
        cookie = {"Cookie": f"{COOKIE_NAME}={session_cookie(first)}"}
        revisit = await client.get(f"/?token={auth.token}", headers=cookie, allow_redirects=False)
        assert revisit.status == 303 and revisit.headers["Location"] == "/"


async def test_new_token_hands_the_running_server_a_fresh_one_time_token(short_tmp: Path) -> None:
    token_file = short_tmp / "serve-3030.json"
    auth = ServeAuth(public_url=PUBLIC, token_file=token_file)
    assert auth.token not in token_file.read_text()  # only its hash is stored
    assert token_file.stat().st_mode & 0o777 == 0o600
    async with await client_for(auth) as client:
        assert (await client.get(f"/?token={auth.token}", allow_redirects=False)).status == 303
        assert (await client.get(f"/?token={auth.token}", allow_redirects=False)).status == 401
        url = new_token(token_file)  # what `clauderon serve --new-token` does, from another process
        fresh = url.split("token=", 1)[1]
        assert url.startswith(PUBLIC + "/?token=") and fresh != auth.token
        assert (await client.get(f"/?token={fresh}", allow_redirects=False)).status == 303
        assert (await client.get(f"/?token={fresh}", allow_redirects=False)).status == 401


def test_new_token_without_a_running_server_is_one_clear_line(short_tmp: Path) -> None:
    with pytest.raises(ValueError, match="no `clauderon serve` with a login token is running"):
        new_token(short_tmp / "serve-3030.json")


async def test_websocket_needs_the_cookie_and_our_origin() -> None:
    auth = ServeAuth(public_url=PUBLIC)
    # The tab's command is a stand-in that only reads stdin: this test is about who may open /ws at all.
    command = f"{sys.executable} -c 'import sys; sys.stdin.read()'"
    async with await client_for(auth, command=command) as client:
        headers = await logged_in(client, auth)
        for origin in ("http://evil.example", "http://127.0.0.1:3030", "http://localhost:3031", "null"):
            response = await client.get("/ws", headers={**headers, "Origin": origin})
            assert response.status == 403, origin
        missing = await client.get("/ws", headers=headers)
        assert missing.status == 403
        no_cookie = await client.get("/ws", headers={"Origin": "http://localhost:3030"})
        assert no_cookie.status == 401
        ws = await client.ws_connect("/ws", headers={**headers, "Origin": "http://localhost:3030"})
        assert not ws.closed
        await ws.close()


async def test_static_assets_have_no_listing() -> None:
    auth = ServeAuth(public_url=PUBLIC)
    async with await client_for(auth) as client:
        headers = await logged_in(client, auth)
        for path in ("/static", "/static/", "/static/js/", "/static/css", "/static/fonts/", "/static/../server.py",
                     "/static/images/background.png"):
            response = await client.get(path, headers=headers)
            assert response.status == 404, path
        js = await client.get("/static/js/textual.js", headers=headers)
        assert js.status == 200
        assert "window.textualTerminals" in await js.text()
        css = await client.get("/static/clauderon.css", headers=headers)
        assert "@font-face" in await css.text() and "googleapis" not in await css.text()
        font = await client.get("/static/fonts/RobotoMono-VariableFont_wght.ttf", headers=headers)
        assert font.status == 200 and len(await font.read()) > 10_000


async def test_password_login_page_and_no_password_in_urls() -> None:
    clock = Clock()
    auth = ServeAuth(public_url=PUBLIC, password="correct horse", clock=clock, session_seconds=60)
    assert auth.token is None and auth.login_url == f"{PUBLIC}/login"
    async with await client_for(auth) as client:
        page = await client.get("/login")
        assert page.status == 200 and 'type="password"' in await page.text()
        assert (await client.get("/?token=correct%20horse", allow_redirects=False)).status == 401
        wrong = await client.post("/login", data={"secret": "wrong"}, allow_redirects=False)
        assert wrong.status == 401 and "not right" in await wrong.text()
        foreign = await client.post("/login", data={"secret": "correct horse"}, allow_redirects=False,
                                    headers={"Origin": "http://evil.example"})
        assert foreign.status == 403
        right = await client.post("/login", data={"secret": "correct horse"}, allow_redirects=False,
                                  headers={"Origin": PUBLIC})
        assert right.status == 303 and right.headers["Location"] == "/"
        headers = {"Cookie": f"{COOKIE_NAME}={session_cookie(right)}"}
        assert (await client.get("/", headers=headers)).status == 200
        clock.now += 61  # the session expires
        assert (await client.get("/", headers=headers)).status == 401


async def test_logout_ends_the_session() -> None:
    auth = ServeAuth(public_url=PUBLIC)
    async with await client_for(auth) as client:
        headers = await logged_in(client, auth)
        assert (await client.post("/logout", headers={**headers, "Origin": "http://evil.example"})).status == 403
        out = await client.post("/logout", headers={**headers, "Origin": PUBLIC}, allow_redirects=False)
        assert out.status == 303
        assert (await client.get("/", headers=headers)).status == 401


def test_options_refuse_unsafe_or_inconsistent_setups(tmp_path: Path) -> None:
    with pytest.raises(ClauderonError, match="needs --public-url"):
        resolve_options(ServeSettings(), host="0.0.0.0")
    with pytest.raises(ClauderonError, match="both --tls-cert and --tls-key"):
        resolve_options(ServeSettings(), tls_cert="c.pem")
    with pytest.raises(ClauderonError, match="without a path"):
        resolve_options(ServeSettings(), public_url="http://localhost:3030/app")
    assert resolve_options(ServeSettings(), port=4000).public_url == "http://localhost:4000"
    assert resolve_options(ServeSettings(), host="::1").public_url == "http://localhost:3030"
    assert resolve_options(ServeSettings(), tls_cert="c", tls_key="k").public_url == "https://localhost:3030"
    remote = resolve_options(ServeSettings(host="0.0.0.0", public_url="https://box.example.net"))
    assert remote.public_url == "https://box.example.net"
    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored\n")
    assert resolve_options(ServeSettings(password_file=str(secret))).password == "from-file"
    assert origin_of("https://Box.Example.net:443/") == "https://box.example.net"
    assert origin_of("http://[::1]:3030") == "http://[::1]:3030"


# ---------------------------------------------------------------------- https with a real certificate
def make_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_https_serves_with_the_certificate_and_secure_cookies(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    port = free_port()
    opts = resolve_options(ServeSettings(), port=port, tls_cert=str(cert), tls_key=str(key))
    assert opts.public_url == f"https://localhost:{port}"
    auth = ServeAuth(public_url=opts.public_url)
    runner = await ClauderonServer(opts, auth).start()
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as http:
            response = await http.get(auth.login_url, ssl=trust, allow_redirects=False)
            assert response.status == 303 and response.headers["Location"] == "/"
            cookie = response.headers["Set-Cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            page = await http.get(f"{opts.public_url}/", ssl=trust,
                                  headers={"Cookie": f"{COOKIE_NAME}={session_cookie(response)}"})
            assert page.status == 200 and f"wss://localhost:{port}/ws" in await page.text()
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------- the real command
@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_cli_refuses_a_public_bind_without_public_url(short_tmp: Path, how: str) -> None:
    env = {**os.environ, "CLAUDERON_HOME": str(short_tmp / "h")}
    args = ["--host", "0.0.0.0"] if how == "flag" else []
    if how == "env":
        env["CLAUDERON_SERVE_HOST"] = "0.0.0.0"
    proc = subprocess.run([sys.executable, "-m", "clauderon_tui.cli", "serve", *args], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs --public-url" in lines[0], proc.stderr
    assert not (short_tmp / "h" / "engine.json").exists()  # refused before hosting anything


def test_serve_cli_hosts_the_engine_and_stops_on_sigterm(short_tmp: Path) -> None:
    home = short_tmp / "h"
    home.mkdir()
    (home / "config.toml").write_text('[engine]\non_exit = "stop"\n')
    port = free_port()
    env = {**os.environ, "CLAUDERON_HOME": str(home), "CLAUDERON_SERVE_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "clauderon_tui.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert "engine hosted here" in lines[0], (lines, proc.stderr.read() if proc.poll() is not None else "")
        url = lines[2].strip()
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/\?token=[A-Za-z0-9_-]{{40,}}", url)  # the env's URL
        info = (home / "engine.json").read_text()
        assert f'"pid": {proc.pid}' in info
        listed = subprocess.run([sys.executable, "-m", "clauderon_tui.cli", "list", "--json"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0 and listed.stdout.strip() == "[]"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not (home / "engine.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_upload_needs_the_login_and_our_origin_and_takes_only_images(host) -> None:
    auth = ServeAuth(public_url=PUBLIC)
    server = ClauderonServer(options(auth.public_url), auth, home=host.home)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(32)
    async with TestClient(TestServer(await server._make_app()), cookie_jar=aiohttp.DummyCookieJar()) as client:
        assert (await client.post("/upload?name=a.png", data=png, headers={"Origin": PUBLIC})).status == 401
        headers = await logged_in(client, auth)
        for origin in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {}):
            refused = await client.post("/upload?name=a.png", data=png, headers={**headers, **origin})
            assert refused.status == 403, origin
        assert not host.home.incoming.exists() or not any(host.home.incoming.iterdir())
        ok = await client.post("/upload?name=a.png", data=png, headers={**headers, "Origin": PUBLIC})
        assert ok.status == 201 and (await ok.json())["name"] == "a.png"
        [kept] = host.home.incoming.iterdir()
        assert kept.read_bytes() == png and kept.stat().st_mode & 0o777 == 0o600
        text = await client.post("/upload?name=b.png", data=b"plain text", headers={**headers, "Origin": PUBLIC})
        assert text.status == 400 and "not a PNG, JPEG, GIF or WebP image" in await text.text()
