"""End to end: the real `clauderon` app in tmux, against a real engine and a real Docker shell session."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.cli_harness import Cli

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


class Tmux:
    """One detached tmux server running one command, driven with send-keys and read with capture-pane."""

    def __init__(self, command: str, env: dict[str, str], cols: int = 140, rows: int = 40,
                 cwd: Path | None = None) -> None:
        self.socket = f"clauderon-e2e-{uuid.uuid4().hex[:8]}"
        # pytest's environment holds COLUMNS/LINES (80x24), which the app would take over the pane's size
        env = {"COLUMNS": str(cols), "LINES": str(rows), **env}
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        start = ("-c", str(cwd)) if cwd else ()
        self._run("new-session", "-d", "-s", "app", "-x", str(cols), "-y", str(rows), *start,
                  f"env {exports} TERM=xterm-256color {command}; echo APP-EXITED-$?; sleep 120")
        self._run("resize-window", "-t", "app", "-x", str(cols), "-y", str(rows))

    def _run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True, timeout=30).stdout

    def keys(self, *keys: str) -> None:
        """Press tmux key names (`Enter`, `C-c`, `C-]`)."""
        self._run("send-keys", "-t", "app", *keys)

    def type(self, text: str) -> None:
        """Type literal text."""
        self._run("send-keys", "-t", "app", "-l", text)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "app", "-S", "-200")

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        """Poll the pane until `needle` shows (a deadline for slow machines, not a speed check)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if needle in text:
                return text
            if "APP-EXITED" in text and "APP-EXITED" not in needle:
                break
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} never appeared:\n{text}")

    def wait_exit(self, timeout: float = 60) -> None:
        """Wait until the app's process has ended with status 0 (the pane stays open to show why)."""
        self.wait_for("APP-EXITED-0", timeout)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


def test_shell_session_in_the_real_app(cli: Cli, git_repo: Path) -> None:
    app = Tmux(f"{shlex.quote(sys.executable)} -m clauderon_tui.cli",
               {"CLAUDERON_HOME": str(cli.home), "CLAUDERON_ENGINE_ON_EXIT": "handoff"})
    try:
        app.wait_for("No sessions yet")
        app.wait_for("engine ●")
        # Created from the CLI: the app learns about it from the event stream.
        cli("create", "--repo", str(git_repo), "--name", "e2e-shell", "--agent", "shell", timeout=180)
        app.wait_for("e2e-shell")
        app.keys("Enter")
        cli.wait_screen("e2e-shell", "/workspace$", timeout=60)  # typeahead before the prompt may be flushed
        app.type("echo one-$((40+2))")
        app.keys("Enter")
        app.wait_for("one-42")
        # ctrl+c reaches the shell: it interrupts a sleep instead of doing anything in the app.
        app.type("sleep 300")
        app.keys("Enter")
        time.sleep(0.5)
        app.keys("C-c")
        app.type("echo after-$((1+1))")
        app.keys("Enter")
        app.wait_for("after-2")
        # A second session; the prefix key switches to it and back, each screen appearing at once.
        cli("create", "--repo", str(git_repo), "--name", "e2e-two", "--agent", "shell", timeout=180)
        app.wait_for("e2e-two")
        app.keys("C-]", "2")  # the list keeps creation order: the new session is second
        app.wait_for("e2e-two  clauderon/e2e-two")
        app.type("echo second-$((2*21))")
        app.keys("Enter")
        app.wait_for("second-42")
        app.keys("C-]", "k")  # the previous session, as k does in the list
        app.wait_for("e2e-shell  clauderon/e2e-shell")
        app.wait_for("after-2")
        assert "second-42" in cli("screen", "e2e-two").out
        assert "second-42" not in cli("screen", "e2e-shell").out
        # The prefix key then o leaves the terminal; ? then opens help (proof that the sidebar has the keys).
        app.keys("C-]", "o")
        app.keys("?")
        app.wait_for("Session list first")
        app.keys("Escape")
        # The same screen seen through the engine: the app's typing really reached the session.
        assert "one-42" in cli("screen", "e2e-shell").out
        # Quitting says what becomes of the agents: they keep running in the engine it hands over to.
        app.keys("q")  # from the list, q quits
        app.wait_exit()
        said = app.wait_for("2 sessions keep running in the background engine (pid ")
        pid = int(said.split("(pid ", 1)[1].split(")", 1)[0])
        assert "after-2" in cli("screen", "e2e-shell").out  # the agents live on, in that engine
        assert cli.engine_pid() == pid
    finally:
        app.kill()
