"""Soak: many local sessions printing for minutes, deleted and recreated, beside a bare tmux server.

clauderon: a headless engine on a fresh home, N local `shell` sessions each running
`while :; do echo ...; sleep 0.1; done`, for M minutes a round; then every session is deleted and
created again, for R rounds in all. Sampled every second: the engine's RSS and CPU time, and `list`
latency (the API's session list, one client in this process). Baseline, same run: one tmux server
hosting the same N loops for M minutes (its RSS and CPU, and `tmux list-sessions` latency).

Goal (issue 15): engine RSS under 300 MB at 100 sessions, flat across rounds (within 10%), `list` p99
under 100 ms. Reported, not a test: `.venv/bin/python bench/soak.py [--sessions 100 --minutes 5 --rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
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

LOOP = "while :; do echo soak line $((n=n+1)) of a session that keeps printing; sleep 0.1; done"
TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class Round:
    def __init__(self) -> None:
        self.rss: list[float] = []
        self.latency_ms: list[float] = []
        self.cpu = 0.0


async def soak_round(client: EngineClient, pid: int, names: list[str], seconds: float) -> Round:
    result, cpu_start, end = Round(), cpu_seconds(pid), time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        await client.list_sessions()
        result.latency_ms.append((time.perf_counter() - t0) * 1000)
        result.rss.append(rss_mb(pid))
        await asyncio.sleep(1.0)
    result.cpu = cpu_seconds(pid) - cpu_start
    return result


async def run_clauderon(base: Path, sessions: int, seconds: float, rounds: int) -> list[Round]:
    repo = make_repo(base)
    cli = Cli(base / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n'
                                          'max_concurrent_operations = 4\n')
    cli("list")  # starts the background engine
    pid = cli.engine_pid()
    if pid is None:
        raise SystemExit(f"the engine did not start; see {cli.home / 'logs'}")
    client = EngineClient(Home(cli.home))
    names = [f"soak-{i}" for i in range(sessions)]
    results = []
    try:
        print(f"engine pid {pid}, RSS at start {rss_mb(pid):.0f} MB", flush=True)
        for r in range(rounds):
            made = await asyncio.gather(*(client.create_session({"repo": str(repo), "name": n, "agent": "shell"},
                                                                wait=True) for n in names))
            failed = [f"{s.name}: {s.error}" for s in made if s.status != "running"]
            if failed:
                raise SystemExit(f"{len(failed)} creates failed, the first: {failed[0]}")
            for name in names:
                await client.send(name, LOOP, enter=True)
            result = await soak_round(client, pid, names, seconds)
            results.append(result)
            print(f"round {r + 1}: RSS peak {max(result.rss):.0f} MB end {result.rss[-1]:.0f} MB, "
                  f"CPU {result.cpu / sessions / seconds * 100:.2f}% of a core per session, "
                  f"list p50 {statistics.median(result.latency_ms):.1f} ms "
                  f"p99 {percentile(result.latency_ms, 0.99):.1f} ms",
                  flush=True)
            await asyncio.gather(*(client.delete_session(n, force=True) for n in names))
        print(f"after the last delete: RSS {rss_mb(pid):.0f} MB", flush=True)
    finally:
        # Local sessions outlive their engine by design: a soak that stops early removes its own.
        await asyncio.gather(*(client.delete_session(n, force=True) for n in names), return_exceptions=True)
        await client.close()
        cli("engine", "stop", check=False, timeout=120)
        cli.kill_engine()
    return results


def run_tmux(base: Path, sessions: int, seconds: float) -> Round:
    socket = str(base / "tmux.sock")
    tmux = ["tmux", "-S", socket]
    subprocess.run([*tmux, "new-session", "-d", "-s", "soak-0", "-x", "120", "-y", "40", "bash", "-c", LOOP],
                   check=True)
    for i in range(1, sessions):
        subprocess.run([*tmux, "new-session", "-d", "-s", f"soak-{i}", "-x", "120", "-y", "40", "bash", "-c", LOOP],
                       check=True)
    pid = int(subprocess.run([*tmux, "display-message", "-p", "#{pid}"], capture_output=True, text=True).stdout)
    result, cpu_start, end = Round(), cpu_seconds(pid), time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            t0 = time.perf_counter()
            subprocess.run([*tmux, "list-sessions"], capture_output=True)
            result.latency_ms.append((time.perf_counter() - t0) * 1000)
            result.rss.append(rss_mb(pid))
            time.sleep(1.0)
        result.cpu = cpu_seconds(pid) - cpu_start
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    seconds = args.minutes * 60
    base = Path(tempfile.mkdtemp(prefix="cl-soak-", dir="/tmp"))
    try:
        rounds = asyncio.run(run_clauderon(base, args.sessions, seconds, args.rounds))
        baseline = run_tmux(base, args.sessions, seconds)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    peaks = [max(r.rss) for r in rounds]
    latencies = [ms for r in rounds for ms in r.latency_ms]
    cpu = statistics.mean(r.cpu for r in rounds) / args.sessions / seconds * 100
    tmux_cpu = baseline.cpu / args.sessions / seconds * 100
    print(f"\n{args.sessions} sessions, {args.minutes:g} min x {args.rounds} rounds")
    print(f"clauderon engine: RSS peak per round {', '.join(f'{p:.0f}' for p in peaks)} MB "
          f"(last/second round {peaks[-1] / peaks[min(1, len(peaks) - 1)]:.2f}), CPU {cpu:.2f}% of a core per session, "
          f"list p50 {statistics.median(latencies):.1f} ms p99 {percentile(latencies, 0.99):.1f} ms")
    print(f"baseline tmux server: RSS peak {max(baseline.rss):.0f} MB, CPU {tmux_cpu:.2f}% of a core per session, "
          f"list-sessions p50 {statistics.median(baseline.latency_ms):.1f} ms "
          f"p99 {percentile(baseline.latency_ms, 0.99):.1f} ms")
    print(f"ratios: RSS {max(peaks) / max(baseline.rss):.1f}x, CPU {cpu / tmux_cpu:.1f}x, "
          f"list p99 {percentile(latencies, 0.99) / percentile(baseline.latency_ms, 0.99):.1f}x")


if __name__ == "__main__":
    main()
