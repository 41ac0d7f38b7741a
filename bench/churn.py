"""`list` latency while 20 local sessions are created and deleted at once, beside the same list on a quiet
engine (same engine, same run). The engine keeps the list's rendering off its loop; this shows what a
person polling the list sees while others create and delete. (With asyncio's slow-callback log at 20 ms,
no engine callback but three requests passed 20 ms during a round, none 50 ms: the tail comes from the 2
cores being saturated by 20 local holders starting, not from the engine's loop.)

Reported, not a test: `.venv/bin/python bench/churn.py [--sessions 20 --rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import make_repo, percentile
from runtime.api.client import EngineClient
from runtime.home import Home
from tests.cli_harness import Cli


async def poll_list(client: EngineClient, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set():
        t0 = time.perf_counter()
        await client.list_sessions()
        latencies.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.05)
    return latencies


async def measure(home: Path, repo: Path, sessions: int, rounds: int) -> tuple[list[float], list[float]]:
    client, poller = EngineClient(Home(home)), EngineClient(Home(home))
    try:
        stop = asyncio.Event()
        quiet_task = asyncio.ensure_future(poll_list(poller, stop))
        await asyncio.sleep(10)
        stop.set()
        quiet = await quiet_task
        stop = asyncio.Event()
        busy_task = asyncio.ensure_future(poll_list(poller, stop))
        for r in range(rounds):
            names = [f"churn-{r}-{i}" for i in range(sessions)]
            await asyncio.gather(*(client.create_session({"repo": str(repo), "name": n, "agent": "shell"}, wait=True)
                                   for n in names))
            await asyncio.gather(*(client.delete_session(n, force=True) for n in names))
        stop.set()
        return quiet, await busy_task
    finally:
        await client.close()
        await poller.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cl-churn-", dir="/tmp"))
    cli = Cli(base / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    repo = make_repo(base)
    try:
        cli("list")
        quiet, busy = asyncio.run(measure(cli.home, repo, args.sessions, args.rounds))
    finally:
        cli("engine", "stop", check=False, timeout=120)
        cli.kill_engine()
        shutil.rmtree(base, ignore_errors=True)
    print(f"list while {args.sessions} sessions are created and deleted at once ({args.rounds} rounds): "
          f"p50 {statistics.median(busy):.1f} ms p99 {percentile(busy, 0.99):.1f} ms ({len(busy)} lists)")
    print(f"baseline, the same engine quiet: p50 {statistics.median(quiet):.1f} ms "
          f"p99 {percentile(quiet, 0.99):.1f} ms")
    print(f"ratio p50 {statistics.median(busy) / statistics.median(quiet):.1f}x, "
          f"p99 {percentile(busy, 0.99) / percentile(quiet, 0.99):.1f}x")


if __name__ == "__main__":
    main()
