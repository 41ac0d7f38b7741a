"""A phone's browser (390x844 CSS pixels at device pixel ratios 2 and 3, touch) against `clauderon serve` with a real
engine and local shell sessions (no Docker): the page draws the whole frame, the terminal takes the keys without a
first tap, and the on-screen key row (prefix, Esc, Tab, ctrl+c, arrows) switches sessions and reaches the program."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.serve_harness import Browser, ServeProcess, screen_text, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PHONE = {"width": 390, "height": 844}

# What the page looks like to a person: the terminal's box, the key row's box, and the backing size of the canvas
# xterm.js draws the text on (at DPR n it must hold n device pixels per CSS pixel, or the frame is drawn cropped).
LAYOUT_JS = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, width: r.width}; };
  const canvas = document.querySelector("#terminal canvas.xterm-text-layer");
  const t = window.textualTerminals[0].terminal;
  return {dpr: devicePixelRatio, terminal: box(document.getElementById("terminal")),
          keys: box(document.getElementById("clauderon-keys")),
          canvas: canvas ? {width: canvas.width, css: parseFloat(canvas.style.width)} : null,
          focused: document.activeElement === t.textarea};
}"""


async def phone_page(browser: Browser, dpr: int, cookies: list | None):
    context = await browser.browser.new_context(viewport=PHONE, device_scale_factor=dpr, is_mobile=True,
                                                has_touch=True)
    await context.route("**/*", browser._route)
    context.on("page", browser._watch_page)
    if cookies:
        await context.add_cookies(cookies)
    return context, await context.new_page()


async def tap_key(page, key: str) -> None:
    await page.locator(f'#clauderon-keys button[data-key="{key}"]').tap()


@pytest.mark.parametrize("dpr", [2, 3])
async def test_phone_key_row_switches_sessions_and_types_into_a_shell(short_tmp: Path, git_repo: Path,
                                                                      dpr: int) -> None:
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n'
                                          '[titles]\nenabled = false\n')
    serve = ServeProcess(cli.home)
    try:
        for name in ("alpha", "beta"):
            cli("create", "--repo", str(git_repo), "--name", name, "--agent", "shell", "--backend", "local")
        async with Browser() as browser:
            context, page = await phone_page(browser, dpr, None)
            await page.goto(serve.login_url)
            await wait_text(page, "sessions (2)")

            layout = await page.evaluate(LAYOUT_JS)
            assert layout["dpr"] == dpr and layout["focused"], layout  # the keys go to the app without a tap
            assert layout["terminal"]["bottom"] <= layout["keys"]["top"] < PHONE["height"], layout  # not covered
            assert layout["canvas"]["width"] >= (layout["canvas"]["css"] - 1) * dpr, layout  # the whole frame
            await shot(page, dpr, "loaded")

            await page.keyboard.press("Enter")  # no tap first: the list hands the shown session's terminal the keys
            await wait_text(page, "Prefix")  # the footer names the prefix key once the terminal has the focus
            shown = "beta" if "beta running" in await screen_text(page) else "alpha"
            other = "alpha" if shown == "beta" else "beta"
            await tap_key(page, "prefix")
            await page.keyboard.press("j")  # prefix then j: the next session (the key table's, as in the list)
            await wait_text(page, f"{other} running")
            await page.keyboard.type("echo phone-$((6*7))")
            await page.keyboard.press("Enter")
            await wait_text(page, "phone-42")
            assert "phone-42" in cli.wait_screen(other, "phone-42")  # the engine's screen of that session
            assert "phone-42" not in cli("screen", shown).out

            await page.keyboard.type("sleep 300")
            await page.keyboard.press("Enter")
            await tap_key(page, "ctrl+c")  # the row's ctrl+c ends the sleep; the shell takes the next line
            await page.keyboard.type("echo after-$((2*3))")
            await page.keyboard.press("Enter")
            cli.wait_screen(other, "after-6")
            await tap_key(page, "up")  # the row's up arrow: the shell's history, run again
            await page.keyboard.press("Enter")
            assert await wait_for(lambda: cli("screen", other).out.count("\nafter-6\n") == 2)  # run twice
            assert (await page.evaluate(LAYOUT_JS))["focused"]  # the taps left the keys with the terminal
            await shot(page, dpr, "typed")
            cookies = await context.cookies()
            await context.close()
            # A desktop browser (a fine pointer, a wide window) gets no key row; the terminal keeps the whole page.
            await browser.context.add_cookies(cookies)
            desk = await browser.new_page()
            await desk.goto(f"{serve.public_url}/")
            await wait_text(desk, "alpha")
            assert not await desk.locator("#clauderon-keys").is_visible()
            assert (await desk.evaluate(LAYOUT_JS))["terminal"]["bottom"] == 900
            assert browser.outside == [], browser.outside
    finally:
        serve.stop()
        for name in ("alpha", "beta"):
            cli("delete", name, "--force", check=False)
        cli.cleanup()


async def wait_for(check, timeout: float = 30) -> bool:
    """Poll `check` (a deadline for slow machines, not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.2)
    return False


async def shot(page, dpr: int, step: str) -> None:
    if os.environ.get("CLAUDERON_SHOT"):
        await page.screenshot(path=f"{os.environ['CLAUDERON_SHOT']}-{dpr}-{step}.png")
