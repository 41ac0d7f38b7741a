"""Issue #2's proof against the real Docker engine, real git and the real CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import docker
import pytest

from runtime.api.client import EngineClient
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE, run_git

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


async def _diff_and_files(client: EngineClient, name: str) -> None:
    try:
        diff = await client.diff(name)
        assert [f["path"] for f in diff["uncommitted"]["files"]]  # the planted files show as changes
        await client.list_files(name)
    finally:
        await client.close()


def containers_of(home: Path) -> list:
    """The home's session containers (a sealed session's relay container is counted by `relays_of`)."""
    found = docker.from_env().containers.list(all=True, filters={"label": f"clauderon.home={Home(home).home_id}"})
    return [c for c in found if c.labels.get("clauderon.role") != "relay"]


def relays_of(home: Path) -> list:
    return docker.from_env().containers.list(all=True, filters={"label": [
        f"clauderon.home={Home(home).home_id}", "clauderon.role=relay"]})


def test_shell_session_life_cycle(cli: Cli, git_repo: Path) -> None:
    created = cli("create", "--repo", str(git_repo), "--name", "alpha", "--agent", "shell", "--json").json()
    assert created["status"] == "running" and created["branch"] == "clauderon/alpha"
    worktree = Path(created["worktree_path"])
    assert (worktree / "README.md").exists()

    cli.wait_screen("alpha", "/workspace")
    cli("send", "alpha", "--enter", "echo hello-$((6*7))")
    cli.wait_screen("alpha", "hello-42")

    listed = cli("list", "--json").json()
    assert [s["name"] for s in listed] == ["alpha"]

    # resize reaches the program
    asyncio.run(_resize(EngineClient(Home(cli.home)), "alpha", 100, 30))
    cli("send", "alpha", "--enter", "stty size")
    cli.wait_screen("alpha", "30 100")

    # commit inside the container: git works against the repo's .git at its own path
    cli("send", "alpha", "--enter",
        "echo change > new.txt && git add new.txt && git commit -qm agent-commit && echo committed-ok")
    cli.wait_screen("alpha", "committed-ok")
    pulled = cli("pull", "alpha").out  # the commit comes back to the user's repository
    assert "agent-commit" in run_git(git_repo, "log", "--oneline", "clauderon/alpha")
    assert run_git(git_repo, "rev-parse", "clauderon/alpha").strip()[:12] in pulled

    first_container = containers_of(cli.home)[0].id
    assert cli("archive", "alpha").code == 0
    assert containers_of(cli.home) == [] and relays_of(cli.home) == []
    assert worktree.exists()
    assert "archived" not in cli("list", "--json").out  # archived sessions are left out without --all
    assert "archived" in cli("list", "--all", "--json").out

    cli("unarchive", "alpha")
    [container] = containers_of(cli.home)
    assert container.id != first_container
    cli.wait_screen("alpha", "/workspace")

    cli("restart", "alpha")
    [restarted] = containers_of(cli.home)
    assert restarted.id != container.id
    cli.wait_screen("alpha", "/workspace")

    # delete: refused while dirty, then forced; the branch with commits is kept
    cli("send", "alpha", "--enter", "echo uncommitted > dirty.txt && echo dirty-ok")
    cli.wait_screen("alpha", "dirty-ok")
    refused = cli("delete", "alpha", check=False)
    assert refused.code == 1 and "uncommitted" in refused.err and "--force" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    cli("delete", "alpha", "--force")
    assert containers_of(cli.home) == []
    assert not worktree.exists()
    assert "clauderon/alpha" in run_git(git_repo, "branch", "--list", "clauderon/alpha")
    assert cli("list", "--all", "--json").json() == []


async def _resize(client, name: str, cols: int, rows: int) -> None:
    try:
        await client.resize(name, cols, rows)
    finally:
        await client.close()


def test_delete_removes_branch_without_commits(cli: Cli, git_repo: Path) -> None:
    cli("create", "--repo", str(git_repo), "--name", "beta")
    cli("delete", "beta")
    assert run_git(git_repo, "branch", "--list", "clauderon/beta").strip() == ""


def test_engine_kill_9_then_restart_readopts_same_container(cli: Cli, git_repo: Path) -> None:
    cli("create", "--repo", str(git_repo), "--name", "gamma")
    cli("send", "gamma", "--enter", "echo before-crash")
    cli.wait_screen("gamma", "before-crash")
    [container] = containers_of(cli.home)
    cli.kill_engine()
    # the next command starts a fresh engine, which re-attaches to the same container and its screen
    screen = cli.wait_screen("gamma", "before-crash")
    assert "before-crash" in screen
    [still] = containers_of(cli.home)
    assert still.id == container.id
    cli("send", "gamma", "--enter", "echo after-crash")
    cli.wait_screen("gamma", "after-crash")


def test_lost_store_readopts_labelled_container(cli: Cli, git_repo: Path) -> None:
    cli("create", "--repo", str(git_repo), "--name", "delta")
    cli("engine", "stop")
    (cli.home / "db.json").write_text("{ truncated")
    for backup in (cli.home / "backups").glob("*"):
        backup.unlink()
    sessions = cli("list", "--json").json()
    assert [s["name"] for s in sessions] == ["delta"]
    assert len(containers_of(cli.home)) == 1


def test_failed_create_leaves_nothing_behind(cli: Cli, git_repo: Path) -> None:
    result = cli("create", "--repo", str(git_repo), "--name", "broken", "--image", "clauderon-no-such-image:1",
                 check=False)
    assert result.code == 1
    assert "clauderon-no-such-image" in result.err and len(result.err.strip().splitlines()) == 1
    assert containers_of(cli.home) == []
    assert not (cli.home / "worktrees" / "broken").exists()
    assert run_git(git_repo, "branch", "--list", "clauderon/broken").strip() == ""
    assert "broken" not in run_git(git_repo, "worktree", "list")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "Bad_Name"], "invalid session name"),
        (["--mount", "relative:/x"], "HOST:PATH"),
        (["--base-branch", "no-such-branch"], "no-such-branch"),
    ],
)
def test_bad_input_is_one_line_and_creates_nothing(cli: Cli, git_repo: Path, args: list[str], message: str) -> None:
    result = cli("create", "--repo", str(git_repo), *args, check=False)
    assert result.code == 1 and message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert containers_of(cli.home) == []
    assert list((cli.home / "worktrees").iterdir()) == []


def test_not_a_repo_is_one_line(cli: Cli, short_tmp: Path) -> None:
    plain = short_tmp / "plain"
    plain.mkdir()
    result = cli("create", "--repo", str(plain), "--name", "x", check=False)
    assert result.code == 1 and "git" in result.err.lower()
    assert len(result.err.strip().splitlines()) == 1


def test_second_home_never_touches_the_first(cli: Cli, git_repo: Path, short_tmp: Path) -> None:
    cli("create", "--repo", str(git_repo), "--name", "shared")
    other = Cli(short_tmp / "home2", image=TEST_AGENT_IMAGE)
    try:
        assert other("list", "--json").json() == []  # its engine's reconcile ignores the first home's container
        refused = other("create", "--repo", str(git_repo), "--name", "shared", check=False)
        assert refused.code == 1 and "another clauderon home" in refused.err
        assert len(containers_of(cli.home)) == 1
        cli.wait_screen("shared", "/workspace")
    finally:
        other.cleanup()
    assert len(containers_of(cli.home)) == 1


def test_hook_planted_in_container_never_runs_on_host(cli: Cli, git_repo: Path, short_tmp: Path) -> None:
    marker = short_tmp / "hook-ran"
    created = cli("create", "--repo", str(git_repo), "--name", "hooky", "--json").json()
    tree = Path(created["worktree_path"])
    hook = git_repo / ".git" / "hooks" / "post-checkout"
    cli("send", "hooky", "--enter",
        f"printf '#!/bin/sh\\ntouch {marker}\\n' > {hook} 2>/dev/null; chmod +x {hook} 2>/dev/null; echo planted-$?")
    cli.wait_screen("hooky", "planted-")
    assert not hook.exists(), "the user's .git must not be reachable from the container"
    # What the agent CAN write (its own repository, and a nested one) it fills with every trick git would
    # honour, naming programs by their host paths.
    cli("send", "hooky", "--enter",
        f"git config core.fsmonitor 'touch {marker}' && git config core.hooksPath {tree}/h && "
        f"mkdir -p h nested && printf '#!/bin/sh\\ntouch {marker}\\n' > h/post-checkout && chmod +x h/* && "
        f"git -C nested init -q && git -C nested config core.fsmonitor 'touch {marker}' && "
        f"printf '* filter=evil\\n' > .gitattributes; echo tricks-$?")
    cli.wait_screen("hooky", "tricks-0")
    # Everything clauderon does with the session and the repository runs nothing that was planted.
    cli("create", "--repo", str(git_repo), "--name", "second")
    cli("delete", "second")
    cli("pull", "hooky")
    asyncio.run(_diff_and_files(EngineClient(Home(cli.home)), "hooky"))
    assert cli("delete", "hooky", check=False).code == 1  # uncommitted work: refused
    cli("archive", "hooky")
    asyncio.run(_diff_and_files(EngineClient(Home(cli.home)), "hooky"))  # from the branch as brought back
    cli("delete", "hooky", "--force")
    assert not marker.exists()
