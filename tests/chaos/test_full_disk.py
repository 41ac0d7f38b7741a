"""A home on a small tmpfs that fills up: every command says so in one line, nothing is half-made, the
header's health and `doctor` say it, and once there is room again everything works as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.test_proxy_audit_fail_closed import fill, tmpfs

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def disk(short_tmp: Path):
    yield from tmpfs(short_tmp / "disk", "64m")  # room for the engine's own files, then filled


def test_a_full_home_is_said_in_one_line_and_nothing_is_half_made(disk: Path, git_repo: Path) -> None:
    cli = Cli(disk / "h", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n'
                                          'min_free_space = 8388608\n')
    try:
        cli("create", "--repo", str(git_repo), "--name", "first", "--agent", "shell")
        assert cli("engine", "status", "--json").json()["disk"]["ok"] is True
        filler = fill(disk)

        refused = cli("create", "--repo", str(git_repo), "--name", "second", "--agent", "shell", check=False)
        assert refused.code != 0 and "no space left" in refused.err, refused.err
        assert len(refused.err.strip().splitlines()) == 1, refused.err
        status = cli("engine", "status", "--json").json()
        assert status["disk"]["ok"] is False and "min_free_space" in status["disk"]["detail"]
        doctor = {c["name"]: c for c in json.loads(cli("doctor", "--json").out)}
        assert doctor["disk"]["status"] == "fail"
        names = [s["name"] for s in cli("list", "--all", "--json").json()]
        assert "first" in names
        assert not (cli.home / "worktrees" / "second").exists(), "a refused create left its worktree"

        filler.unlink()
        cli("create", "--repo", str(git_repo), "--name", "second", "--agent", "shell")
        statuses = {s["name"]: s["status"] for s in cli("list", "--json").json()}
        assert statuses == {"first": "running", "second": "running"}
    finally:
        cli("engine", "stop", check=False, timeout=60)
        cli.kill_engine()
