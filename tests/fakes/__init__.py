"""Fake upstream APIs (Anthropic, OpenAI) that the real agent CLIs can talk to, over http or https.

Each fake is an aiohttp app that records every request and answers from a script. This module holds
what they share: the recorded request, the server life cycle (async, or in a thread with its own loop
for sync tests), SSE writing, and a throwaway TLS certificate for serving them as `api.anthropic.com`
and friends behind the proxy's routes.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass
class RecordedRequest:
    """One request a fake received, kept for assertions."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    received_at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def text(self) -> str:
        """The body decoded leniently (for "the prompt is in there somewhere" assertions)."""
        return self.body.decode("utf-8", "replace")


@dataclass
class Sse:
    """An SSE response body to stream: `(event, data)` pairs."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, data))


async def write_sse(request: web.Request, sse: Sse) -> web.StreamResponse:
    """Stream `sse` as `text/event-stream`, one write per event (so clients see a real stream)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for event, data in sse.events:
        await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
    await response.write_eof()
    return response


class FakeUpstream:
    """Base of the fakes: an aiohttp app with a request log, startable on http or https, async or threaded."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.base_url = ""
        self.add_routes(self.app)
        self.app.router.add_route("*", "/{tail:.*}", self._unknown)

    def add_routes(self, app: web.Application) -> None:
        """Subclasses register their endpoints here (before the catch-all)."""

    @web.middleware
    async def _record(self, request: web.Request, handler):
        body = await request.read()
        parsed: Any = None
        if body and "json" in (request.content_type or ""):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        recorded = RecordedRequest(request.method, request.path, dict(request.query), dict(request.headers), body,
                                   parsed)
        with self._lock:
            self.requests.append(recorded)
        log.debug("%s %s %s", type(self).__name__, request.method, request.path_qs)
        return await handler(request)

    async def _unknown(self, request: web.Request) -> web.Response:
        # Everything the CLIs may probe at start that a test does not care about: a clean 404 is what
        # the real APIs answer for unknown paths, and the CLIs treat it as "feature not available".
        return web.json_response({"error": {"type": "not_found_error", "message": f"no route {request.path}"}},
                                 status=404)

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve on `host:port` (0 picks a free port); returns the base URL (no trailing slash)."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        scheme = "https" if ssl_context else "http"
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.base_url = f"{scheme}://{shown}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0,
                        ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve from a daemon thread with its own event loop (for sync tests); returns the base URL."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start(host, port, ssl_context))
            except BaseException as exc:  # surfaced to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"{type(self).__name__}-server", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self.base_url

    def stop_thread(self) -> None:
        """Stop a server started with `start_in_thread` and join its thread."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self):
        self.start_in_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

    # -- assertions helpers -----------------------------------------------------------------------

    def requests_to(self, path: str, method: str = "POST") -> list[RecordedRequest]:
        """The recorded requests for one endpoint, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path and r.method == method]

    def paths(self) -> list[str]:
        """`METHOD /path` of every request, in order (what the CLI hit)."""
        with self._lock:
            return [f"{r.method} {r.path}" for r in self.requests]


@dataclass(frozen=True)
class TestCertificate:
    """A throwaway CA and a server certificate it signed: clients trust `ca`, the fake serves `cert`/`key`."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        return server_ssl_context(self.cert, self.key)


def make_test_certificate(directory: Path, hostnames: Iterable[str] = ("localhost",),
                          ips: Iterable[str] = ("127.0.0.1", "::1")) -> TestCertificate:
    """A CA and a leaf certificate for `hostnames` and `ips` under `directory`.

    A real chain, not one self-signed certificate: rustls (Codex) refuses a CA certificate presented
    as the server's own, where Node and Bun accept it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=7))
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clauderon fake upstream test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    names = list(hostnames)
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "fake-upstream")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    result = TestCertificate(directory / "fake-upstream-ca.pem", directory / "fake-upstream.pem",
                             directory / "fake-upstream.key")
    result.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    result.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    result.key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return result


def server_ssl_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """An SSL context serving a certificate and its key (see `make_test_certificate`)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


__all__ = ["RecordedRequest", "Sse", "write_sse", "FakeUpstream", "TestCertificate", "make_test_certificate",
           "server_ssl_context"]
