"""A 1 GiB upload through the real proxy leaves the engine's memory flat (its own module: one proxy runs
per process, and this one needs `max_body_bytes` raised above 1 GiB)."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time

import pytest

from proxy import read_audit
from tests.test_proxy_flows import World


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def roomy_world(tmp_path):
    w = World(tmp_path, max_body_bytes=2 * 1024 ** 3)
    yield w
    w.close()


@pytest.mark.timeout(400)
def test_a_1_gb_upload_streams_with_flat_memory(roomy_world, tmp_path):
    """The proxy runs in this process; its memory is sampled while 1 GiB goes up chunked, and every byte
    must arrive upstream. A body read whole would add 1 GiB; streamed, the growth stays small."""
    world = roomy_world
    curl = world.session("gig", creds={"github_token"})
    upload = tmp_path / "gig.bin"
    size = 1024 ** 3
    with open(upload, "wb") as out:
        out.truncate(size)  # zeros, sparse: the test machine's disk is not the point
    baseline, peak, done = rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "", "--cacert", str(curl.ca),
             "--proxy", f"http://{curl.user}:{curl.password}@127.0.0.1:{curl.port}", "--max-time", "300",
             "--http1.1", "-X", "POST", "-T", str(upload), "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
             "https://api.github.com/count-gig"], capture_output=True, text=True, timeout=330)
    finally:
        done.set()
        sampler.join()
    assert result.stdout == "200", (result.stdout, result.stderr)
    [seen] = [s for s in world.upstream.seen if s.path == "/count-gig"]
    zeros = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(size >> 20):
        zeros.update(block)
    assert seen.complete and seen.size == size and seen.sha256 == zeros.hexdigest()
    growth = peak[0] - baseline
    print(f"1 GiB upload: peak RSS growth {growth / 2 ** 20:.0f} MiB")
    assert growth < 200 * 1024 ** 2, f"memory grew by {growth / 2 ** 20:.0f} MiB during a streamed upload"
    [line] = read_audit(world.home, "gig")
    assert line["status"] == 200 and line["credential"] == "github_token"
