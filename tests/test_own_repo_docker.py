"""The user's repository is out of the agent's reach (issue 14), attacked from inside real containers.

A Docker session works in a repository of its own; of the user's `.git` only the object store is in the
container, read-only. Each attack below worked when the container had the user's `.git` with `objects/`,
`refs/` and `logs/` writable; here each must fail, and the user's repository must stay whole, fast and
truthful. Commits come back by bundle: on `pull`, and by themselves when a real Claude Code turn ends.
"""

from __future__ import annotations

import secrets as pysecrets
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.conftest import run_git
from tests.fakes.anthropic import FakeAnthropic
from tests.test_hooks_docker import Rig, tmp, unique  # noqa: F401 - `tmp` is a fixture

pytestmark = [pytest.mark.docker, pytest.mark.timeout(400)]


def in_container(cli: Cli, name: str, script: str, tag: str, timeout: float = 60) -> str:
    """Type `script` into the session's shell and wait for `tag-<exit status>`; returns that status."""
    cli("send", name, "--enter", f"{script}; echo {tag}-$?")
    screen = cli.wait_screen(name, f"{tag}-", timeout=timeout)
    return screen.rsplit(f"{tag}-", 1)[1][:3].split()[0]


def git_status_quick(repo: Path) -> str:
    """`git status` as the user runs it: it must answer (a planted FIFO hung it for good)."""
    done = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_users_git_cannot_be_written_from_the_container(cli: Cli, git_repo: Path, short_tmp: Path) -> None:
    canary = short_tmp / "bashrc"
    canary.write_text("# the user's shell config\n")
    git = git_repo / ".git"
    objects = (git / "objects").resolve()
    commits_before = run_git(git_repo, "rev-list", "--all").split()
    created = cli("create", "--repo", str(git_repo), "--name", "atk", "--agent", "shell", "--json").json()
    cli.wait_screen("atk", "/workspace")
    assert Path(created["worktree_path"], ".git").is_dir()  # a repository of its own

    # Each reproduced attack on the user's .git, from inside. The object store is there read-only (so
    # these fail); nothing else of the user's .git is (what is written at its path stays in the container).
    user_config = (git / "config").read_text()
    for number, script in enumerate([f"rm -rf {objects}/?? {objects}/pack/*", f"mkfifo {objects}/info/alternates",
                                     f"echo forged > {objects}/info/commit-graph"]):
        assert in_container(cli, "atk", f"{script} 2>/dev/null", f"ro{number}") != "0", script
    for number, script in enumerate([f"mkdir -p {git}/logs && ln -sf {canary} {git}/logs/HEAD",
                                     f"mkdir -p {git}/refs/heads && touch {git}/refs/heads/main.lock",
                                     f"echo '[core] fsmonitor = touch {canary}' >> {git}/config",
                                     f"rm -rf {git}/refs/heads/main"]):
        in_container(cli, "atk", f"{script} 2>/dev/null", f"rw{number}")

    # The agent's own repository is its to wreck: a reflog link to a host path, a subject that would run
    # code if a shell ever evaluated it, and its objects read through the borrowed store.
    in_container(cli, "atk", "echo work > work.txt && git add work.txt && "
                 "git -c user.name=a -c user.email=a@a.test commit -qm 'fix $(touch /tmp/pwned)' && "
                 f"ln -sf {canary} .git/logs/HEAD", "own")
    cli("pull", "atk")
    agent_commit = run_git(git_repo, "rev-parse", "clauderon/atk").strip()

    # The user goes on working: commits on main, cherry-picks the agent's commit.
    (git_repo / "user.txt").write_text("mine\n")
    run_git(git_repo, "add", "user.txt")
    run_git(git_repo, "commit", "-qm", "user work")
    run_git(git_repo, "cherry-pick", agent_commit)

    assert canary.read_text() == "# the user's shell config\n"
    assert not (git / "logs" / "HEAD").is_symlink() and not (git / "refs" / "heads" / "main.lock").exists()
    assert (git / "config").read_text() == user_config
    assert not (objects / "info" / "alternates").exists() and not (objects / "info" / "commit-graph").exists()
    assert git_status_quick(git_repo) == ""
    assert subprocess.run(["git", "fsck", "--no-progress"], cwd=git_repo, capture_output=True).returncode == 0
    assert set(commits_before) <= set(run_git(git_repo, "rev-list", "--all").split())


