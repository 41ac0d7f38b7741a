"""Many things at once on one home: engines started together, commands racing to start the engine, and
twenty creates and deletes in parallel. Exactly one engine serves; nothing is lost or left half-made."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli_harness import Cli

pytestmark = pytest.mark.timeout(240)


def test_engines_started_together_leave_exactly_one(local_cli: Cli) -> None:
    engines = [subprocess.Popen([sys.executable, "-m", "clauderon_tui.cli", "engine"], env=local_cli.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        local_cli("list")  # answered by whichever engine won
        losers = []
        for engine in engines:
            try:
                engine.wait(timeout=20)
                losers.append(engine)
            except subprocess.TimeoutExpired:
                pass
        assert len(losers) == 2, "exactly one engine keeps running"
        for loser in losers:
            err = loser.stderr.read()
            assert loser.returncode != 0 and "already running" in err and len(err.strip().splitlines()) == 1, err
    finally:
        for engine in engines:
            engine.kill()
            engine.wait()


def test_commands_racing_to_start_the_engine_all_get_an_answer(local_cli: Cli) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: local_cli("list", "--json", check=False, timeout=120), range(8)))
    assert [r.code for r in results] == [0] * 8, [r.err for r in results if r.code]


def test_twenty_creates_and_deletes_at_once(local_cli: Cli, git_repo: Path) -> None:
    names = [f"par-{i}" for i in range(20)]
    with ThreadPoolExecutor(10) as pool:
        created = list(pool.map(lambda n: local_cli("create", "--repo", str(git_repo), "--name", n, "--agent", "shell",
                                                    check=False, timeout=180), names))
    assert [r.code for r in created] == [0] * 20, [r.err for r in created if r.code]
    listed = {s["name"]: s["status"] for s in local_cli("list", "--json").json()}
    assert listed == {n: "running" for n in names}
    with ThreadPoolExecutor(10) as pool:
        deleted = list(pool.map(lambda n: local_cli("delete", n, "--force", check=False, timeout=180), names))
    assert [r.code for r in deleted] == [0] * 20, [r.err for r in deleted if r.code]
    assert local_cli("list", "--json").json() == []
    assert list((local_cli.home / "worktrees").iterdir()) == []
    assert not list((local_cli.home / "run").glob("*.json"))
