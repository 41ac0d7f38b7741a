"""Landing a sealed Docker session's work, which lives in a repository of its own: the agent commits inside
its container, and `clauderon pr` and `merge` (against the fake GitHub and git's http-backend on loopback)
land it without any `pull` first: the branch is brought back by itself. A nested repository with an
fsmonitor planted in the worktree never fires on the host along the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE, run_git
from tests.fakes.github import FakeGitHub, new_token

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def test_pr_and_merge_of_a_sandboxed_session(short_tmp: Path, git_repo: Path) -> None:
    token = new_token()
    fake = FakeGitHub(token, root=short_tmp / "gh")
    fake.start_in_thread()
    fake.serve_as_origin("acme", "widget", git_repo)
    marker = short_tmp / "fsmonitor-ran"
    cli = Cli(short_tmp / "home", image=TEST_AGENT_IMAGE)
    with open(cli.home / "config.toml", "a") as config:
        config.write(f'[github]\napi_url = "{fake.api_url}"\ngit_host = "{fake.git_host}"\npoll_interval = 3600\n')
    cli.env["GITHUB_TOKEN"] = token
    try:
        cli("create", "--repo", str(git_repo), "--name", "boxed", "--agent", "shell")
        cli.wait_screen("boxed", "/workspace")
        cli("send", "boxed", "--enter",
            "echo 1 > counter.txt && git add counter.txt && git -c user.name=a -c user.email=a@a.test commit -qm "
            f"'Add a counter' && git config core.fsmonitor 'touch {marker}' && mkdir -p nested && "
            f"git -C nested init -q && git -C nested config core.fsmonitor 'touch {marker}' && echo landed-$?")
        cli.wait_screen("boxed", "landed-0")

        opened = cli("pr", "boxed")  # no `pull` first: the commit is brought back before the push
        assert "opened: #1" in opened.out, opened.out
        [pull] = fake.pulls.values()
        assert (pull.base, pull.head) == ("main", "clauderon/boxed")
        merged = cli("merge", "boxed", "--squash")
        assert "merged #1 (squash)" in merged.out
        assert "counter.txt" in run_git(fake.bare("acme", "widget"), "ls-tree", "--name-only", "main")
        cli("archive", "boxed")
        cli("delete", "boxed", "--force")
        assert not marker.exists(), "something the agent planted ran on the host"
    finally:
        cli("delete", "boxed", "--force", check=False)
        cli.cleanup()
        fake.stop_thread()
