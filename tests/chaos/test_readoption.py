"""Re-adoption reads what changed after create from the session's record file, not from the container's
create-time label: with the store lost, or restored from an older backup, a running sandbox comes back
with its current access mode and proxy credentials (its agent never gets 407), under its current
container, and `restart` and `delete --force` work on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from tests.cli_harness import Cli

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

PROBE = 'curl -s -o /dev/null -w "%{http_code}" --noproxy "" -x "$HTTPS_PROXY" -X POST http://example.com/probe'


def probe(name: str) -> str:
    """The status the proxy gives the agent's POST: 407 without valid credentials, 403 when read-only."""
    code, out = docker.from_env().containers.get(f"clauderon-{name}").exec_run(["sh", "-c", PROBE])
    return out.decode().strip()


def test_a_lost_store_keeps_the_access_mode_and_the_proxy_credentials(cli: Cli, git_repo: Path) -> None:
    cli("create", "--repo", str(git_repo), "--name", "lost", "--agent", "shell")
    cli("set-access-mode", "lost", "read-only")  # after create: the container's label still says read-write
    assert probe("lost") == "403"
    cli("engine", "stop")
    (cli.home / "db.json").unlink()
    shutil.rmtree(cli.home / "backups", ignore_errors=True)

    [record] = cli("list", "--json").json()
    assert record["name"] == "lost" and record["status"] == "running" and record["access_mode"] == "read-only"
    assert probe("lost") == "403", "the re-adopted agent must keep its credentials and its read-only mode"
    cli("send", "lost", "--enter", "echo adopted-$((6*7))")
    cli.wait_screen("lost", "adopted-42")


def test_an_older_backup_takes_the_current_container_and_mode(cli: Cli, git_repo: Path) -> None:
    cli("create", "--repo", str(git_repo), "--name", "old", "--agent", "shell")
    cli("engine", "stop")
    older = (cli.home / "db.json").read_bytes()  # the backup the user will restore
    first = docker.from_env().containers.get("clauderon-old").id
    cli("restart", "old")  # a new container and a new proxy password
    cli("set-access-mode", "old", "read-only")
    current = docker.from_env().containers.get("clauderon-old").id
    assert current != first
    cli("engine", "stop")
    (cli.home / "db.json").write_bytes(older)

    [record] = cli("list", "--json").json()
    assert record["status"] == "running" and record["access_mode"] == "read-only", record
    assert probe("old") == "403"
    cli("restart", "old")  # used to fail: "a container named clauderon-old already exists"
    cli.wait_screen("old", "/workspace")
    cli("delete", "old", "--force")
    assert not docker.from_env().containers.list(all=True, filters={"name": "^clauderon-old$"})
