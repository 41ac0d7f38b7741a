"""`kill -9` of the engine: the next CLI command starts a fresh engine and answers, every time."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.cli_harness import Cli


@pytest.mark.timeout(240)
def test_the_next_command_after_kill_9_finds_a_live_engine(local_cli: Cli, git_repo: Path) -> None:
    cli = local_cli
    cli("create", "--repo", str(git_repo), "--name", "survivor", "--agent", "shell")
    for round_ in range(3):
        pid = cli.engine_pid()
        assert pid, "no engine.json after a command"
        cli.kill_engine(signal.SIGKILL)
        # The dead engine's socket file is left behind: only a real connection may count as an engine.
        listed = cli("list", "--json", timeout=90)
        assert [s["name"] for s in listed.json()] == ["survivor"], f"round {round_}"
        assert cli.engine_pid() != pid
        os.kill(cli.engine_pid(), 0)  # the new engine is alive
