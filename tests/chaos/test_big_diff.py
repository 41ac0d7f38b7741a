"""A huge text file in a session's commit: the diff is cut while it is read, so the engine's memory does
not grow with the file (a 150 MB file cost the engine +450 MB per diff request when the whole patch was
read and then cut)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import run_git


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.timeout(300)
def test_a_150_mb_file_in_a_commit_does_not_grow_the_engine(local_cli: Cli, git_repo: Path) -> None:
    cli = local_cli
    created = cli("create", "--repo", str(git_repo), "--name", "big", "--agent", "shell", "--json").json()
    tree = Path(created["worktree_path"])
    line = "a line of generated text that goes on for a while, " * 2 + "\n"
    with open(tree / "huge.txt", "w") as out:
        for _ in range(150 * 1024 * 1024 // len(line)):
            out.write(line)
    run_git(tree, "add", "huge.txt")
    run_git(tree, "commit", "-qm", "a huge file")

    async def diff() -> dict:
        client = EngineClient(Home(cli.home))
        try:
            return await client.diff("big")
        finally:
            await client.close()

    pid = cli.engine_pid()
    before = peak_rss_mib(pid)
    for _ in range(2):
        answer = asyncio.run(diff())
    grown = peak_rss_mib(pid) - before
    print(f"engine peak RSS {before:.0f} MiB -> +{grown:.0f} MiB over two diffs of a 150 MB file")
    committed = answer["committed"]
    assert committed["truncated"] and [f["path"] for f in committed["files"]] == ["huge.txt"]
    assert committed["added"] > 1_500_000  # the counts are whole; only the patch text is cut
    assert grown < 100, f"the engine grew {grown:.0f} MiB"
