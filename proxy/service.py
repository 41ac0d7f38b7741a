"""`ProxyService`: the one mitmproxy instance an engine owns, on its own thread and event loop.

mitmproxy's context is process-global, so there is one live service per process. A bare `Master` with
hand-picked addons is used (DumpMaster's ErrorCheck would `sys.exit` inside the app), connections are
lazy (so routes apply before anything is resolved or dialled), and stop closes the listeners for real.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from proxy import addons
from proxy.audit import AUDIT_FILE, AuditLog
from proxy.ca import CA_DIR, ensure_ca, upstream_trust_bundle
from proxy.credentials import CredentialHome, CredentialSettings, CredentialStore, credential_store_for
from proxy.errorpages import install_error_typing, uninstall_error_typing
from proxy.errors import ProxyError
from proxy.rules import build_rules
from proxy.sessions import SessionProxyConfig, SessionRegistry

if TYPE_CHECKING:  # mitmproxy's master is imported when the proxy starts
    from mitmproxy.master import Master

logger = logging.getLogger(__name__)

DEFAULT_PORT = 18100
PRIVATE_MODE = "regular@127.0.0.1:0"
PORT_FILE = "proxy.port"
_active_lock = threading.Lock()
_active: ProxyService | None = None


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(home: CredentialHome, preferred: int = DEFAULT_PORT) -> int:
    """The home's proxy port: the one recorded in `proxy.port`, else `preferred` if free, else any free
    port; recorded on first choice so containers keep working across restarts and homes never collide."""
    path = Path(home.root) / PORT_FILE
    try:
        text = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        text = None
    if text is not None:
        if text.isdigit() and 1 <= int(text) <= 65535:
            return int(text)
        logger.warning("%s holds %r, not a port (1-65535); picking a fresh one", path, text[:20])
        # Open-network sandboxes started with the old port lose the proxy until restarted; sealed ones
        # reach it through their socket and never knew the port.
    port = preferred if _port_free(preferred) else 0
    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    path.write_text(f"{port}\n")
    return port


class ProxySection(Protocol):
    """The `[proxy]` settings the service reads."""

    @property
    def port(self) -> int | None: ...

    @property
    def allowlist(self) -> Sequence[str]: ...

    @property
    def raw_tcp(self) -> Sequence[str]: ...

    @property
    def max_body_bytes(self) -> int: ...


class ProxySettings(CredentialSettings, Protocol):
    """What the service needs of the settings: `[proxy]`, `[routes]` and the 1Password references."""

    @property
    def proxy(self) -> ProxySection: ...

    @property
    def routes(self) -> Mapping[str, str]: ...


class ProxyService:
    """Start/stop the proxy and tell it about sessions. Thread-safe; call from the engine."""

    def __init__(self, home: CredentialHome, settings: ProxySettings, *, port: int | None = None,
                 listen_hosts: tuple[str, ...] = ("127.0.0.1",),
                 credential_sources: CredentialStore | None = None) -> None:
        self.home = home
        self.settings = settings
        self._port = port or settings.proxy.port or choose_port(home)
        self.private_port: int | None = None
        """The engine-private loopback port (kernel-chosen at start) that sealed sessions' bridges dial."""
        self.shared_error: str | None = None
        """Why the shared port is not listening (held by another process), or None."""
        self.listen_hosts = tuple(listen_hosts)
        self.credentials = credential_sources or credential_store_for(home, settings)
        self.registry = SessionRegistry()
        self.audit = AuditLog(Path(home.root) / AUDIT_FILE)
        self.ca_dir = Path(home.root) / CA_DIR
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._master: Master | None = None
        pcfg = settings.proxy
        self.rules = build_rules([r.model_dump() for r in getattr(pcfg, "injection_rules", [])],
                                 getattr(pcfg, "grafana_host", None))
        """The injection rule table (proxy.toml's rules first, then the built-in ones)."""
        self._hooks = addons.HooksHost()
        self._injector = addons.Injector(self.credentials, self.rules)
        self._router = addons.Router(dict(settings.routes))
        auditor = addons.Auditor(self.audit)
        auth = addons.ProxyAuth(self.registry, auditor, list(pcfg.allowlist))
        wire = addons.Tripwire(self.credentials)
        self._addons = [
            auth,
            addons.RawTunnels(auth, auditor, list(pcfg.raw_tcp)),
            self._hooks,
            wire,
            addons.AccessPolicy(list(pcfg.allowlist)),
            self._router,
            self._injector,
            addons.TokenRefresh(self.credentials),
            addons.BodyStreams(wire, pcfg.max_body_bytes),
            addons.Streamer(),
            auditor,
        ]

    # --- interface -------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The proxy's own event loop (its thread), while it runs."""
        return self._loop if self._thread is not None else None

    @property
    def ca_cert_path(self) -> Path:
        """The public CA certificate to mount read-only at `/etc/clauderon/proxy-ca.pem`."""
        return ensure_ca(self.ca_dir).public_cert

    def set_hooks_handler(self, fn: addons.HooksHandler | None) -> None:
        """`fn(session_id, method, path, body) -> (status, headers, body)` answers `clauderon.internal`;
        it runs in a worker thread. None makes that host answer 404."""
        self._hooks.handler = fn

    def set_missing_credential_handler(self, fn: addons.MissingCredentialHandler | None) -> None:
        """`fn(session_id, message)` hears of each model call refused for want of a credential (answered 401
        with `message`); it runs on the proxy's loop and must not block."""
        self._injector.on_missing_credential = fn

    def register_session(self, cfg: SessionProxyConfig) -> None:
        self.registry.register(cfg)

    def unregister_session(self, session_id: str) -> None:
        self.registry.unregister(session_id)

    def set_access_mode(self, session_id: str, mode: str) -> None:
        """Switch a running session between read-write and read-only; applies to its next request."""
        self.registry.set_access_mode(session_id, mode)

    def is_real_credential_value(self, value: str) -> bool:
        return self.credentials.is_real_credential_value(value)

    def credentials_report(self) -> list[dict[str, Any]]:
        return self.credentials.report()

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> int:
        """Start listening; returns the port. Raises `ProxyError` with one clear line on failure."""
        global _active
        with _active_lock:
            if _active is not None:
                raise ProxyError("a proxy is already running in this process (mitmproxy allows one)")
            _active = self
        try:
            self.credentials.load()
            ca = ensure_ca(self.ca_dir)
            trust = upstream_trust_bundle(self.ca_dir, getattr(self.settings.proxy, "upstream_ca_bundle", None))
            ready = threading.Event()
            result: dict[str, str] = {}
            self._thread = threading.Thread(target=self._run, args=(ca.confdir, trust, ready, result),
                                            name="clauderon-proxy", daemon=True)
            self._thread.start()
            ready.wait()
            if "error" in result:
                self._thread.join(5)
                raise ProxyError(result["error"])
            logger.info("proxy listening on %s port %d", ", ".join(self.listen_hosts), self._port)
            return self._port
        except BaseException:
            with _active_lock:
                _active = None
            raise

    def _run(self, confdir: Path, trust: Path | None, ready: threading.Event, result: dict[str, str]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(confdir, trust, ready, result))
        except Exception as exc:  # anything escaping here would otherwise vanish with the thread
            logger.exception("proxy thread failed")
            result.setdefault("error", f"proxy failed: {exc}")
        finally:
            ready.set()
            loop.close()

    async def _serve(self, confdir: Path, trust: Path | None, ready: threading.Event, result: dict[str, str]) -> None:
        from mitmproxy import options
        from mitmproxy.addons import core, next_layer, proxyserver, tlsconfig
        from mitmproxy.master import Master

        opts = options.Options()
        master = Master(opts, event_loop=asyncio.get_running_loop())
        master.addons.add(core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(),
                          tlsconfig.TlsConfig(), *self._addons)
        shared = [f"regular@{h}:{self._port}" if ":" not in h else f"regular@[{h}]:{self._port}"
                  for h in self.listen_hosts]
        opts.update(
            confdir=str(confdir),
            # The shared port (open-network sandboxes dial it) and a private one the kernel picks, which
            # only the engine's own sealed-session bridges know: nobody can hold it before the engine.
            mode=[*shared, PRIVATE_MODE],
            connection_strategy="lazy",
            http2=False,  # HTTP/1.1 to clients: one error-page path to type, and every agent speaks it
            ssl_verify_upstream_trusted_ca=str(trust) if trust else None,
            stream_large_bodies=None,
            # Request bodies only (see errorpages): a larger one gets 413 before it is read.
            body_size_limit=str(self.settings.proxy.max_body_bytes),
        )
        self._master = master
        install_error_typing()
        run_task = asyncio.create_task(master.run())
        pserver = master.addons.get("proxyserver")
        await pserver.setup_servers()
        private = next((s for s in pserver.servers if s.mode.full_spec == PRIVATE_MODE and s.is_running), None)
        if private is None:
            result["error"] = "cannot listen on a private loopback port for sealed sessions"
            await pserver.servers.update([])
            master.shutdown()
            await run_task
            uninstall_error_typing()
            return
        self.private_port = private.listen_addrs[0][1]
        failed = [s for s in pserver.servers if s.mode.full_spec != PRIVATE_MODE and not s.is_running]
        if failed:  # someone holds the shared port: sealed sessions go on, open-network ones cannot
            self.shared_error = (f"port {self._port} is held by another process ({failed[0].last_exception}); "
                                 "open-network sessions cannot reach the proxy: free it, or delete "
                                 f"{Path(self.home.root) / PORT_FILE} to pick another port at the next start")
            logger.warning("%s", self.shared_error)
        ready.set()
        await run_task
        uninstall_error_typing()

    def stop(self) -> None:
        """Close the listeners (the port refuses connections afterwards) and the thread."""
        global _active
        if self._thread is None or self._loop is None or self._master is None:
            return
        master, loop = self._master, self._loop

        async def _shutdown() -> None:
            # `shutdown()` alone leaves the listening socket accepting; emptying the server set closes it.
            await master.addons.get("proxyserver").servers.update([])
            master.shutdown()

        try:
            asyncio.run_coroutine_threadsafe(_shutdown(), loop).result(10)
        except Exception as exc:
            logger.warning("proxy shutdown: %s", exc)
        self._thread.join(10)
        self._thread = None
        self._master = None
        self.audit.close()
        with _active_lock:
            _active = None
