"""The image path of a fresh machine (issue 18), through the real engine and Docker: the default image is
listed as missing (and the header warns), the engine builds it from a local base with its progress followed
live, and every failure is one line. The debootstrapped test base stands in for buildpack-deps offline."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clauderon_tui.cli import build_parser
from runtime.api.client import EngineClient
from runtime.engine.host import EngineHost, try_lock
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.images import build_agent_image, fetch_agents
from runtime.settings import load_settings
from runtime.store import Store
from tests.conftest import TEST_AGENT_IMAGE, TEST_BASE_IMAGE

BUILT = "clauderon-test-built:imagepath"
NO_TOOLS = "clauderon-test-notools:imagepath"


def _docker():
    import docker

    return docker.from_env()


def _remove(tag: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        _docker().images.remove(tag, force=True)


@pytest.fixture
def docker_host(short_tmp: Path):
    """An in-process engine with the real backends on a fresh home whose default image is not built yet."""
    import asyncio

    _remove(BUILT)
    home = Home.open(short_tmp / "h")
    home.config_file.write_text(f'[docker]\nimage = "{BUILT}"\nbuild_base = "{TEST_BASE_IMAGE}"\n'
                                'build_agents = ["claude", "codex"]\n[engine]\non_exit = "stop"\n')
    engine_host = EngineHost(home, load_settings(home, environ={}), try_lock(home))
    engine_host.start()
    yield engine_host
    if engine_host.engine is not None:
        for session in engine_host.engine.store.sessions():
            remove = engine_host.engine.backends["docker"].remove(session.backend_id or session.id)
            asyncio.run_coroutine_threadsafe(remove, engine_host.loop).result(60)
    engine_host.stop()
    _remove(BUILT)


@pytest.mark.docker
@pytest.mark.timeout(900)
async def test_the_engine_lists_the_missing_default_builds_it_live_and_remembers_the_repositorys_image(
        docker_host: EngineHost, git_repo: Path) -> None:
    client = EngineClient(docker_host.home)
    try:
        health = await client.health()
        assert [w["detail"] for w in health["warnings"] if w["name"] == "agent image"] == [f"{BUILT} missing"]
        listing = await client.images()
        assert listing["images"][0] == {"ref": BUILT, "present": False, "default": True, "agent": True}
        assert {"ref": TEST_AGENT_IMAGE, "present": True, "default": False, "agent": True} in listing["images"]
        assert listing["build_base"] == TEST_BASE_IMAGE and listing["build"] is None

        updates = [update async for update in client.build_image()]
        lines = [u["line"] for u in updates if "line" in u]
        assert f"building {BUILT} from {TEST_BASE_IMAGE}" in lines
        assert any(line.startswith("Step 1/") for line in lines), lines
        assert updates[-1]["state"] == "done" and updates[-1]["image_id"].startswith("sha256:"), updates[-1]
        # as an unprivileged user, as sessions run (an engine's umask 077 once left the CLIs unreadable)
        ran = subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "1000:1000", "-e", "HOME=/tmp",
                              BUILT, "claude", "--version"],
                             capture_output=True, text=True, timeout=120)
        assert "(Claude Code)" in ran.stdout, ran.stderr

        listing = await client.images()
        assert listing["images"][0]["present"] and listing["build"]["state"] == "done"
        assert not [w for w in (await client.health())["warnings"] if w["name"] == "agent image"]

        created = await client.create_session({"repo": str(git_repo), "name": "img", "backend": "docker",
                                               "agent": "shell", "image": TEST_AGENT_IMAGE}, wait=True)
        assert created.status == "running", created.error
        assert (await client.images())["last_by_repo"] == {str(git_repo): TEST_AGENT_IMAGE}
        await client.delete_session("img", force=True)
    finally:
        await client.close()


@pytest.mark.docker
@pytest.mark.timeout(300)
async def test_a_failed_build_in_the_engine_ends_in_one_line(docker_host: EngineHost) -> None:
    client = EngineClient(docker_host.home)
    try:
        updates = [update async for update in client.build_image(base="clauderon-test-missing:nope")]
        end = updates[-1]
        assert end["state"] == "failed"
        assert end["error"].startswith("base image clauderon-test-missing:nope not found locally and it could not "
                                       "be pulled (")
        assert "\n" not in end["error"] and "pass --base with a local image that has git, curl" in end["error"]
        with pytest.raises(ClauderonError, match="base must be an image reference"):
            [u async for u in client.build_image(base="bad base; rm -rf /")]
    finally:
        await client.close()


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_a_base_without_git_or_curl_is_refused_in_one_line_before_anything_is_built() -> None:
    dockerfile = f"FROM {TEST_BASE_IMAGE}\nRUN rm -f /usr/bin/git /usr/bin/curl\n"
    _docker().images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=NO_TOOLS, network_mode="none", rm=True)
    try:
        probe = subprocess.run(["docker", "run", "--rm", "--network", "none", NO_TOOLS, "sh", "-c",
                                "command -v git curl"], capture_output=True, text=True, timeout=60)
        assert probe.stdout == "", f"{NO_TOOLS} still has {probe.stdout}"  # the premise, before the claim
        with pytest.raises(ClauderonError) as caught:
            build_agent_image(base=NO_TOOLS, tag="clauderon-test-unused:never", agents=("claude",))
        assert str(caught.value) == (
            f"base image {NO_TOOLS} lacks git, curl (the build cannot install packages: it may have no network): "
            f"use a base with git, curl and ca-certificates, such as buildpack-deps:bookworm-scm, or one built "
            f"FROM {NO_TOOLS} with `apt-get install -y git curl ca-certificates`")
    finally:
        _remove(NO_TOOLS)


@pytest.mark.docker
@pytest.mark.timeout(120)
def test_the_cli_says_one_line_when_the_base_is_nowhere(short_tmp: Path) -> None:
    env = {**os.environ, "CLAUDERON_HOME": str(short_tmp / "home")}
    result = subprocess.run([sys.executable, "-m", "clauderon_tui.cli", "image", "build", "--base",
                             "clauderon-test-missing:nope", "--tag", "clauderon-test-unused:never"],
                            env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("clauderon:")]
    assert len(errors) == 1 and "could not be pulled" in errors[0], result.stderr


@pytest.mark.timeout(120)
def test_an_unreachable_npm_registry_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    with pytest.raises(ClauderonError) as caught:
        fetch_agents(("codex",))
    message = str(caught.value)
    assert message.startswith("cannot fetch the agent CLIs: the npm registry http://127.0.0.1:9/ is unreachable ("), \
        message
    assert "ECONNREFUSED" in message and "\n" not in message
    assert not list((tmp_path / "cache" / "clauderon").glob("npm-*"))  # no half-fetched cache left


def test_every_image_build_flag_has_help() -> None:
    image = build_parser()._subparsers._group_actions[0].choices["image"]  # noqa: SLF001 - argparse keeps it there
    assert all(action.help for action in image._actions)  # noqa: SLF001
    text = image.format_help()
    assert "buildpack-deps:bookworm-scm" in text and "lacks git and curl" in text


def test_the_last_image_of_each_repository_survives_a_restart(tmp_path: Path) -> None:
    home = Home.open(tmp_path / "home")
    store = Store(home)
    store.add_recent_repo("/src/a", "my-agent:dev")
    store.add_recent_repo("/src/b")
    store.add_recent_repo("/src/a")  # a session without an image (local) keeps the last one
    store.writer.shutdown()
    assert Store(home).last_images() == {"/src/a": "my-agent:dev"}
    assert Store(home).recent_repos() == ["/src/a", "/src/b"]
