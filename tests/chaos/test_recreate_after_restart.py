"""A sandbox that went with a Docker daemon restart (or a reboot) is recreated when the engine starts, on
the same worktree and agent home; one the user removed while the daemon ran is left alone, with why.

The daemon's socket is made when it starts, and its change time is what the engine reads for that start;
the test marks a restart by touching it (the containers were stopped first, as a restart stops them),
which keeps the test from restarting the daemon every other test needs."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import pytest

from tests.cli_harness import Cli

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SOCKET = "/var/run/docker.sock"


def wait_for(predicate, timeout: float = 90) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError("condition never met")


def container_id(name: str) -> str | None:
    try:
        return docker.from_env().containers.get(f"clauderon-{name}").id
    except docker.errors.NotFound:
        return None


def test_sandboxes_that_went_with_the_daemon_come_back_and_removed_ones_do_not(cli: Cli, git_repo: Path) -> None:
    if os.environ.get("DOCKER_HOST", f"unix://{SOCKET}") != f"unix://{SOCKET}":
        pytest.skip("the test marks a daemon restart on the local socket")
    for name in ("boot", "gone"):
        cli("create", "--repo", str(git_repo), "--name", name, "--agent", "shell")
    dropped = cli.home / "worktrees" / "boot" / "notes.txt"
    dropped.write_text("uncommitted work\n")
    dropped.chmod(0o644)  # readable by the agent's uid whatever this process's umask (an in-process engine sets 077)
    before = container_id("boot")
    cli("engine", "stop")  # the sandboxes keep running without an engine

    docker.from_env().containers.get("clauderon-gone").remove(force=True)  # the user's doing
    [gone] = [s for s in cli("list", "--json").json() if s["name"] == "gone"]
    assert gone["status"] != "running" and "sandbox is gone" in (gone["error"] or ""), gone
    cli("engine", "stop")

    docker.from_env().containers.get("clauderon-boot").stop(timeout=1)  # as a daemon restart stops it
    os.utime(SOCKET)  # ... and the daemon's start comes after the engine last saw it running
    cli("list", "--json")
    wait_for(lambda: container_id("boot") not in (None, before)
             and [s["status"] for s in cli("list", "--json").json() if s["name"] == "boot"] == ["running"])
    cli.wait_screen("boot", "/workspace", timeout=60)
    cli("send", "boot", "--enter", "cat notes.txt")
    cli.wait_screen("boot", "uncommitted work")
    [gone] = [s for s in cli("list", "--json").json() if s["name"] == "gone"]
    assert gone["status"] != "running" and container_id("gone") is None, "a removed sandbox is not recreated"


def test_a_local_session_from_an_earlier_boot_comes_back(local_cli: Cli, git_repo: Path) -> None:
    """A local session's holder records the boot it ran in; after a reboot (its processes gone, the boot
    id different: simulated by rewriting the recorded boot), the next engine starts it again."""
    import json
    import signal

    cli = local_cli
    [session] = [cli("create", "--repo", str(git_repo), "--name", "host", "--agent", "shell", "--json").json()]
    cli("engine", "stop")
    state_file = cli.home / "run" / f"{session['id']}.json"
    state = json.loads(state_file.read_text())
    for pid, kill in ((state["child_pid"], os.killpg), (state["pid"], os.kill)):
        kill(pid, signal.SIGKILL)
    earlier = "00000000-0000-0000-0000-000000000000:" + state["pid_identity"].split(":", 1)[1]
    state_file.write_text(json.dumps({**state, "pid_identity": earlier}))

    cli("list", "--json")
    wait_for(lambda: cli("screen", "host", check=False).code == 0)
    cli("send", "host", "--enter", "echo back-$((6*7))")
    cli.wait_screen("host", "back-42")
    assert json.loads(state_file.read_text())["pid"] != state["pid"]


def test_a_real_daemon_restart_under_a_running_engine_brings_the_session_back(cli: Cli, git_repo: Path) -> None:
    """dockerd itself is stopped (which stops every container) and started again with the same command
    line, while the engine runs: the session's terminal comes back live on a new container, same worktree."""
    import signal
    import subprocess

    import docker

    pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    if len(pids) != 1 or os.environ.get("DOCKER_HOST", f"unix://{SOCKET}") != f"unix://{SOCKET}":
        pytest.skip("needs the one local dockerd this test can restart")
    pid = int(pids[0])
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    environ = dict(line.split(b"=", 1) for line in entries if b"=" in line)

    cli("create", "--repo", str(git_repo), "--name", "daemon", "--agent", "shell")
    dropped = cli.home / "worktrees" / "daemon" / "kept.txt"
    dropped.write_text("kept across the restart\n")
    dropped.chmod(0o644)  # readable by the agent's uid whatever this process's umask (an in-process engine sets 077)
    before = container_id("daemon")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=60)
    with open("/tmp/clauderon-test-dockerd.log", "ab") as log:  # the daemon keeps its own copy of the descriptor
        subprocess.Popen(argv, env=environ, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

    def answers() -> bool:
        try:
            return docker.from_env(timeout=5).ping()
        except Exception:  # starting up
            return False

    wait_for(answers, timeout=60)
    wait_for(lambda: container_id("daemon") not in (None, before)
             and cli("screen", "daemon", check=False).code == 0, timeout=120)
    cli("send", "daemon", "--enter", "cat kept.txt")
    cli.wait_screen("daemon", "kept across the restart", timeout=60)
    [record] = cli("list", "--json").json()
    assert record["status"] == "running"
