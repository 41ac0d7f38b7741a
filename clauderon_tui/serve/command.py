"""`clauderon serve`: the app in a browser, one app process per tab (textual-serve), behind a login.

The serving process hosts the engine (or joins the running one); every tab's app process is a pure client
of it (`clauderon tui --client-only`), so tabs, terminals and the CLI see the same sessions live.
textual-serve's stock page shows the command line as its title, lists its static folder and loads a web
font from a CDN: this module ships its own page and serves a fixed set of assets from this server only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shlex
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import web
from textual_serve.server import Server

from clauderon_tui.serve.auth import ServeAuth, read_password
from runtime.errors import ClauderonError
from runtime.settings import ServeSettings

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEXTUAL_SERVE_STATIC = Path(textual_serve.__path__[0]).resolve() / "static"
SHUTDOWN_SECONDS = 5.0
"""How long open tabs get to close before their handlers are cancelled."""

# textual.js keeps its xterm.js terminal private; the page exposes it (`window.textualTerminals`) so
# tests and tools can read the screen as text, which the WebGL/canvas renderer does not put in the DOM.
_JS_HOOK = ("t.fit(),s||t.connect()",
            "t.fit(),(window.textualTerminals=window.textualTerminals||[]).push(t),s||t.connect()")


@dataclass
class ServeOptions:
    """Where and how to serve, after settings and command-line flags are merged and checked."""

    host: str
    port: int
    public_url: str
    password: str | None
    tls_cert: str | None
    tls_key: str | None
    session_hours: float
    auth: str = "token"
    """`token` (or a password, when one is configured), `password`, or `passkey`."""
    challenge_seconds: float = 120.0

    @property
    def bind_url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_options(settings: ServeSettings, *, host: str | None = None, port: int | None = None,
                    public_url: str | None = None, tls_cert: str | None = None,
                    tls_key: str | None = None) -> ServeOptions:
    """Flags over settings; raises `ClauderonError` (one line) for anything unsafe or inconsistent."""
    host = host or settings.host
    port = port if port is not None else settings.port
    explicit_url = public_url or settings.public_url
    tls_cert = tls_cert or settings.tls_cert
    tls_key = tls_key or settings.tls_key
    if bool(tls_cert) != bool(tls_key):
        raise ClauderonError("https needs both --tls-cert and --tls-key")
    if not is_loopback(host) and not explicit_url:
        raise ClauderonError(f"binding {host} (not loopback) needs --public-url, the exact URL browsers open "
                             "(like https://box.example.net:3030)")
    url = (explicit_url or f"{'https' if tls_cert else 'http'}://localhost:{port}").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise ClauderonError(f"--public-url {url!r} must look like http(s)://host[:port], without a path")
    try:
        password = read_password(settings.password, settings.password_file)
    except (OSError, ValueError) as exc:
        raise ClauderonError(f"serve.password_file: {exc}") from exc
    if settings.auth == "password" and not password:
        raise ClauderonError("serve.auth = \"password\" needs serve.password or serve.password_file")
    if settings.auth == "passkey":
        from clauderon_tui.serve.passkeys import passkey_url_problem

        if password:
            raise ClauderonError("serve.auth = \"passkey\" and a serve.password are both set: remove one")
        if problem := passkey_url_problem(url):
            raise ClauderonError(problem)
    return ServeOptions(host=host, port=port, public_url=url, password=password, tls_cert=tls_cert,
                        tls_key=tls_key, session_hours=settings.session_hours, auth=settings.auth,
                        challenge_seconds=settings.passkey_challenge_seconds)


def tab_command() -> str:
    """What each tab runs: the app as a pure client that never hosts the engine."""
    return shlex.join([sys.executable, "-m", "clauderon_tui.cli", "tui", "--client-only"])


class ClauderonServer(Server):
    """textual-serve's websocket and download handling, with our page, assets, and login in front."""

    def __init__(self, options: ServeOptions, auth: ServeAuth, command: str | None = None,
                 home: Any = None, prefix_key: str = "ctrl+]") -> None:
        """`home`: the clauderon home whose engine keeps browser uploads (None: uploads are refused).
        `prefix_key`: the app's terminal prefix key, which the phone key row sends."""
        super().__init__(command or tab_command(), host=options.host, port=options.port, title="clauderon",
                         public_url=options.public_url, templates_path=TEMPLATES)
        self.options = options
        self.auth = auth
        self.home = home
        self.prefix_key = prefix_key
        self._assets = self._load_assets()

    def _load_assets(self) -> dict[str, tuple[bytes, str]]:
        """The fixed set of files under /static (no directory listing, nothing else reachable)."""
        files = {
            "css/xterm.css": (TEXTUAL_SERVE_STATIC / "css/xterm.css", "text/css"),
            "js/textual.js": (TEXTUAL_SERVE_STATIC / "js/textual.js", "application/javascript"),
            "fonts/RobotoMono-VariableFont_wght.ttf":
                (TEXTUAL_SERVE_STATIC / "fonts/RobotoMono-VariableFont_wght.ttf", "font/ttf"),
            "fonts/RobotoMono-Italic-VariableFont_wght.ttf":
                (TEXTUAL_SERVE_STATIC / "fonts/RobotoMono-Italic-VariableFont_wght.ttf", "font/ttf"),
            "clauderon.css": (TEMPLATES / "static/clauderon.css", "text/css"),
            "clauderon-upload.js": (TEMPLATES / "static/clauderon-upload.js", "application/javascript"),
            "clauderon-keys.js": (TEMPLATES / "static/clauderon-keys.js", "application/javascript"),
        }
        assets = {name: (path.read_bytes(), kind) for name, (path, kind) in files.items()}
        js, kind = assets["js/textual.js"]
        if _JS_HOOK[0].encode() in js:
            assets["js/textual.js"] = (js.replace(_JS_HOOK[0].encode(), _JS_HOOK[1].encode(), 1), kind)
        else:
            log.warning("textual.js changed: the page's terminal is not exposed as window.textualTerminals")
        return assets

    async def handle_static(self, request: web.Request) -> web.Response:
        """GET /static/{name}: one of the known assets, else 404."""
        asset = self._assets.get(request.match_info["name"])
        if asset is None:
            raise web.HTTPNotFound()
        body, kind = asset
        return web.Response(body=body, content_type=kind, headers={"Cache-Control": "private, max-age=3600"})

    async def handle_index(self, request: web.Request) -> web.Response:
        """The page: our template, the product's title, the websocket at the public URL."""
        scheme, rest = self.public_url.split(":", 1)
        context = {
            "static_url": "/static/",
            "websocket_url": ("wss:" if scheme == "https" else "ws:") + rest + "/ws",
            "font_size": max(8, min(32, _to_int(request.query.get("fontsize", "16"), 16))),
            "prefix_label": self.prefix_key,
            "prefix_hex": prefix_hex(self.prefix_key),
        }
        response = aiohttp_jinja2.render_template("index.html", request, context)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            f"font-src 'self'; connect-src 'self' {self.auth.origin.replace('http', 'ws', 1)}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        response.headers["X-Frame-Options"] = "DENY"
        return response

    async def handle_upload(self, request: web.Request) -> web.Response:
        """POST /upload?name=...: an image from the page (file picker, paste, drop), behind the login and our
        own Origin, handed to the engine, which announces it so the tab's app attaches it to the next message."""
        if request.headers.get("Origin") != self.auth.origin:
            return web.Response(status=403, text="foreign origin\n")
        if self.home is None:
            return web.Response(status=404, text="uploads are not served here\n")
        from runtime.api.client import EngineClient
        from runtime.uploads import MAX_UPLOAD_BYTES

        chunks, size = [], 0
        while chunk := await request.content.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                return web.Response(status=413, text=f"images up to {MAX_UPLOAD_BYTES // (1024 * 1024)} MB can be "
                                                     "attached\n")
            chunks.append(chunk)
        client = EngineClient(self.home)
        try:
            saved = await client.upload_image(b"".join(chunks), request.query.get("name", "")[:200])
        except ClauderonError as exc:
            return web.Response(status=exc.status, text=f"{exc}\n")
        finally:
            await client.close()
        return web.json_response({"name": saved["name"], "size": saved["size"]}, status=201)

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.auth.middleware])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
        self.auth.add_routes(app)
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.get("/static/{name:.+}", self.handle_static, name="static"),
            web.post("/upload", self.handle_upload, name="upload"),
        ])
        return app

    async def start(self) -> web.AppRunner:
        """Bind and serve; returns the runner to `cleanup()`."""
        ssl_context = None
        if self.options.tls_cert:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                ssl_context.load_cert_chain(self.options.tls_cert, self.options.tls_key)
            except (OSError, ssl.SSLError) as exc:
                raise ClauderonError(f"cannot load the TLS certificate or key: {exc}") from exc
        runner = web.AppRunner(await self._make_app(), handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS,
                               access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.options.host, self.options.port, ssl_context=ssl_context).start()
        except OSError as exc:
            await runner.cleanup()
            raise ClauderonError(f"cannot listen on {self.options.bind_url}: {exc.strerror or exc}") from exc
        return runner


