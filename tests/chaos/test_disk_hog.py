"""One agent filling the disk does not stop the others: below `[engine] min_free_space` the engine pauses
the session whose worktree grows (`docker pause`, SIGSTOP for a local one), says so, lets its reserve go
so the store and the audit can still write, and the other sessions work on. Made room, `resume` thaws it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE
from tests.test_agents_docker import wait_until
from tests.test_proxy_audit_fail_closed import tmpfs

pytestmark = pytest.mark.timeout(300)

FLOOR = 24 << 20
# 1 MiB every 50 ms into its own worktree, for as long as it is let.
HOG = "while :; do head -c 1048576 /dev/zero >> big.bin; sleep 0.05; done"


@pytest.fixture
def disk(short_tmp: Path):
    yield from tmpfs(short_tmp / "disk", "128m")


def sessions(cli: Cli) -> dict[str, dict]:
    return {s["name"]: s for s in cli("list", "--json").json()}


@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_the_growing_session_is_paused_and_the_others_work_on(backend: str, disk: Path, git_repo: Path) -> None:
    cli = Cli(disk / "h", image=TEST_AGENT_IMAGE)
    (cli.home / "config.toml").write_text(
        f'[session]\nbackend = "{backend}"\n[docker]\nimage = "{TEST_AGENT_IMAGE}"\n'
        f'[engine]\non_exit = "stop"\nmin_free_space = {FLOOR}\ndisk_check_seconds = 0.5\n')
    try:
        for name in ("hog", "calm"):
            cli("create", "--repo", str(git_repo), "--name", name, "--agent", "shell", timeout=180)
            cli.wait_screen(name, ":/", timeout=60)  # the prompt: typeahead before it may be flushed
        reserve = cli.home / "reserve"
        wait_until(reserve.exists, 60, "the reserve")
        assert reserve.stat().st_size == FLOOR // 4
        worktree = Path(sessions(cli)["hog"]["worktree_path"])

        cli("send", "hog", HOG, "--enter")
        hog = wait_until(lambda: sessions(cli)["hog"]["paused"] and sessions(cli)["hog"], 60, "the pause")
        assert "worktree grew" in hog["paused"] and "clauderon resume hog" in hog["paused"]
        assert hog["status"] == "running" and hog["disk_bytes"] >= 32 << 20
        assert not sessions(cli)["calm"]["paused"]
        assert not reserve.exists(), "the reserve was kept while the disk was short"
        size = (worktree / "big.bin").stat().st_size
        time.sleep(1.5)
        assert (worktree / "big.bin").stat().st_size == size, "the paused agent kept writing"
        [listed] = [line for line in cli("list").out.splitlines() if line.startswith("hog ")]
        assert listed.split()[1] == "paused"

        # The others work on, and the store still takes writes.
        cli("send", "calm", "echo calm-$((6*7))", "--enter")
        cli.wait_screen("calm", "calm-42")
        cli("set-access-mode", "calm", "read-only")
        assert sessions(cli)["calm"]["access_mode"] == "read-only"
        refused = cli("resume", "calm", check=False)
        assert refused.code != 0 and "not paused" in refused.err

        # Made room, the user thaws it: it writes again (and is stopped for good by deleting it).
        (worktree / "big.bin").unlink()
        cli("resume", "hog")
        assert sessions(cli)["hog"]["paused"] is None
        wait_until(lambda: (worktree / "big.bin").exists(), 60, "the thawed agent to write")
        cli("delete", "hog", "--force", timeout=120)
        wait_until(reserve.exists, 60, "the reserve to come back")
    finally:
        cli.cleanup()  # the engine, the local holders and the containers of this home
