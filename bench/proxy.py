"""Benchmark: the clauderon proxy against direct connections and standalone mitmdump, on loopback.

One HTTPS upstream (aiohttp, own process, cert from a throwaway CA). Each path is measured in the same run:
  direct          client -> upstream
  clauderon       client -> ProxyService (own process; auth, tripwire, policy, route, injection, audit)
  sealed          client -> clauderon's relay (the static binary a sealed container runs) -> the session's
                  unix socket -> the engine's bridge -> ProxyService's private port: a sealed session's path
  mitmdump        client -> `mitmdump` from the venv (lazy connections, streaming on), the reference
Figures: 1,000 sequential small HTTPS requests on one keep-alive connection (median and p99 latency,
and latency added over direct), SSE time to first byte (median of 30), 50 concurrent SSE streams (wall time).

    .venv/bin/python bench/proxy.py
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUTE_HOST = "bench.upstream"
SSE_EVENTS = 5
SSE_GAP_S = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


# --- child processes ----------------------------------------------------------------------------------

def serve_upstream(port: int, cert: str, key: str) -> None:
    import asyncio

    from aiohttp import web

    async def small(_req: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def sse(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(req)
        for i in range(SSE_EVENTS):
            await resp.write(f"event: e\ndata: {i}\n\n".encode())
            await asyncio.sleep(SSE_GAP_S)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_post("/sse", sse)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    web.run_app(app, host="127.0.0.1", port=port, ssl_context=ctx, print=None, access_log=None)


def serve_clauderon(home: str, port: int, upstream_port: int, ca: str, password_hash: str) -> None:
    from proxy import CredentialStore, ProxyService, SessionProxyConfig
    from runtime.home import Home
    from runtime.settings import Settings

    h = Home.open(home)
    settings = Settings.model_validate({"routes": {ROUTE_HOST: f"https://127.0.0.1:{upstream_port}"},
                                        "proxy": {"upstream_ca_bundle": ca}})
    store = CredentialStore(h.secrets, environ={"GITHUB_TOKEN": "ghp_" + "x" * 36})
    svc = ProxyService(h, settings, port=port, credential_sources=store)
    svc.start()
    svc.register_session(SessionProxyConfig("bench", "bench", password_hash, "claude", {"github_token"}))
    # The engine's side of the sealed path: the session's unix socket, bridged to the private port.
    import asyncio

    from runtime.engine.sealed import SealedSockets

    sealed = SealedSockets(h, lambda: svc.private_port, lambda: svc.loop)
    loop = svc.loop
    assert loop is not None, "the proxy was started above"
    directory = asyncio.run_coroutine_threadsafe(sealed.open("bench"), loop).result(30)
    (Path(home) / "sealed.path").write_text(str(directory / "proxy.sock"))
    sys.stdin.read()  # until the parent closes our stdin
    svc.stop()


# --- client -------------------------------------------------------------------------------------------

class Path_:
    """One way of reaching the upstream."""

    def __init__(self, name: str, cafile: str, proxy_port: int | None, host: str, port: int, auth: str | None):
        self.name, self.proxy_port, self.host, self.port, self.auth = name, proxy_port, host, port, auth
        self.ctx = ssl.create_default_context(cafile=cafile)

    def connect(self) -> http.client.HTTPSConnection:
        if self.proxy_port is None:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=60)
        conn = http.client.HTTPSConnection("127.0.0.1", self.proxy_port, context=self.ctx, timeout=60)
        headers = {"Proxy-Authorization": "Basic " + base64.b64encode(self.auth.encode()).decode()} if self.auth else {}
        conn.set_tunnel(self.host, self.port, headers=headers)
        return conn


def small_requests(path: Path_, n: int) -> list[float]:
    conn = path.connect()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", "/small", headers={"Authorization": "Bearer placeholder"})
        resp = conn.getresponse()
        resp.read()
        out.append(time.perf_counter() - t)
        assert resp.status == 200, (path.name, resp.status)
    conn.close()
    return out


def sse_once(path: Path_) -> tuple[float, float]:
    """(time to first byte, total) for one SSE stream on a fresh connection."""
    conn = path.connect()
    t = time.perf_counter()
    conn.request("POST", "/sse", body=b"{}", headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read1(1)
    ttfb = time.perf_counter() - t
    resp.read()
    total = time.perf_counter() - t
    conn.close()
    return ttfb, total


def concurrent_streams(path: Path_, n: int) -> float:
    t = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda _: sse_once(path), range(n)))
    return time.perf_counter() - t


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "upstream":
            serve_upstream(int(rest[0]), rest[1], rest[2])
        else:
            serve_clauderon(rest[0], int(rest[1]), int(rest[2]), rest[3], rest[4])
        return

    from proxy import new_proxy_password
    from tests.test_proxy_fixtures import make_ca, make_leaf

    tmp = Path(tempfile.mkdtemp(prefix="clbench-"))
    ca_path, ca_key, ca_cert = make_ca(tmp, "bench-ca")
    cert, key = make_leaf(tmp, ca_key, ca_cert, "upstream")
    up, ours, mitm, relay_port = free_port(), free_port(), free_port(), free_port()
    password, digest = new_proxy_password()
    me = [sys.executable, __file__, "--child"]
    procs = [
        subprocess.Popen([*me, "upstream", str(up), str(cert), str(key)]),
        subprocess.Popen([*me, "clauderon", str(tmp / "home"), str(ours), str(up), str(ca_path), digest],
                         stdin=subprocess.PIPE),
        subprocess.Popen([str(Path(sys.executable).parent / "mitmdump"), "-q", "--mode", f"regular@127.0.0.1:{mitm}",
                          "--set", f"confdir={tmp / 'mitm'}", "--set", "connection_strategy=lazy",
                          "--set", f"ssl_verify_upstream_trusted_ca={ca_path}", "--set", "stream_large_bodies=1"]),
    ]
    try:
        for p in (up, ours, mitm):
            wait_port(p)
        from runtime.relay import compile_relay

        socket_file = tmp / "home" / "sealed.path"
        while not socket_file.exists():
            time.sleep(0.05)
        procs.append(subprocess.Popen([str(compile_relay(tmp)), str(relay_port), socket_file.read_text()]))
        wait_port(relay_port)
        time.sleep(0.5)
        paths = [
            Path_("direct", str(ca_path), None, "127.0.0.1", up, None),
            Path_("clauderon", str(tmp / "home" / "proxy-ca" / "proxy-ca.pem"), ours, ROUTE_HOST, 443,
                  f"bench:{password}"),
            Path_("sealed", str(tmp / "home" / "proxy-ca" / "proxy-ca.pem"), relay_port, ROUTE_HOST, 443,
                  f"bench:{password}"),
            Path_("mitmdump", str(tmp / "mitm" / "mitmproxy-ca-cert.pem"), mitm, "127.0.0.1", up, None),
        ]
        results: dict[str, dict[str, float]] = {}
        lat: dict[str, list[float]] = {p.name: [] for p in paths}
        for path in paths:
            small_requests(path, 50)  # warm up: TLS contexts, cert generation, imports
        # Interleave the paths in rounds so drift on a shared machine hits all three alike.
        rounds = 5
        for _ in range(rounds):
            for path in paths:
                lat[path.name] += small_requests(path, args.requests // rounds)
        for path in paths:
            sse = [sse_once(path) for _ in range(30)]
            wall = concurrent_streams(path, args.streams)
            times = lat[path.name]
            results[path.name] = {"median_ms": statistics.median(times) * 1e3, "p99_ms": pct(times, 99) * 1e3,
                                  "sse_ttfb_ms": statistics.median(t for t, _ in sse) * 1e3,
                                  "streams_wall_s": wall}
        d = results["direct"]
        print(f"{args.requests} small HTTPS requests (one keep-alive connection), SSE TTFB (median of 30), "
              f"{args.streams} concurrent SSE streams of {SSE_EVENTS} events {SSE_GAP_S*1e3:.0f} ms apart")
        print(f"{'path':<10} {'median ms':>10} {'p99 ms':>8} {'added med':>10} {'added p99':>10} "
              f"{'SSE TTFB ms':>12} {'50 streams s':>13}")
        for name, r in results.items():
            print(f"{name:<10} {r['median_ms']:>10.3f} {r['p99_ms']:>8.3f} {r['median_ms'] - d['median_ms']:>10.3f} "
                  f"{r['p99_ms'] - d['p99_ms']:>10.3f} {r['sse_ttfb_ms']:>12.2f} {r['streams_wall_s']:>13.3f}")
        c, m, sealed = results["clauderon"], results["mitmdump"], results["sealed"]
        print(f"sealed path over the TCP path: median +{sealed['median_ms'] - c['median_ms']:.3f} ms, "
              f"p99 +{sealed['p99_ms'] - c['p99_ms']:.3f} ms (goal: <= 0.5 ms median)")
        print("ratios clauderon/mitmdump: "
              f"median {c['median_ms'] / m['median_ms']:.2f}, p99 {c['p99_ms'] / m['p99_ms']:.2f}, "
              f"added median {(c['median_ms'] - d['median_ms']) / max(1e-9, m['median_ms'] - d['median_ms']):.2f}, "
              f"SSE TTFB {c['sse_ttfb_ms'] / m['sse_ttfb_ms']:.2f}, "
              f"50 streams {c['streams_wall_s'] / m['streams_wall_s']:.2f}")
        print(json.dumps(results))
    finally:
        clauderon = procs[1]
        if clauderon.stdin is not None:  # closing it is the child's signal to stop
            clauderon.stdin.close()
        clauderon.wait(30)
        for proc in (procs[0], *procs[2:]):
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