def prefix_hex(prefix_key: str) -> str:
    """The bytes the prefix key sends, as hex for the page's key row (`ctrl+]` -> `1d`); empty (no prefix button)
    for a key a terminal cannot send."""
    from clauderon_tui.keys import key_bytes_for_spec

    try:
        return key_bytes_for_spec(prefix_key).hex()
    except ValueError:
        return ""


def _to_int(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def banner(options: ServeOptions, auth: ServeAuth, engine_note: str) -> str:
    """What `clauderon serve` prints at start: where it listens and the URL to open."""
    lines = [f"clauderon serving on {options.bind_url} ({engine_note})"]
    if options.auth == "passkey":
        lines += (["Open this URL to register the first passkey (it works once: keep it private):",
                   f"    {auth.login_url}"] if auth.token else [f"Log in with a passkey at {auth.login_url}"])
    elif auth.token:
        lines += ["Open this URL to log in (it holds the login token: keep it private):", f"    {auth.login_url}"]
    else:
        lines += [f"Log in with the configured password at {auth.login_url}"]
    if not is_loopback(options.host) and options.public_url.startswith("http:"):
        lines.append("warning: serving plain http beyond this machine; use --tls-cert/--tls-key or a TLS proxy")
    lines.append("Ctrl+C stops serving.")
    return "\n".join(lines)


async def serve_until_signalled(server: ClauderonServer, engine_note: str) -> None:
    """Serve until SIGINT, SIGTERM or SIGHUP; then close every tab."""
    runner = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    print(banner(server.options, server.auth, engine_note), flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def make_auth(home: Any, options: ServeOptions) -> ServeAuth:
    """The login the options ask for; passkeys live in the home (`passkeys.json`)."""
    if options.auth == "passkey":
        from clauderon_tui.serve.passkey_store import FILE_NAME, PasskeyStore, PasskeyStoreError
        from clauderon_tui.serve.passkeys import PasskeyAuth

        try:
            store = PasskeyStore(Path(home.root) / FILE_NAME)
        except PasskeyStoreError as exc:
            raise ClauderonError(str(exc)) from exc
        return PasskeyAuth(public_url=options.public_url, store=store, session_seconds=options.session_hours * 3600,
                           challenge_seconds=options.challenge_seconds)
    return ServeAuth(public_url=options.public_url, password=options.password,
                     session_seconds=options.session_hours * 3600, token_file=token_file_path(home, options.port))


def token_file_path(home: Any, port: int) -> Path:
    """Where the server on `port` keeps its login token's hash (for `clauderon serve --new-token`)."""
    return Path(home.root) / f"serve-{port}.json"


def run_serve(home: Any, loaded: Any, args: Any) -> int:
    """The `serve` command: host or join the engine, serve until a signal, then hand the engine over."""
    from clauderon_tui.hosted_engine import finish_host
    from runtime.engine.host import EngineHost, setup_logging, try_lock, wait_for_socket

    options = resolve_options(loaded.settings.serve, host=args.host, port=args.port, public_url=args.public_url,
                              tls_cert=args.tls_cert, tls_key=args.tls_key)
    if getattr(args, "new_token", False):
        from clauderon_tui.serve.auth import new_token

        try:
            url = new_token(token_file_path(home, options.port))
        except ValueError as exc:
            raise ClauderonError(str(exc)) from exc
        print(f"Open this URL to log in (it works once: keep it private):\n    {url}")
        return 0
    auth = make_auth(home, options)
    setup_logging(home, "serve")
    os.environ["CLAUDERON_HOME"] = str(home.root)  # the tabs' app processes inherit it
    server = ClauderonServer(options, auth, home=home, prefix_key=loaded.settings.tui.prefix_key)
    host = None
    fd = try_lock(home)
    if fd is not None:
        host = EngineHost(home, loaded, fd)
        host.start()
        engine_note = "engine hosted here"
    else:
        wait_for_socket(home)
        engine_note = "joined the running engine"
    try:
        asyncio.run(serve_until_signalled(server, engine_note))
    finally:
        if host is not None:
            finish_host(host, loaded)
    return 0
