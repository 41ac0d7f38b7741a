"""The test agent image (built by `python -m tests.images`) carries working Claude Code and Codex CLIs."""

from __future__ import annotations

import subprocess

import pytest

from runtime.errors import ClauderonError
from runtime.images import build_agent_image

from .conftest import TEST_AGENT_IMAGE


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", "--network", "host", TEST_AGENT_IMAGE, *command],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.docker
@pytest.mark.parametrize("cli, expected", [("claude", "(Claude Code)"), ("codex", "codex-cli ")])
def test_agent_cli_runs_in_the_image(cli: str, expected: str) -> None:
    result = _run(cli, "--version")
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


@pytest.mark.docker
def test_image_has_the_tools_and_folders_agents_expect() -> None:
    result = _run("sh", "-c", "for t in bash git curl node; do command -v $t || exit 1; done; test -d /workspace && test -d /etc/clauderon")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["/usr/bin/bash", "/usr/bin/git", "/usr/bin/curl", "/usr/local/bin/node"]


@pytest.mark.docker
def test_missing_base_image_is_one_clear_error() -> None:
    with pytest.raises(ClauderonError, match=r"base image clauderon-test-missing:nope not found locally"):
        build_agent_image(base="clauderon-test-missing:nope", tag="clauderon-test-unused:never")


def test_unreachable_docker_is_one_clear_error() -> None:
    with pytest.raises(ClauderonError, match=r"cannot reach the Docker engine at unix:///tmp/nonexistent.sock"):
        build_agent_image(base="x", tag="y", base_url="unix:///tmp/nonexistent.sock")


def test_unknown_agent_is_refused() -> None:
    from runtime.images import fetch_agents

    with pytest.raises(ClauderonError, match="unknown agent 'aider'"):
        fetch_agents(("claude", "aider"))
