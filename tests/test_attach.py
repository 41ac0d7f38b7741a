"""`clauderon attach`: the real CLI in a real terminal (tmux) on a local pty session, and its query filter."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from clauderon_tui.attach import QueryFilter, prefix_byte
from runtime.errors import ClauderonError
from tests.cli_harness import Cli

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("chunks, expected", [
    ([b"a\x1b[6nb"], b"ab"),
    ([b"a\x1b[", b"6nb"], b"ab"),
    ([b"x\x1b", b"[c", b"y"], b"xy"),
    ([b"\x1b[>c\x1b[0c\x1b[5n"], b""),
    ([b"\x1b[31mred\x1b[0m"], b"\x1b[31mred\x1b[0m"),
    ([b"\x1b[2", b"J"], b"\x1b[2J"),
])
def test_query_filter_drops_answered_queries_even_when_split(chunks: list[bytes], expected: bytes) -> None:
    drop = QueryFilter()
    out = b"".join(drop(c) for c in chunks) + drop(b"")
    assert out == expected


def test_prefix_byte() -> None:
    assert prefix_byte("ctrl+]") == b"\x1d"
    assert prefix_byte("ctrl+a") == b"\x01"
    with pytest.raises(ClauderonError):
        prefix_byte("f5")


def _tmux(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], check=True, capture_output=True, text=True, timeout=30).stdout


def _wait_pane(sock: str, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _tmux(sock, "capture-pane", "-p", "-t", "a")
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} not in pane:\n{text}")


def test_attach_types_sees_output_and_detaches(short_tmp: Path, git_repo: Path) -> None:
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    sock = f"cl-attach-{uuid.uuid4().hex[:8]}"
    try:
        cli("create", "--repo", str(git_repo), "--name", "att", "--backend", "local")
        command = " ".join(shlex.quote(p) for p in [sys.executable, "-m", "clauderon_tui.cli", "attach", "att"])
        env = f"CLAUDERON_HOME={shlex.quote(str(cli.home))} TERM=xterm-256color"
        _tmux(sock, "new-session", "-d", "-s", "a", "-x", "100", "-y", "30", f"env {env} {command} 2>{short_tmp}/attach.err; sleep 30")
        _wait_pane(sock, "worktrees/att")  # the snapshot shows the current screen at once
        _tmux(sock, "send-keys", "-t", "a", "-l", "echo attached-$((20+1))")
        _tmux(sock, "send-keys", "-t", "a", "Enter")
        _wait_pane(sock, "attached-21")
        # the engine answers this query; a second answer from tmux would be typed into the shell
        _tmux(sock, "send-keys", "-t", "a", "-l", r"printf '\033[6n'; sleep 0.5; echo; echo query-done")
        _tmux(sock, "send-keys", "-t", "a", "Enter")
        pane = _wait_pane(sock, "query-done")
        # one answer (the engine's) reached the shell; a second (the outer terminal's) would show as text
        assert "R" not in pane.split("query-done")[-2].split("echo query-done")[-1]
        _tmux(sock, "send-keys", "-t", "a", "C-]", "d")
        _wait_pane(sock, "[detached from att]")
        assert "running" in cli("list").out  # detaching leaves the session running
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        cli("delete", "att", "--force", check=False)
        cli.cleanup()
