"""Create-to-first-output of `clauderon create --agent shell` beside the bare baseline.

Baseline: `git worktree add` plus `docker run` of the same image until its first output byte.
clauderon: `clauderon create --agent shell` (engine already running) until `clauderon screen` shows output.
Medians over 5 runs each and their ratio. Reported, not a test: run `make bench` or
`.venv/bin/python bench/create.py`.
"""

from __future__ import annotations

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


def clauderon_once(cli: Cli, repo: Path, i: int) -> float:
    start = time.perf_counter()
    cli("create", "--repo", str(repo), "--name", f"bench-{i}", "--agent", "shell")
    while not cli("screen", f"bench-{i}", check=False).out.strip():
        time.sleep(0.02)
    return time.perf_counter() - start


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="cl-bench-", dir="/tmp"))
    cli = Cli(base / "home", image=TEST_AGENT_IMAGE)
    try:
        repo = make_repo(base)
        cli("engine", "--background")
        baseline = [baseline_once(repo, base, i) for i in range(RUNS)]
        ours = [clauderon_once(cli, repo, i) for i in range(RUNS)]
        b, c = statistics.median(baseline), statistics.median(ours)
        print(f"baseline (git worktree add + docker run, first output): median {b * 1000:.0f} ms  runs {[round(x * 1000) for x in baseline]}")
        print(f"clauderon create --agent shell, first output:            median {c * 1000:.0f} ms  runs {[round(x * 1000) for x in ours]}")
        print(f"ratio {c / b:.2f} (goal <= 1.3)")
    finally:
        for i in range(RUNS):
            cli("delete", f"bench-{i}", "--force", check=False)
        cli.cleanup()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
