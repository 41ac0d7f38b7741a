"""Shared pieces for the proxy tests: a test CA, fake HTTPS upstreams on loopback, and a client that goes
through the real proxy (curl, or http.client over a CONNECT tunnel). No tests live here."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_ca(directory: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_leaf(directory: Path, ca_key, ca_cert, name: str, dns: tuple[str, ...] = ()) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost"),
                                                        *(x509.DNSName(d) for d in dns)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Seen:
    method: str
    path: str
    host: str
    headers: dict[str, str]
    body: bytes
    """As far as it arrived (for `/count` paths, nothing: see `size` and `sha256`)."""
    complete: bool = True
    """Whether the whole body arrived (a cut stream leaves an incomplete request no server acts on)."""
    size: int = 0
    sha256: str = ""


class BodyReader:
    """A request body off an HTTP/1.1 stream, by Content-Length or chunked, in pieces."""

    def __init__(self, rfile, headers) -> None:
        self.rfile, self.headers = rfile, headers
        self.complete = False

    def __iter__(self):
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"x", 16):
                    yield from self._exactly(size)
                    self.rfile.readline()
                self.rfile.readline()
            else:
                yield from self._exactly(int(self.headers.get("Content-Length") or 0))
            self.complete = True
        except (ValueError, OSError):  # a stream cut part-way
            return

    def _exactly(self, size: int):
        while size:
            piece = self.rfile.read(min(size, 1 << 20))
            if not piece:
                raise ValueError("cut")
            size -= len(piece)
            yield piece


@dataclass
class FakeUpstream:
    """An HTTPS server on 127.0.0.1 that records every request (`/count` ones by size and digest) and answers:
    `/sse` with two events, the second only once `sse_release` is set by the client;
    `/oauth/token` with fresh tokens from `token_reply`; anything else with 200 and a JSON echo."""

    cert: Path
    key: Path
    seen: list[Seen] = field(default_factory=list)
    sse_release: threading.Event = field(default_factory=threading.Event)
    sse_released_by_client: list[bool] = field(default_factory=list)
    token_reply: dict = field(default_factory=dict)

    def start(self) -> int:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                reader, digest, size, pieces = BodyReader(self.rfile, self.headers), hashlib.sha256(), 0, []
                for piece in reader:
                    digest.update(piece)
                    size += len(piece)
                    if not self.path.startswith("/count"):
                        pieces.append(piece)
                upstream.seen.append(Seen(self.command, self.path, self.headers.get("Host", ""),
                                          {k.lower(): v for k, v in self.headers.items()}, b"".join(pieces),
                                          reader.complete, size, digest.hexdigest()))
                if not reader.complete:
                    self.close_connection = True
                    return
                if self.path.startswith("/sse"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self._chunk(b"event: one\ndata: first\n\n")
                    upstream.sse_released_by_client.append(upstream.sse_release.wait(20))
                    self._chunk(b"event: two\ndata: second\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if self.path.startswith("/big-download"):  # 80 MiB, over the proxy's request-body limit
                    self.send_response(200)
                    self.send_header("Content-Length", str(80 * 1024 * 1024))
                    self.end_headers()
                    block = b"x" * (1024 * 1024)
                    for _ in range(80):
                        self.wfile.write(block)
                    return
                if self.path.startswith("/oauth/token"):
                    out = json.dumps(upstream.token_reply).encode()
                else:
                    out = json.dumps({"ok": True, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server.server_address[1]

    def stop(self) -> None:
        self.sse_release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(24)


@dataclass
class Curl:
    """curl through the proxy as one session."""

    port: int
    ca: Path
    user: str
    password: str

    def __call__(self, url: str, *args: str, proxy_auth: bool = True) -> tuple[int, dict[str, str], str]:
        proxy = (f"http://{self.user}:{self.password}@127.0.0.1:{self.port}" if proxy_auth
                 else f"http://127.0.0.1:{self.port}")
        out = subprocess.run(
            ["curl", "-sS", "-i", "--noproxy", "", "--proxy", proxy, "--cacert", str(self.ca),
             "--max-time", "30", "--http1.1", url, *args],
            capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
        )
        return parse_curl(out.stdout)


def parse_curl(raw: str) -> tuple[int, dict[str, str], str]:
    """The last response in curl -i output (CONNECT replies come first)."""
    blocks = raw.replace("\r\n", "\n")
    status, headers, body = 0, {}, ""
    while blocks.startswith("HTTP/"):
        head, _, rest = blocks.partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (row.partition(":") for row in lines[1:])}
        body, blocks = rest, rest
    return status, headers, body


def tunnel(port: int, ca: Path, host: str, user: str, password: str) -> http.client.HTTPSConnection:
    """An http.client connection to `host` through the proxy (CONNECT with proxy credentials)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    conn.set_tunnel(host, 443, headers={"Proxy-Authorization": f"Basic {auth}"})
    return conn
