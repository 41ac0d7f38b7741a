"""`clauderon attach NAME`: the session's terminal, full screen, in this terminal, over the console stream.

Everything the session prints passes `OutputFilter` (runtime/terminal/sanitize.py) on its way to this
terminal: the agent draws, but cannot write the clipboard, rename the window, reach the terminal behind
tmux, or make this terminal answer queries into its input (the engine's emulator answered them already).
The prefix key then `d` detaches.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import termios
import tty

from runtime.api.client import RESIZED, RESYNC, EngineClient
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.terminal.sanitize import OutputFilter


def prefix_byte(key: str) -> bytes:
    """`ctrl+]` -> b"\\x1d": the control byte a prefix key setting names."""
    name = key.lower().removeprefix("ctrl+")
    if len(name) == 1 and key.lower().startswith("ctrl+") and 0x40 <= ord(name.upper()) <= 0x5F:
        return bytes([ord(name.upper()) ^ 0x40])
    if name == "space" or name == "@":
        return b"\x00"
    raise ClauderonError(f"prefix key {key!r} must be ctrl plus a letter or one of @[\\]^_ for attach")


def attach(home: Home, name: str, prefix_key: str, *, allow_clipboard: bool = False) -> int:
    if not sys.stdin.isatty():
        raise ClauderonError("attach needs a terminal on stdin; use `clauderon screen`/`send` from scripts")
    prefix = prefix_byte(prefix_key)
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)  # keep keys typed while we started
        reason = asyncio.run(_attach(home, name, prefix, OutputFilter(allow_clipboard=allow_clipboard)))
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    sys.stdout.write(f"\x1b[?1049l\x1b[?25h\r\n[{reason}]\r\n")
    sys.stdout.flush()
    return 0


async def _attach(home: Home, name: str, prefix: bytes, safe: OutputFilter) -> str:
    client = EngineClient(home)
    out = sys.stdout.buffer
    size = shutil.get_terminal_size()
    try:
        console = await client.console(name, size.columns, size.lines, active=True)
        out.write(b"\x1b[?1049h\x1b[H\x1b[2J" + safe.feed(console.snapshot))
        out.flush()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        keys: asyncio.Queue[bytes] = asyncio.Queue()
        loop.add_reader(sys.stdin.fileno(), lambda: keys.put_nowait(os.read(sys.stdin.fileno(), 4096)))

        def on_winch() -> None:
            s = shutil.get_terminal_size()
            asyncio.ensure_future(console.resize(s.columns, s.lines))

        loop.add_signal_handler(signal.SIGWINCH, on_winch)

        async def pump_out() -> None:
            while True:
                chunk = await console.read()
                if not chunk:
                    break
                if chunk == RESIZED:  # the outer terminal keeps its own size
                    continue
                if chunk == RESYNC:
                    chunk = b"\x1b[H\x1b[2J" + console.snapshot
                out.write(safe.feed(chunk))
                out.flush()
            if not done.done():
                done.set_result(f"the session's terminal ended: {name}")

        async def pump_in() -> None:
            pending_prefix = False
            while True:
                data = await keys.get()
                if not data:
                    break
                send = bytearray()
                for byte in data:
                    b = bytes([byte])
                    if pending_prefix:
                        pending_prefix = False
                        if b == prefix:
                            send += prefix
                        elif b in (b"d", b"D"):
                            if send:
                                await console.write(bytes(send))
                            if not done.done():
                                done.set_result(f"detached from {name}")
                            return
                    elif b == prefix:
                        pending_prefix = True
                    else:
                        send += b
                if send:
                    await console.write(bytes(send))

        tasks = [asyncio.ensure_future(pump_out()), asyncio.ensure_future(pump_in())]
        reason = await done
        for task in tasks:
            task.cancel()
        loop.remove_reader(sys.stdin.fileno())
        await console.close()
        return reason
    finally:
        await client.close()
