"""Create-to-first-output of `clauderon create --agent shell` beside the bare baseline.

Baseline: `git worktree add` plus `docker run` of the same image until its first output byte.
clauderon: `clauderon create --agent shell` (engine already running; the CLI process is part of the cost)
until the session's screen shows output (polled through the engine API in this process, so the poll
itself adds no process start-ups). A third line times the engine alone (the API's create, no CLI).
Medians over 5 runs each and their ratio. Then the ways a session's repository of its own could be made,
on a repository with history (2,000 commits, 500 files): borrowing the user's objects (alternates, what
clauderon does), a clone from a bundle (copies every object), beside `git worktree add` (the old shared
model). Reported, not a test: run `make bench` or `.venv/bin/python bench/create.py`.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import GIT_ENV, make_repo
from runtime.api.client import EngineClient
from runtime.git.session_repo import borrowed_object_dirs, create_session_repo
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE

RUNS = 5
T = TypeVar("T")


def baseline_once(repo: Path, base: Path, i: int) -> float:
    worktree = base / f"bw{i}"
    start = time.perf_counter()
    subprocess.run(["git", "worktree", "add", "-q", "-b", f"bench/{i}", str(worktree), "main"], cwd=repo, check=True)
    proc = subprocess.Popen(
        ["docker", "run", "--rm", "-t", "--network", "host", "--name", f"bench-baseline-{i}",
         "-v", f"{worktree}:/workspace", "-w", "/workspace", TEST_AGENT_IMAGE, "bash", "-l"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None  # stdout=PIPE
    proc.stdout.read(1)
    elapsed = time.perf_counter() - start
    subprocess.run(["docker", "rm", "-f", f"bench-baseline-{i}"], capture_output=True)
    proc.kill()
    proc.wait()
    return elapsed


async def _first_output(client: EngineClient, name: str) -> None:
    while not (await client.screen(name)).strip():
        await asyncio.sleep(0.005)


def clauderon_once(cli: Cli, repo: Path, i: int) -> float:
    start = time.perf_counter()
    cli("create", "--repo", str(repo), "--name", f"bench-{i}", "--agent", "shell")
    asyncio.run(_with_client(cli, lambda c: _first_output(c, f"bench-{i}")))
    return time.perf_counter() - start


def engine_once(cli: Cli, repo: Path, i: int, network: str = "sealed") -> float:
    name = f"api-{network}-{i}"

    async def go(client: EngineClient) -> float:
        start = time.perf_counter()
        await client.create_session({"repo": str(repo), "name": name, "agent": "shell", "network": network}, wait=True)
        await _first_output(client, name)
        return time.perf_counter() - start

    return asyncio.run(_with_client(cli, go))


async def _with_client(cli: Cli, fn: Callable[[EngineClient], Awaitable[T]]) -> T:
    client = EngineClient(Home(cli.home))
    try:
        return await fn(client)
    finally:
        await client.close()


def history_repo(base: Path, commits: int = 2000, files: int = 500) -> Path:
    """A repository with some history, made fast with fast-import."""
    repo = base / "history"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = []
    for c in range(commits):
        stream.append(f"commit refs/heads/main\ncommitter b <b@b> {1700000000 + c} +0000\ndata 8\ncommit{c % 10}\n")
        changed = range(files) if c == 0 else [c % files]
        for f in changed:
            body = f"file {f} version {c}\n" * 20
            stream.append(f"M 644 inline src/f{f}.txt\ndata {len(body)}\n{body}")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input="".join(stream), text=True, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)
    return repo


def repository_models(base: Path) -> None:
    repo = history_repo(base)
    start_sha = subprocess.run(["git", "rev-parse", "main"], cwd=repo, capture_output=True, text=True).stdout.strip()
    bundle = base / "main.bundle"
    subprocess.run(["git", "bundle", "create", "-q", str(bundle), "main"], cwd=repo, check=True, env=GIT_ENV)

    def timed(make: Callable[[Path, int], object]) -> float:
        runs = []
        for i in range(RUNS):
            target = base / f"m{time.perf_counter_ns()}"
            t0 = time.perf_counter()
            make(target, i)
            runs.append(time.perf_counter() - t0)
            shutil.rmtree(target, ignore_errors=True)
        return statistics.median(runs)

    borrowed = timed(
        lambda t, i: create_session_repo(t, f"clauderon/b{i}", start_sha, borrowed_object_dirs(repo / ".git")))
    cloned = timed(lambda t, i: subprocess.run(["git", "clone", "-q", "-b", "main", str(bundle), str(t)], check=True))
    linked = timed(lambda t, i: subprocess.run(["git", "worktree", "add", "-q", "-b", f"bench/w{i}", str(t), "main"],
                                               cwd=repo, check=True))
    print(f"session repository, 2,000 commits x 500 files: borrowed objects {borrowed * 1000:.0f} ms, "
          f"bundle clone {cloned * 1000:.0f} ms, baseline `git worktree add` {linked * 1000:.0f} ms "
          f"(borrowed/baseline {borrowed / linked:.2f}, bundle/baseline {cloned / linked:.2f})")


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="cl-bench-", dir="/tmp"))
    cli = Cli(base / "home", image=TEST_AGENT_IMAGE)
    try:
        repo = make_repo(base)
        cli("engine", "--background")
        baseline = [baseline_once(repo, base, i) for i in range(RUNS)]
        ours = [clauderon_once(cli, repo, i) for i in range(RUNS)]
        engine = [engine_once(cli, repo, i) for i in range(RUNS)]
        open_net = [engine_once(cli, repo, i, "host") for i in range(RUNS)]
        b, c, e = statistics.median(baseline), statistics.median(ours), statistics.median(engine)
        h = statistics.median(open_net)
        def runs(times: list[float]) -> list[int]:
            return [round(x * 1000) for x in times]

        print(f"baseline (git worktree add + docker run, first output): median {b * 1000:.0f} ms  "
              f"runs {runs(baseline)}")
        print(f"clauderon create --agent shell, first output:            median {c * 1000:.0f} ms  runs {runs(ours)}")
        print(f"engine alone (API create + first output, no CLI):     median {e * 1000:.0f} ms  runs {runs(engine)}")
        print(f"engine alone, host network (the baseline's network):  median {h * 1000:.0f} ms  "
              f"runs {runs(open_net)}")
        print(f"ratio {c / b:.2f} (goal <= 1.3); engine alone {e / b:.2f}; "
              f"the sealed network's relay costs {(e - h) * 1000:.0f} ms")
        repository_models(base)
    finally:
        for i in range(RUNS):
            cli("delete", f"bench-{i}", "--force", check=False)
            for network in ("sealed", "host"):
                cli("delete", f"api-{network}-{i}", "--force", check=False)
        cli.cleanup()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
