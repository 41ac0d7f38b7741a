"""Landing through the real CLI and engine: `clauderon pr` and `merge` against the fake GitHub on loopback,
with the token only ever in the engine's environment."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import run_git
from tests.fakes.github import FakeGitHub, FakePull, new_token

pytestmark = pytest.mark.timeout(180)


def test_pr_checks_and_merge_from_the_cli(short_tmp: Path, git_repo: Path) -> None:
    token = new_token()
    fake = FakeGitHub(token, root=short_tmp / "gh")
    fake.start_in_thread()
    fake.serve_as_origin("acme", "widget", git_repo)
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text(
        '[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n'
        f'[github]\napi_url = "{fake.api_url}"\ngit_host = "{fake.git_host}"\npoll_interval = 3600\n'
    )
    cli.env["GITHUB_TOKEN"] = token
    try:
        cli("create", "--repo", str(git_repo), "--name", "counter", "--backend", "local", "--prompt", "Add a counter")
        worktree = cli.home / "worktrees" / "counter"
        (worktree / "counter.txt").write_text("1\n")
        run_git(worktree, "add", "counter.txt")
        run_git(worktree, "commit", "-qm", "Add a counter")

        opened = cli("pr", "counter")
        assert "opened: #1" in opened.out
        [pull] = fake.pulls.values()
        assert (pull.base, pull.head) == ("main", "clauderon/counter")
        assert any(c.endswith(token) for c in fake.git_credentials)  # the push carried the real token

        assert json.loads(cli("list", "--json").out)[0]["pr"]["number"] == 1
        fake.set_check(1, "tests", conclusion="failure")
        state = asyncio.run(_pr(cli.home, "counter", refresh=True))
        assert (state["checks"], state["failing_checks"], state["stage"]) == ("failing", ["tests"], "blocked")
        assert state["local_conflicts"] == []
        assert json.loads(cli("list", "--json").out)[0]["pr"]["stage"] == "blocked"  # stored on the session
        refreshed = cli("pr", "counter")  # an open PR is reported, not duplicated
        assert "already open: #1" in refreshed.out

        merged = cli("merge", "counter", "--squash", "--delete-branch")
        assert "merged #1 (squash)" in merged.out and "branch deleted" in merged.out
        assert "counter.txt" in run_git(fake.bare("acme", "widget"), "ls-tree", "--name-only", "main")

        for path in [*cli.home.rglob("*"), *(git_repo / ".git").rglob("*")]:
            if path.is_file() and "secrets" not in path.parts:
                assert token.encode() not in path.read_bytes(), path
        assert token not in run_git(git_repo, "remote", "-v")
    finally:
        cli("delete", "counter", "--force", check=False)
        cli.cleanup()
        fake.stop_thread()


def test_a_pull_request_the_agent_opened_itself_is_found_and_followed(short_tmp: Path, git_repo: Path) -> None:
    token = new_token()
    fake = FakeGitHub(token, root=short_tmp / "gh")
    fake.start_in_thread()
    fake.serve_as_origin("acme", "widget", git_repo)
    # An older PR from a branch of the same name (an earlier session's) must not be taken for this one's.
    fake.git(fake.bare("acme", "widget"), "branch", "clauderon/solo", "main")
    fake.pulls[1] = FakePull(1, "acme", "widget", "old work", "", "clauderon/solo", "main", state="closed",
                             created_at=time.time() - 86400)
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text(
        '[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n'
        f'[github]\napi_url = "{fake.api_url}"\ngit_host = "{fake.git_host}"\npoll_interval = 1\n'
    )
    cli.env["GITHUB_TOKEN"] = token
    try:
        cli("create", "--repo", str(git_repo), "--name", "solo", "--backend", "local")
        time.sleep(3)  # a few discovery rounds see only the old PR
        assert json.loads(cli("list", "--json").out)[0]["pr"] is None
        # The agent commits, pushes and opens its PR with the API (as `gh pr create` does), not with clauderon.
        worktree = cli.home / "worktrees" / "solo"
        (worktree / "solo.txt").write_text("1\n")
        run_git(worktree, "add", "solo.txt")
        run_git(worktree, "commit", "-qm", "Solo work")
        fake.git(fake.bare("acme", "widget"), "fetch", "-q", str(worktree), "+clauderon/solo:clauderon/solo")
        opened = urllib.request.Request(
            f"{fake.api_url}/repos/acme/widget/pulls", method="POST",
            data=json.dumps({"title": "Solo", "head": "clauderon/solo", "base": "main"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        number = json.loads(urllib.request.urlopen(opened, timeout=10).read())["number"]
        assert number == 2
        deadline = time.monotonic() + 30  # a bound for slow machines, not a speed check
        pr = None
        while time.monotonic() < deadline and not pr:
            pr = json.loads(cli("list", "--json").out)[0]["pr"]
            time.sleep(0.3)
        assert pr and pr["number"] == 2 and pr["state"] == "open"
        fake.set_check(2, "tests", conclusion="failure")  # followed from now on like any other PR
        while time.monotonic() < deadline + 30 and pr["stage"] != "blocked":
            pr = json.loads(cli("list", "--json").out)[0]["pr"]
            time.sleep(0.3)
        assert (pr["checks"], pr["stage"]) == ("failing", "blocked")
    finally:
        cli("delete", "solo", "--force", check=False)
        cli.cleanup()
        fake.stop_thread()


def test_pr_without_a_token_is_one_clear_line(short_tmp: Path, git_repo: Path) -> None:
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    cli.env.pop("GITHUB_TOKEN", None)
    try:
        cli("create", "--repo", str(git_repo), "--name", "solo", "--backend", "local")
        result = cli("pr", "solo", check=False)
        assert result.code == 1 and "no github_token" in result.err
        assert len(result.err.strip().splitlines()) == 1
    finally:
        cli("delete", "solo", "--force", check=False)
        cli.cleanup()


def test_local_conflict_check_before_a_pull_request(short_tmp: Path, git_repo: Path) -> None:
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    cli.env.pop("GITHUB_TOKEN", None)
    try:
        cli("create", "--repo", str(git_repo), "--name", "clash", "--backend", "local")
        worktree = cli.home / "worktrees" / "clash"
        (worktree / "README.md").write_text("from the session\n")
        run_git(worktree, "commit", "-qam", "session edit")
        (git_repo / "README.md").write_text("from main\n")
        run_git(git_repo, "commit", "-qam", "main edit")
        state = asyncio.run(_pr(cli.home, "clash"))
        assert state == {"number": None, "local_conflicts": ["README.md"]}
    finally:
        cli("delete", "clash", "--force", check=False)
        cli.cleanup()


async def _pr(home: Path, name: str, refresh: bool = False) -> dict:
    client = EngineClient(Home(home))
    try:
        return await client.pr_state(name, refresh=refresh)
    finally:
        await client.close()
