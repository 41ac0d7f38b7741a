"""Create-to-first-output of `clauderon create --agent shell` beside the bare baseline.

Baseline: `git worktree add` plus `docker run` of the same image until its first output byte.
clauderon: `clauderon create --agent shell` (engine already running; the CLI process is part of the cost)
until the session's screen shows output (polled through the engine API in this process, so the poll
itself adds no process start-ups). A third line times the engine alone (the API's create, no CLI).
Medians over 5 runs each and their ratio. Reported, not a test: run `make bench` or
`.venv/bin/python bench/create.py`.
"""

from __future__ import annotations

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

from runtime.client import EngineClient  # noqa: E402
from runtime.home import Home  # noqa: E402
from tests.cli_harness import Cli  # noqa: E402
from tests.conftest import TEST_AGENT_IMAGE  # noqa: E402

RUNS = 5


def make_repo(base: Path) -> Path:
    repo = base / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    return repo


def baseline_once(repo: Path, base: Path, i: int) -> float:
    worktree = base / f"bw{i}"
    start = time.perf_counter()
    subprocess.run(["git", "worktree", "add", "-q", "-b", f"bench/{i}", str(worktree), "main"], cwd=repo, check=True)
    proc = subprocess.Popen(
        ["docker", "run", "--rm", "-t", "--network", "host", "--name", f"bench-baseline-{i}", "-v", f"{worktree}:/workspace",
         "-w", "/workspace", TEST_AGENT_IMAGE, "bash", "-l"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
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


def engine_once(cli: Cli, repo: Path, i: int) -> float:
    async def go(client: EngineClient) -> float:
        start = time.perf_counter()
        await client.create_session({"repo": str(repo), "name": f"api-{i}", "agent": "shell"}, wait=True)
        await _first_output(client, f"api-{i}")
        return time.perf_counter() - start

    return asyncio.run(_with_client(cli, go))


async def _with_client(cli: Cli, fn):
    client = EngineClient(Home(cli.home))
    try:
        return await fn(client)
    finally:
        await client.close()


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="cl-bench-", dir="/tmp"))
    cli = Cli(base / "home", image=TEST_AGENT_IMAGE)
    try:
        repo = make_repo(base)
        cli("engine", "--background")
        baseline = [baseline_once(repo, base, i) for i in range(RUNS)]
        ours = [clauderon_once(cli, repo, i) for i in range(RUNS)]
        engine = [engine_once(cli, repo, i) for i in range(RUNS)]
        b, c, e = statistics.median(baseline), statistics.median(ours), statistics.median(engine)
        print(f"baseline (git worktree add + docker run, first output): median {b * 1000:.0f} ms  runs {[round(x * 1000) for x in baseline]}")
        print(f"clauderon create --agent shell, first output:            median {c * 1000:.0f} ms  runs {[round(x * 1000) for x in ours]}")
        print(f"engine alone (API create + first output, no CLI):     median {e * 1000:.0f} ms  runs {[round(x * 1000) for x in engine]}")
        print(f"ratio {c / b:.2f} (goal <= 1.3); engine alone {e / b:.2f}")
    finally:
        for i in range(RUNS):
            cli("delete", f"bench-{i}", "--force", check=False)
            cli("delete", f"api-{i}", "--force", check=False)
        cli.cleanup()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
