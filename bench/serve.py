"""`clauderon serve`: opening the URL to the first frame showing the session list, and memory per open tab.

clauderon: the real `clauderon serve` (hosting the engine) with three local shell sessions; headless Chromium
opens the page (logged in) and polls the page's terminal until a session name shows. Memory: RSS of each
tab's `clauderon tui --client-only` process with all tabs open.
Baseline, same run, same page and login: `ClauderonServer` serving a minimal Textual app (one Static) instead
of clauderon, so the difference is what the clauderon app itself costs per tab.
Medians over RUNS tabs. Reported, not a test: `.venv/bin/python bench/serve.py`.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import make_repo
from clauderon_tui.serve.auth import ServeAuth
from clauderon_tui.serve.command import ClauderonServer, resolve_options
from runtime.settings import ServeSettings
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE
from tests.serve_harness import Browser, ServeProcess, free_port, rss_kib, screen_text

if TYPE_CHECKING:
    from playwright.async_api import Page

RUNS = 5
MINIMAL_APP = ("from textual.app import App\nfrom textual.widgets import Static\n"
               "class Minimal(App):\n    def compose(self):\n        yield Static('minimal-ready')\n"
               "Minimal().run()\n")


async def first_frame(browser: Browser, url: str, needle: str) -> tuple[float, Page]:
    page = await browser.new_page()
    start = time.perf_counter()
    await page.goto(url)
    while needle not in await screen_text(page):
        await asyncio.sleep(0.01)
    return time.perf_counter() - start, page


def tab_pids(root_pid: int) -> set[int]:
    """Python processes below `root_pid` (the tabs' apps; their `sh -c` wrappers are left out)."""
    found, queue = set(), [root_pid]
    while queue:
        pid = queue.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                for child in map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split()):
                    queue.append(child)
                    if b"python" in Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]:
                        found.add(child)
        except OSError:
            continue
    return found


async def measure(browser: Browser, login_url: str, base_url: str, needle: str,
                  root_pid: int) -> tuple[list[float], list[float]]:
    pages: list[Page] = []
    times: list[float] = []
    rss: list[float] = []
    login = await browser.new_page()
    await login.goto(login_url)  # exchanges the token for the cookie every later tab uses
    while needle not in await screen_text(login):
        await asyncio.sleep(0.05)
    before = tab_pids(root_pid)
    for _ in range(RUNS):
        elapsed, page = await first_frame(browser, f"{base_url}/", needle)
        times.append(elapsed)
        pages.append(page)
    await asyncio.sleep(1.0)  # let each app settle after its first frame
    for pid in tab_pids(root_pid) - before:
        rss.append(rss_kib(pid) / 1024)
    for page in [login, *pages]:
        await page.close()
    deadline = time.monotonic() + 60
    while tab_pids(root_pid) - before and time.monotonic() < deadline:  # closed tabs end their apps
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    return times, rss


async def baseline() -> tuple[list[float], list[float]]:
    script = Path(tempfile.mkdtemp(prefix="cl-bench-")) / "minimal.py"
    script.write_text(MINIMAL_APP)
    options = resolve_options(ServeSettings(), port=free_port())
    auth = ServeAuth(public_url=options.public_url)
    server = ClauderonServer(options, auth, command=shlex.join([sys.executable, str(script)]))
    runner = await server.start()
    try:
        async with Browser() as browser:
            result = await measure(browser, auth.login_url, options.public_url, "minimal-ready", os.getpid())
            assert not browser.outside, browser.outside
            return result
    finally:
        await runner.cleanup()


async def clauderon(serve: ServeProcess) -> tuple[list[float], list[float]]:
    async with Browser() as browser:
        result = await measure(browser, serve.login_url, serve.public_url, "bench-web-2", serve.proc.pid)
        assert not browser.outside, browser.outside
        return result


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="cl-", dir="/tmp"))
    cli = Cli(base / "home", image=TEST_AGENT_IMAGE)
    repo = make_repo(base)
    serve = ServeProcess(cli.home)
    try:
        for i in range(3):
            cli("create", "--repo", str(repo), "--name", f"bench-web-{i}", "--agent", "shell", "--backend", "local")
        base_times, base_rss = asyncio.run(baseline())
        times, rss = asyncio.run(clauderon(serve))
        serve_rss = rss_kib(serve.proc.pid) / 1024
    finally:
        serve.stop()
        cli.cleanup()
    ratio = statistics.median(times) / statistics.median(base_times)
    print(f"open URL -> first frame   clauderon (session list) median {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) | baseline minimal Textual app "
          f"{statistics.median(base_times) * 1000:.0f} ms | ratio {ratio:.2f}")
    print(f"RSS per open tab          clauderon median {statistics.median(rss):.0f} MiB over {len(rss)} tabs | "
          f"baseline {statistics.median(base_rss):.0f} MiB over {len(base_rss)} tabs")
    print(f"RSS of `clauderon serve` (engine host) with {RUNS} tabs open: {serve_rss:.0f} MiB")


if __name__ == "__main__":
    main()
