"""Images from a browser: the served page's "+ image" button (file picker), a pasted image and a dropped one each reach
the engine through `/upload` and land in the tab's chat as an attachment of the next message, in headless
Chromium against `clauderon serve` with a real engine (a local session: no Docker needed)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.serve_harness import Browser, ServeProcess, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(48)

# A synthetic paste or drop carrying one image file, as Chromium builds them for a real one.
DISPATCH_FILE_JS = """([kind, name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, {type: "image/png"}));
  const target = document.querySelector(".xterm-helper-textarea") || document.body;
  const event = kind === "paste"
    ? new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true})
    : new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true});
  target.dispatchEvent(event);
  return event.defaultPrevented;
}"""


def incoming(home: Path) -> list[Path]:
    folder = home / "incoming"
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_picker_paste_and_drop_attach_an_image_to_the_next_message(short_tmp: Path, git_repo: Path,
                                                                       tmp_path: Path) -> None:
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    serve = ServeProcess(cli.home)
    try:
        cli("create", "--repo", str(git_repo), "--name", "pics", "--agent", "shell", "--backend", "local")
        picture = tmp_path / "diagram.png"
        picture.write_bytes(PNG)
        async with Browser() as browser:
            page = await browser.new_page()
            await page.goto(serve.login_url)
            await wait_text(page, "pics")
            await page.set_input_files("#clauderon-image-input", str(picture))  # the "+ image" button's picker
            await wait_text(page, "diagram.png attached to your next message")
            await wait_text(page, "attached: ")
            [kept] = incoming(cli.home)
            assert kept.read_bytes() == PNG and stat.S_IMODE(kept.stat().st_mode) == 0o600

            b64 = base64.b64encode(PNG).decode()
            assert await page.evaluate(DISPATCH_FILE_JS, ["paste", "pasted.png", b64])  # not typed
            await wait_text(page, "pasted.png attached to your next message")
            assert await page.evaluate(DISPATCH_FILE_JS, ["drop", "dropped.png", b64])
            await wait_text(page, "dropped.png attached to your next message")
            assert len(incoming(cli.home)) == 3 and all(p.read_bytes() == PNG for p in incoming(cli.home))
            assert browser.outside == [], browser.outside
            if os.environ.get("CLAUDERON_SHOT"):
                await page.screenshot(path=os.environ["CLAUDERON_SHOT"])
    finally:
        serve.stop()
        cli("delete", "pics", "--force", check=False)
        cli.cleanup()
