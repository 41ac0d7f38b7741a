"""Typing a message into an agent's terminal, the way a person pastes one: the chat route's and a create's.

A message is a bracketed paste of its text and one line per attached image (the agent's own path to each
copy in its home; Claude Code and Codex turn a pasted image path into an image in the next user turn), then
Enter, separately, after a short pause.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from runtime.terminal.stream import TerminalStream

ENTER_DELAY_S = 0.15
"""Pause between the pasted message and its Enter: a TUI takes one burst with a newline as a paste."""
READY_TIMEOUT_S = 120.0
"""How long a create's first message waits for the agent to start reading its input."""
MAX_IMAGES = 10
PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"


def chat_bytes(text: str, image_paths: Sequence[str], bracketed: bool) -> bytes:
    """What to type for a chat message: the text, then one line per attached image path, as a bracketed
    paste when the program asked for them (ESC removed so the text cannot end the paste early), else
    with newlines as carriage returns (as a terminal sends them)."""
    message = "\n".join([text.rstrip("\n"), *image_paths] if text.strip() else image_paths)
    if bracketed:
        return PASTE_START + message.replace("\x1b", "").encode() + PASTE_END
    return message.replace("\r\n", "\r").replace("\n", "\r").encode()


async def type_message(stream: TerminalStream, text: str, image_paths: Sequence[str], *,
                       images_apart: bool = False) -> bool:
    """Paste the message, then Enter; returns whether it went as a bracketed paste. `images_apart`: each image
    path is pasted on its own first (Codex attaches a paste that is one image path, and keeps any other as text)."""
    bracketed = stream.emulator.bracketed_paste
    if images_apart and bracketed:
        for path in image_paths:
            await stream.write(chat_bytes("", [path], bracketed))
            await asyncio.sleep(ENTER_DELAY_S)
        image_paths = ()
    await stream.write(chat_bytes(text, image_paths, bracketed))
    await asyncio.sleep(ENTER_DELAY_S)
    await stream.write(b"\r")
    return bracketed


async def first_message(stream: TerminalStream, text: str, image_paths: Sequence[str],
                        timeout: float = READY_TIMEOUT_S) -> bool:
    """A create's prompt with images: typed once the agent reads its input, which its TUI shows by turning on
    bracketed paste. False (nothing typed) when that never happens within `timeout`."""
    deadline = time.monotonic() + timeout
    while not stream.emulator.bracketed_paste:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # the prompt box is drawn just after the mode is set
    await type_message(stream, text, image_paths)
    return True
