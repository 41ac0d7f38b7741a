"""Runs the real `clauderon serve` and drives it with headless Chromium (Python playwright), loopback only."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # playwright is imported when a browser starts
    from playwright.async_api import Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

# The page exposes textual.js's terminals; this reads the first one's visible rows from xterm.js's buffer.
SCREEN_JS = """() => {
  const ts = window.textualTerminals;
  if (!ts || !ts.length) return "";
  const t = ts[0].terminal, b = t.buffer.active, rows = [];
  for (let i = 0; i < t.rows; i++) {
    const line = b.getLine(b.viewportY + i);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return (parts.hostname or "") in LOOPBACK_HOSTS


class ServeProcess:
    """`clauderon serve` on a free port, its printed login URL, and its tab processes."""

    def __init__(self, home: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.env = {**os.environ, "CLAUDERON_HOME": str(home), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "clauderon_tui.cli", "serve", "--port", str(self.port),
                                      *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self.errors: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.errors), daemon=True).start()
        self.login_url = self._wait_login_url()
        self.public_url = f"http://localhost:{self.port}"

    @staticmethod
    def _pump(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def _wait_login_url(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                match = re.search(r"(http://localhost:\d+/\?token=\S+)", line)
                if match:
                    return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"serve printed no login URL: {self.lines} {self.errors}")

    def descendants(self) -> list[int]:
        """Pids of every process below serve (the tabs' app processes and their shells)."""
        found, queue = [], [self.proc.pid]
        while queue:
            pid = queue.pop()
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                    for child in map(int, children):
                        found.append(child)
                        queue.append(child)
            except OSError:
                continue
        return found

    def app_processes(self) -> list[int]:
        """Pids of the tabs' `clauderon tui --client-only` processes."""
        out = []
        for pid in self.descendants():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--client-only" in cmdline:  # an argument of its own: not the `sh -c "..."` around it
                out.append(pid)
        return sorted(set(out))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("serve did not stop on its signal") from None
        return self.proc.returncode


def rss_kib(pid: int) -> int:
    """Resident set size of one process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Browser:
    """Headless Chromium whose every request must stay on loopback (others are aborted and recorded)."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.requests: list[str] = []

    async def __aenter__(self) -> Browser:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.context = await self.browser.new_context(viewport={"width": 1400, "height": 900})
        await self.context.route("**/*", self._route)
        self.context.on("page", self._watch_page)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.context.close()
        await self.browser.close()
        await self._pw.stop()

    async def _route(self, route) -> None:
        url = route.request.url
        self.requests.append(url)
        if is_loopback_url(url):
            await route.continue_()
        else:
            self.outside.append(url)
            await route.abort()

    def _watch_page(self, page) -> None:
        def websocket(ws) -> None:
            self.requests.append(ws.url)
            if not is_loopback_url(ws.url):
                self.outside.append(ws.url)
        page.on("websocket", websocket)

    async def new_page(self) -> Page:
        return await self.context.new_page()


async def screen_text(page) -> str:
    return await page.evaluate(SCREEN_JS)


async def wait_text(page, needle: str, timeout: float = 60) -> str:
    """Poll the page's terminal until `needle` shows (a deadline for slow machines, not a speed check)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = await screen_text(page)
        if needle in text:
            return text
        await asyncio.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared in the browser:\n{text}")
