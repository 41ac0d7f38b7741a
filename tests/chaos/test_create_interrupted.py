"""`kill -9` of the engine at each step of a create: the next engine rolls that create back (nothing of
it is left: no worktree, branch, agent home or sandbox), shows it failed with why, and the same name can
be created again at once. The engine is held at a step by `CLAUDERON_TEST_PAUSE_CREATE_AT_STEP`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from runtime.engine.lifecycle import CREATE_STEPS, PAUSE_ENV
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import run_git


def held_at(cli: Cli, name: str, step: int, timeout: float = 60) -> dict:
    """Wait until the engine says the create of `name` is held at `step` (progress is announced, not
    stored, so the engine's log tells); a deadline for slow machines, not a speed check."""
    log = cli.home / "logs" / "engine.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and f"create of {name} held at step {step} " in log.read_text():
            [record] = [s for s in cli("list", "--all", "--json").json() if s["name"] == name]
            return record
        time.sleep(0.2)
    raise AssertionError(f"the create of {name} was never held at step {step}")


def interrupt_and_recover(cli: Cli, git_repo: Path, name: str, step: int, backend: str) -> None:
    cli("engine", "stop", check=False)  # the engine the create starts must see the pause variable
    cli.env[PAUSE_ENV] = str(step)
    # `create` waits for the session to run, which a held create never does: it runs in the background.
    waiting = subprocess.Popen([sys.executable, "-m", "clauderon_tui.cli", "create", "--repo", str(git_repo),
                                "--name", name, "--agent", "shell", "--backend", backend], env=cli.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        record = held_at(cli, name, step)
        cli.kill_engine(signal.SIGKILL)
    finally:
        waiting.kill()
        waiting.wait()
    del cli.env[PAUSE_ENV]

    [failed] = [s for s in cli("list", "--all", "--json", timeout=90).json() if s["name"] == name]
    assert failed["status"] == "failed" and "was removed" in failed["error"], failed
    home = Home(cli.home)
    assert not home.worktree(name).exists(), f"step {step}: the worktree was left"
    assert not home.agent_home(record["id"]).exists(), f"step {step}: the agent home was left"
    assert run_git(git_repo, "branch", "--list", f"clauderon/{name}").strip() == "", f"step {step}: the branch was left"

    again = cli("create", "--repo", str(git_repo), "--name", name, "--agent", "shell", "--backend", backend, "--json")
    assert again.json()["status"] == "running"
    cli("delete", name, "--force")


@pytest.mark.timeout(300)
def test_kill_9_at_each_create_step_rolls_that_create_back(local_cli: Cli, git_repo: Path) -> None:
    for step in range(2, len(CREATE_STEPS) + 1):
        interrupt_and_recover(local_cli, git_repo, f"cut{step}", step, "local")


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_kill_9_with_the_container_made_but_not_recorded(cli: Cli, git_repo: Path) -> None:
    """Held after the container started, before its id is stored: found by name and removed."""
    step = len(CREATE_STEPS)
    interrupt_and_recover(cli, git_repo, "cutd", step, "docker")
    names = [c.name for c in docker.from_env().containers.list(all=True, filters={"name": "clauderon-cutd"})]
    assert names == [], names
