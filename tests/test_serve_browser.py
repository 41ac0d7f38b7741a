"""End to end in a browser: `clauderon serve`, headless Chromium, a real engine and a real Docker shell session.

Every request the page makes must stay on loopback: anything else is aborted and fails the test.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE
from tests.serve_harness import Browser, ServeProcess, screen_text, wait_text
from tests.test_tui_e2e_tmux import Tmux

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


@pytest.fixture
def cli(short_tmp: Path):
    c = Cli(short_tmp / "home", image=TEST_AGENT_IMAGE)
    yield c
    c.cleanup()


def wait_gone(pids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()
                 and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]]
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"tab processes outlived serve: {alive}")


async def open_session_terminal(page, name: str) -> None:
    """The session list shows `name` first (newest); Enter gives its terminal the keys."""
    await wait_text(page, name)
    await page.locator(".xterm-screen").click(position={"x": 60, "y": 120})  # the sidebar, not the terminal
    await page.keyboard.press("Enter")
    await wait_text(page, "agent@")  # the shell's prompt: the terminal is attached
    # The footer names the prefix key once the terminal has the focus (keys typed before that go to the list).
    await wait_text(page, "ctrl+] Prefix")


async def test_browser_tabs_share_sessions_with_the_cli_while_serve_hosts_the_engine(cli: Cli, git_repo: Path) -> None:
    serve = ServeProcess(cli.home, env={"CLAUDERON_ENGINE_ON_EXIT": "handoff"})
    try:
        assert "engine hosted here" in serve.lines[0]
        assert json.loads((cli.home / "engine.json").read_text())["pid"] == serve.proc.pid
        async with Browser() as browser:
            page = await browser.new_page()
            await page.goto(serve.login_url)
            assert page.url == f"{serve.public_url}/"  # the token left the address bar
            assert await page.title() == "clauderon"
            await wait_text(page, "No sessions yet")
            await wait_text(page, "engine ●")

            cli("create", "--repo", str(git_repo), "--name", "web-shell", "--agent", "shell", timeout=180)
            await open_session_terminal(page, "web-shell")
            await page.keyboard.type("echo web-$((6*7))")
            await page.keyboard.press("Enter")
            await wait_text(page, "web-42")

            # A second tab: its own app process, the same engine, the same live terminal.
            second = await browser.new_page()
            await second.goto(f"{serve.public_url}/")  # the cookie, no token
            await open_session_terminal(second, "web-shell")
            await wait_text(second, "web-42")
            await second.keyboard.type("echo from-two-$((50+1))")
            await second.keyboard.press("Enter")
            await wait_text(second, "from-two-51")
            await wait_text(page, "from-two-51")  # the first tab sees the second tab's typing live
            assert len(serve.app_processes()) == 2

            listed = cli("list", "--json").json()
            assert [(s["name"], s["status"]) for s in listed] == [("web-shell", "running")]
            assert "from-two-51" in cli("screen", "web-shell").out
            # Typed from the CLI, shown in the browser.
            cli("send", "web-shell", "echo cli-$((3*3))", "--enter")
            await wait_text(page, "cli-9")

            assert browser.outside == [], browser.outside
            assert any(url.startswith("ws://localhost:") for url in browser.requests)
            tabs = serve.app_processes()
        # SIGTERM: the tabs' processes end and the engine is handed to a background engine (a session runs).
        assert serve.stop(signal.SIGTERM) == 0
        wait_gone(tabs)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (cli.engine_pid() in (None, serve.proc.pid)):
            time.sleep(0.2)
        assert cli.engine_pid() not in (None, serve.proc.pid)
        cli("send", "web-shell", "echo after-handoff-$((2+2))", "--enter")
        cli.wait_screen("web-shell", "after-handoff-4")
    finally:
        serve.stop(signal.SIGKILL)


async def test_browser_joins_an_engine_hosted_by_the_terminal_app(cli: Cli, git_repo: Path) -> None:
    app = Tmux(f"{shlex.quote(sys.executable)} -m clauderon_tui.cli", {"CLAUDERON_HOME": str(cli.home)})
    serve = None
    try:
        app.wait_for("engine ●")
        terminal_engine = cli.engine_pid()
        assert terminal_engine is not None
        serve = ServeProcess(cli.home)
        assert "joined the running engine" in serve.lines[0]
        assert cli.engine_pid() == terminal_engine
        async with Browser() as browser:
            page = await browser.new_page()
            await page.goto(serve.login_url)
            await wait_text(page, f"pid {terminal_engine}")  # the browser's header names the terminal's engine
            cli("create", "--repo", str(git_repo), "--name", "both-ways", "--agent", "shell", timeout=180)
            app.wait_for("both-ways")
            await open_session_terminal(page, "both-ways")
            await page.keyboard.type("echo browser-$((40+44))")
            await page.keyboard.press("Enter")
            await wait_text(page, "browser-84")
            # The terminal app shows what the browser typed.
            app.keys("Enter")
            app.wait_for("browser-84")
            app.type("echo tmux-$((7*11))")
            app.keys("Enter")
            app.wait_for("tmux-77")
            await wait_text(page, "tmux-77")
            assert "tmux-77" in await screen_text(page)
            assert browser.outside == [], browser.outside
        assert serve.stop(signal.SIGTERM) == 0
        assert cli.engine_pid() == terminal_engine  # a joining serve leaves the engine where it was
    finally:
        if serve is not None:
            serve.stop(signal.SIGKILL)
        app.kill()
