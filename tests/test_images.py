"""The test agent image (built by `python -m tests.images`) carries working Claude Code and Codex CLIs."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
    result = _run("sh", "-c", "for t in bash git curl node; do command -v $t || exit 1; done; "
                              "test -d /workspace && test -d /etc/clauderon")
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


def _fake_node(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    node = directory / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)
    return node


def test_the_image_gets_the_node_the_agents_packages_brought_and_at_least_their_min_node(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.agents.registry import agent_named
    from runtime.images import node_binary

    gemini, claude = agent_named("gemini"), agent_named("claude")
    assert gemini.min_node == 20 and any(p.startswith("node@") for p in gemini.npm_packages)
    monkeypatch.setenv("PATH", str(_fake_node(tmp_path / "host", "v18.19.0").parent))
    npm_dir = tmp_path / "npm"
    # No node among the packages: the host's, which is enough for agents that need no particular version.
    assert node_binary(npm_dir, [claude]) == (tmp_path / "host" / "node").resolve()
    with pytest.raises(ClauderonError, match=r"^gemini needs Node >= 20, but .*/host/node is Node 18$"):
        node_binary(npm_dir, [claude, gemini])
    fetched = _fake_node(npm_dir / "node_modules" / "node" / "bin", "v20.20.2")
    assert node_binary(npm_dir, [claude, gemini]) == fetched.resolve()
    _fake_node(npm_dir / "node_modules" / "node" / "bin", "garbage")
    with pytest.raises(ClauderonError, match="is not a working node"):
        node_binary(npm_dir, [gemini])
