"""The workbench routes against a real container: what an agent plants from inside never runs, and no
path it plants leads out of its worktree."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.errors import ClauderonError
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE, run_git

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def test_planted_drivers_and_links_from_the_container(cli: Cli, git_repo: Path, short_tmp: Path) -> None:
    marker = short_tmp / "driver-ran"
    secret = short_tmp / "host-secret"
    secret.write_text("HOST SECRET\n")
    created = cli("create", "--repo", str(git_repo), "--name", "wbd", "--agent", "shell", "--json").json()
    tree = Path(created["worktree_path"])
    # The user's own config defines drivers (as git-lfs does); the agent only has to select them by name.
    run_git(git_repo, "config", "filter.evil.clean", f"{tree}/evil.sh")
    run_git(git_repo, "config", "filter.evil.smudge", f"{tree}/evil.sh")
    run_git(git_repo, "config", "diff.evil.textconv", f"{tree}/evil.sh")
    cli.wait_screen("wbd", "/workspace")

    # The user's .git is not in the container (only its objects, read-only): what the agent writes at its
    # path lands in the container's own filesystem.
    user_config = (git_repo / ".git" / "config").read_text()
    cli("send", "wbd", "--enter",
        f"printf '[core]\\n\\tfsmonitor = {tree}/evil.sh\\n' >> {git_repo}/.git/config 2>/dev/null; "
        "echo user-config-$?")
    cli.wait_screen("wbd", "user-config-")
    assert (git_repo / ".git" / "config").read_text() == user_config
    cli("send", "wbd", "--enter",
        f"printf '#!/bin/sh\\ntouch {marker}\\ncat\\n' > /workspace/evil.sh && chmod +x /workspace/evil.sh && "
        "printf '* filter=evil diff=evil\\n' > /workspace/.gitattributes && "
        "git -C /workspace -c user.name=a -c user.email=a@a add .gitattributes && "
        "git -C /workspace -c user.name=a -c user.email=a@a commit -q -m attrs && "
        "printf 'changed by the agent\\n' > /workspace/README.md && "
        f"ln -s {secret} /workspace/key && ln -s / /workspace/rootfs && echo planted-$?")
    cli.wait_screen("wbd", "planted-0")
    # Its own repository's config is the agent's: it fills it with every trick git would honour, naming
    # programs by their host path (where they would run if host git ever read this config).
    cli("send", "wbd", "--enter",
        f"git -C /workspace config diff.external {tree}/evil.sh && "
        f"git -C /workspace config core.fsmonitor {tree}/evil.sh && "
        f"git -C /workspace config core.hooksPath {tree}/h && echo own-config-$?")
    cli.wait_screen("wbd", "own-config-0")

    async def ask() -> tuple[dict, dict, list[str]]:
        client = EngineClient(Home(cli.home))
        try:
            diff = await client.diff("wbd")
            listing = await client.list_files("wbd")
            refusals = []
            for path in ("key", "rootfs/etc/passwd", "../../host-secret"):
                with pytest.raises(ClauderonError) as err:
                    await client.read_file("wbd", path)
                assert err.value.status == 403
                refusals.append(str(err.value))
            return diff, listing, refusals
        finally:
            await client.close()

    diff, listing, refusals = asyncio.run(ask())
    assert not marker.exists(), "a planted driver ran on the host"
    committed = {f["path"]: (f["added"], f["removed"]) for f in diff["committed"]["files"]}
    assert committed == {".gitattributes": (1, 0)}
    uncommitted = {f["path"]: (f["status"], f["added"], f["removed"]) for f in diff["uncommitted"]["files"]}
    assert uncommitted["README.md"] == ("M", 1, 1)
    assert {e["name"]: e["kind"] for e in listing["entries"]}["key"] == "link"
    assert all("HOST SECRET" not in r for r in refusals)
    assert "pointing outside the worktree" in refusals[0] and "leaves the worktree" in refusals[2]

    # The control: plain git, left to itself on the host, does run what was planted. (As root, git first
    # refuses a repository the agent's uid owns; a user running as themselves, the agent's uid, gets no
    # such warning, so the control says it trusts the directory.)
    subprocess.run(["git", "-c", "safe.directory=*", "diff"], cwd=tree, capture_output=True,
                   env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")})
    assert marker.exists(), "the plant should be live for plain git (else this test proves nothing)"


def test_info_route_inspects_and_samples_the_container(cli: Cli, git_repo: Path) -> None:
    cli("create", "--repo", str(git_repo), "--name", "inf", "--agent", "shell")
    cli.wait_screen("inf", "/workspace")

    async def ask() -> tuple[dict, dict]:
        client = EngineClient(Home(cli.home))
        try:
            return await client.session_info("inf"), await client.session_info("inf", stats=False)
        finally:
            await client.close()

    info, quick = asyncio.run(ask())
    container = info["container"]
    assert container["state"] == "running" and container["network_mode"] == "none"
    assert container["name"].endswith("inf") and container["image"] == TEST_AGENT_IMAGE
    assert any(m["destination"] == "/workspace" and m["rw"] for m in container["mounts"])
    # Of the user's repository only its object store is there, read-only; no .git, no config.
    assert [m["destination"] for m in container["mounts"] if "/.git" in m["destination"]] == [
        str((git_repo / ".git" / "objects").resolve())]
    assert all(not m["rw"] for m in container["mounts"] if "/.git" in m["destination"])
    assert info["stats"]["memory_bytes"] > 0 and info["stats"]["cpu_percent"] >= 0
    assert info["session"]["name"] == "inf" and isinstance(info["audit"], list)
    assert quick["stats"] is None and quick["container"]["id"] == container["id"]


def test_many_concurrent_reads_never_starve_the_engine(cli: Cli, git_repo: Path) -> None:
    """Each diff or listing waits, from a worker thread, for exec calls into the container. Two dozen at
    once (more than the loop's default executor has threads) all answer: the backend's calls run on
    threads of its own. With one shared pool they held every thread and waited for one more, for good."""
    cli("create", "--repo", str(git_repo), "--name", "many", "--agent", "shell")
    cli.wait_screen("many", "/workspace")

    async def ask() -> list:
        client = EngineClient(Home(cli.home))
        try:
            reads = [client.diff("many") for _ in range(16)] + [client.list_files("many") for _ in range(8)]
            return await asyncio.wait_for(asyncio.gather(*reads), 150)
        finally:
            await client.close()

    answers = asyncio.run(ask())
    assert len(answers) == 24 and all(a["branch"] == "clauderon/many" for a in answers[:16])
