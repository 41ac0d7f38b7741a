"""`clauderon refresh` against a real registry on 127.0.0.1 (Debian's docker-registry) and the real Docker
engine, and `clauderon reconcile` finding what the engine's own tracking cannot see."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from runtime.backends.docker import DockerBackend
from runtime.errors import ClauderonError
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE
from tests.test_engine_docker import containers_of

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

REGISTRY_BINARY = "/usr/bin/docker-registry"
MARKER = "/etc/clauderon-refresh-marker"


class Registry:
    """A docker-registry process on a free loopback port, storing in a temporary directory."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        config = root / "registry.yml"
        config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
                          f"http:\n  addr: {self.address}\n")
        self.process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("docker-registry did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def registry(short_tmp: Path) -> Iterator[Registry]:
    if not os.access(REGISTRY_BINARY, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs Debian's docker-registry (apt-get install docker-registry) for refresh")
        pytest.skip("no docker-registry: apt-get install docker-registry")
    reg = Registry(short_tmp)
    yield reg
    reg.stop()


def push_as(client: docker.DockerClient, image_id: str, reference: str) -> None:
    repository, tag = reference.rsplit(":", 1)
    client.images.get(image_id).tag(repository, tag)
    for line in client.images.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in line, line


def newer_image(client: docker.DockerClient, base: str, context: Path) -> str:
    """An image on top of `base` with a marker file: built offline (COPY needs no network)."""
    context.mkdir()
    (context / "marker").write_text("refreshed-v2\n")
    (context / "marker").chmod(0o644)  # COPY keeps the mode: the agent (not root) reads it, whatever the umask
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY marker {MARKER}\n")
    image, _ = client.images.build(path=str(context), rm=True)
    return str(image.id)


def test_refresh_recreates_the_session_on_the_newer_image(registry: Registry, short_tmp: Path,
                                                         git_repo: Path) -> None:
    client = docker.from_env()
    reference = f"{registry.address}/clauderon-agent:latest"
    first_id = str(client.images.get(TEST_AGENT_IMAGE).id)
    push_as(client, first_id, reference)
    cli = Cli(short_tmp / "home", image=reference)
    second_id = "none"
    try:
        cli("create", "--repo", str(git_repo), "--name", "alpha", "--agent", "shell")
        cli.wait_screen("alpha", "/workspace")
        cli("send", "alpha", "--enter", "echo work > kept.txt && echo home > ~/kept-home.txt && echo saved-ok")
        cli.wait_screen("alpha", "saved-ok")
        [before] = containers_of(cli.home)

        unchanged = cli("refresh", "alpha").out  # the registry has nothing newer yet
        assert "already the newest" in unchanged
        assert [c.id for c in containers_of(cli.home)] == [before.id]

        # A newer image under the same tag, in the registry only: the local tag is put back on the old one.
        second_id = newer_image(client, reference, short_tmp / "ctx")
        push_as(client, second_id, reference)
        client.images.get(first_id).tag(*reference.rsplit(":", 1))

        result = cli("refresh", "alpha", "--json").json()
        assert result["changed"] is True
        assert (result["old_id"], result["new_id"]) == (first_id, second_id)
        assert result["digest"].startswith(f"{registry.address}/clauderon-agent@sha256:")
        [after] = containers_of(cli.home)
        assert after.id != before.id and after.image.id == second_id  # the old container is gone
        cli.wait_screen("alpha", "/workspace")
        cli("send", "alpha", "--enter", f"cat {MARKER} kept.txt ~/kept-home.txt")
        screen = cli.wait_screen("alpha", "refreshed-v2")
        assert "work" in screen and "home" in screen  # worktree and agent home came along

        # The registry gone: one line, and the session runs on as it was.
        registry.stop()
        failed = cli("refresh", "alpha", check=False)
        assert failed.code == 1 and len(failed.err.strip().splitlines()) == 1
        assert "cannot pull image" in failed.err and "the session is as it was" in failed.err
        assert [(c.id, c.status) for c in containers_of(cli.home)] == [(after.id, "running")]
    finally:
        cli.cleanup()
        with contextlib.suppress(docker.errors.ImageNotFound):  # the tag, then the test's own image
            client.images.remove(reference, force=True)
            client.images.remove(second_id, force=True)


def test_refresh_refuses_an_image_that_came_from_no_registry() -> None:
    with pytest.raises(ClauderonError, match="built or tagged on this machine and came from no registry"):
        asyncio.run(DockerBackend().pull_image(TEST_AGENT_IMAGE))


def test_reconcile_on_demand_removes_what_a_deleted_session_left(cli: Cli, git_repo: Path) -> None:
    assert cli("reconcile").out.strip().startswith("nothing to do")
    created = cli("create", "--repo", str(git_repo), "--name", "beta", "--agent", "shell", "--json").json()
    cli("delete", "beta")
    # A container that outlived its delete (its daemon was away then), as reconciliation finds it.
    client = docker.from_env()
    leftover = client.containers.run(TEST_AGENT_IMAGE, ["sleep", "600"], detach=True, network_mode="none",
                                     labels={"clauderon.home": Home(cli.home).home_id,
                                             "clauderon.session": created["id"]})
    try:
        out = cli("reconcile").out
        assert out.startswith("removed") and leftover.id in out and "deleted session" in out
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(leftover.id)
        assert cli("reconcile", "--json").json() == []
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            leftover.remove(force=True)