def test_a_wrecked_or_hanging_session_repository_costs_the_user_nothing(cli: Cli, git_repo: Path) -> None:
    """The agent turns its own repository against the engine: a FIFO as alternates (a git that reads it
    waits forever), then no objects at all. The engine says so in one line; the user's repository stays."""
    cli("create", "--repo", str(git_repo), "--name", "wreck", "--agent", "shell")
    cli.wait_screen("wreck", "/workspace")
    in_container(cli, "wreck", "echo a > a.txt && git add a.txt && git -c user.name=a -c user.email=a@a.test "
                 "commit -qm one", "c1")
    cli("pull", "wreck")
    tip = run_git(git_repo, "rev-parse", "clauderon/wreck").strip()
    in_container(cli, "wreck", "rm -rf .git/objects && mkdir -p .git/objects/info && "
                 "mkfifo .git/objects/info/alternates", "fifo")
    failed = cli("pull", "wreck", check=False)  # the sandbox's git hangs: killed at the time bound
    assert failed.code == 1 and len(failed.err.strip().splitlines()) == 1, failed.err
    assert "wreck" in failed.err or "clauderon/wreck" in failed.err
    assert run_git(git_repo, "rev-parse", "clauderon/wreck").strip() == tip  # the last good import stays
    assert git_status_quick(git_repo) == ""
    refused = cli("delete", "wreck", check=False)  # its history cannot be brought back: refused, then forced
    assert refused.code == 1 and "--force" in refused.err
    cli("delete", "wreck", "--force")
    assert "clauderon/wreck" in run_git(git_repo, "branch", "--list", "clauderon/wreck")


def test_delete_refuses_ignored_files_but_not_rebuildable_ones(cli: Cli, git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("out/\nnode_modules/\n.env.local\n")
    (git_repo / ".env.local").write_text("LOCAL=1\n")
    (git_repo / ".worktreeinclude").write_text(".env.local\n")
    run_git(git_repo, "add", ".gitignore", ".worktreeinclude")
    run_git(git_repo, "commit", "-qm", "ignore rules")
    cli("create", "--repo", str(git_repo), "--name", "ign", "--agent", "shell")
    cli.wait_screen("ign", "/workspace")
    assert in_container(cli, "ign", "cat .env.local", "inc") == "0"  # copied in; not counted as work
    in_container(cli, "ign", "mkdir -p node_modules/x out && echo 1 > node_modules/x/i.js && echo r > out/result.bin",
                 "made")
    refused = cli("delete", "ign", check=False)
    assert refused.code == 1 and "out/" in refused.err and "uncommitted" in refused.err, refused.err
    assert "node_modules" not in refused.err and ".env.local" not in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    in_container(cli, "ign", "rm -r out", "rm")
    cli("delete", "ign")  # only rebuildable and copied-in files left: no --force needed
    assert cli("list", "--all", "--json").json() == []


def test_a_real_claude_turn_brings_its_commit_back_by_itself(tmp: Path) -> None:  # noqa: F811
    """The real Claude Code CLI commits in its sealed container (a Bash tool call from the fake upstream);
    when the turn ends (the Stop hook), the engine brings the branch back without any command."""
    subject = f"agent-{pysecrets.token_hex(3)}"
    fake = FakeAnthropic(default_reply="side reply")
    fake.script_tool_then_text(f"echo done > done.txt && git add done.txt && "
                               f"git -c user.name=a -c user.email=a@a.test commit -qm {subject}", "COMMITTED")
    rig = Rig(tmp, fake)
    name = unique("cb")
    try:
        rig.create(name, "commit the work", "--skip-permissions")
        rig.watch(name, "waiting-input")
        turn_ended = time.monotonic()
        deadline = turn_ended + 60  # a bound for slow machines, not a speed check
        log = ""
        while time.monotonic() < deadline and subject not in log:
            log = run_git(rig.repo, "log", "--format=%s", f"clauderon/{name}")
            time.sleep(0.2)
        print(f"branch current {time.monotonic() - turn_ended:.1f}s after the turn ended")
        assert subject in log, log
        # The session list's change figures come from that same import: one file, one line added.
        committed = None
        while time.monotonic() < deadline + 30 and committed is None:  # recorded just after the import
            [record] = [s for s in rig.cli("list", "--json").json() if s["name"] == name]
            committed = (record["sandbox_changes"] or {}).get("committed")
        assert committed == {"files": 1, "added": 1, "removed": 0}
    finally:
        rig.close()


def test_the_agent_is_never_root_in_its_container(cli: Cli, git_repo: Path) -> None:
    """clauderon runs as root here (as CI does): the agent still gets an unprivileged uid, owns its
    worktree and home, and what it writes stays the user's to read."""
    import os

    if os.getuid() != 0:
        pytest.skip("as a non-root user the agent runs as that user")
    created = cli("create", "--repo", str(git_repo), "--name", "uid", "--agent", "shell", "--json").json()
    prompt = cli.wait_screen("uid", "/workspace")
    assert in_container(cli, "uid", 'test "$(id -u)" = 1000 && touch made-by-agent && ! touch /etc/owned', "uid") == "0"
    # It has a name, so bash, whoami and ssh know who it is (and its prompt is not "I have no name!").
    assert in_container(cli, "uid", 'test "$(whoami)" = agent && test ~ = /home/agent', "named") == "0"
    assert "agent@" in prompt and "I have no name" not in prompt
    made = Path(created["worktree_path"], "made-by-agent")
    assert made.stat().st_uid == 1000 and made.read_bytes() == b""
