"""One live console per visited session, each feeding this process's own copy of the session's screen.

Switching sessions must show the other screen at once, so a visited session keeps its connection and its
emulator (fed in the background while another session is shown); the least recently shown one is closed
when more than `MAX_OPEN` are open. The first visit rebuilds the screen from the connection's snapshot.
Viewer emulators never answer terminal queries (`on_reply=None`): the engine's emulator does that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from runtime.api.client import RESIZED, RESYNC, EngineClientProtocol
from runtime.errors import ClauderonError
from runtime.terminal import TerminalEmulator

log = logging.getLogger(__name__)

FEED_CHUNK = 32 * 1024
"""Most bytes fed to an emulator in one go (per refresh tick for the shown session)."""
FEED_SLICE = 4 * 1024
FEED_SECONDS = 0.012
"""Feeding stops after this long even below `FEED_CHUNK`: a frame's budget, whatever the output rate."""


class OutputQueue:
    """Output not yet fed to an emulator: chunks in arrival order, taken from the front in O(taken)."""

    def __init__(self, data: bytes = b"") -> None:
        self._chunks: deque[bytes] = deque([data] if data else [])
        self._size = len(data)

    def __iadd__(self, data: bytes) -> OutputQueue:
        if data:
            self._chunks.append(bytes(data))
            self._size += len(data)
        return self

    def __len__(self) -> int:
        return self._size

    def take(self, limit: int) -> bytes:
        """Up to `limit` bytes from the front."""
        out = bytearray()
        while self._chunks and len(out) < limit:
            chunk = self._chunks.popleft()
            room = limit - len(out)
            if len(chunk) > room:
                self._chunks.appendleft(chunk[room:])
                chunk = chunk[:room]
            out += chunk
        self._size -= len(out)
        return bytes(out)
MAX_OPEN = 8
"""Consoles kept open at once."""


class ConsoleChannel:
    """A session's console connection, its local emulator, and the output not yet fed to it."""

    def __init__(self, session_id: str, scrollback: int) -> None:
        self.session_id = session_id
        self.scrollback = scrollback
        self.connection: Any = None
        self.emulator: TerminalEmulator | None = None
        self.pending = OutputQueue()
        self.state = "connecting"
        """"connecting", "live", "ended" or "error"."""
        self.error: str | None = None
        self.on_data: Callable[[], None] | None = None
        """Set by the terminal view while this channel is shown; called when output arrives or state changes."""
        self.was_live = False
        """Whether the connection ever opened (a failed open is not retried by itself)."""
        self.generation = 0
        """Bumped whenever the emulator is rebuilt (a resync), so views drop their caches."""
        self._reader: asyncio.Task[None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._opener: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()

    def start(self, client: EngineClientProtocol, cols: int, rows: int) -> None:
        """Connect in the background (`open`); `state` says how it went."""
        self._opener = asyncio.get_running_loop().create_task(self.open(client, cols, rows))

    async def open(self, client: EngineClientProtocol, cols: int, rows: int) -> None:
        """Connect, build the emulator from the snapshot, and start reading."""
        try:
            self.connection = await client.console(self.session_id, cols, rows)
        except ClauderonError as exc:
            self.state, self.error = "error", str(exc)
            self._notify()
            return
        except Exception as exc:  # a transport failure: shown in the pane, never raised into the app
            log.warning("opening console %s failed", self.session_id, exc_info=True)
            self.state, self.error = "error", f"could not attach to the console ({exc.__class__.__name__}: {exc})"
            self._notify()
            return
        self._rebuild()
        self.state = "live"
        self.was_live = True
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read_loop())
        self._writer = loop.create_task(self._write_loop())
        if self.pending:
            self._data_arrived()

    def _rebuild(self) -> None:
        """A fresh emulator of the connection's size, fed from its snapshot."""
        self.emulator = TerminalEmulator(self.connection.cols, self.connection.rows,
                                         scrollback=self.scrollback, on_reply=None)
        self.pending = OutputQueue(self.connection.snapshot)
        self.generation += 1

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.connection.read()
                if not data:
                    break
                if data == RESYNC:  # this viewer fell behind: start again from the engine's snapshot
                    self._rebuild()
                elif data == RESIZED:  # another viewer resized the terminal: follow, in stream order
                    self._follow_resize()
                else:
                    self.pending += data
                self._data_arrived()
        except ClauderonError as exc:
            self.error = str(exc)
        except Exception as exc:  # any transport failure ends this console; the app reconnects
            self.error = f"console connection lost ({exc.__class__.__name__})"
        self.state = "ended" if self.error is None else "error"
        self._notify()

    def _follow_resize(self) -> None:
        """Feed what came before the resize, then take the connection's new size."""
        if self.emulator is None:
            return
        while self.pending:
            self.pump(FEED_CHUNK)
        cols, rows = self.connection.cols, self.connection.rows
        if (self.emulator.cols, self.emulator.rows) != (cols, rows) and cols > 0 and rows > 0:
            self.emulator.resize(cols, rows)
            self.generation += 1

    def _data_arrived(self) -> None:
        if self.on_data is not None:
            self.on_data()
        elif self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Feed queued output while nobody is looking, one bounded chunk per loop turn."""
        while self.pending and self.on_data is None:
            self.pump(FEED_CHUNK)
            await asyncio.sleep(0)

    def _notify(self) -> None:
        if self.on_data is not None:
            self.on_data()

    def pump(self, budget: int = FEED_CHUNK) -> bool:
        """Feed at most `budget` queued bytes (and at most `FEED_SECONDS`) to the emulator; True if
        anything was fed."""
        if not self.pending or self.emulator is None:
            return False
        started, fed = time.perf_counter(), 0
        while self.pending and fed < budget:
            piece = self.pending.take(min(FEED_SLICE, budget - fed))
            self.emulator.feed(piece)
            fed += len(piece)
            if time.perf_counter() - started > FEED_SECONDS:
                break
        return True

    def detach(self) -> None:
        """The view stopped showing this channel: keep its emulator fed in the background."""
        self.on_data = None
        if self.pending:
            self._data_arrived()

    def send(self, data: bytes) -> None:
        """Queue input for the program (also while connecting); one writer task keeps keystrokes in order."""
        if self.state in ("connecting", "live"):
            self._outbox.put_nowait(data)

    async def _write_loop(self) -> None:
        while True:
            data = await self._outbox.get()
            try:
                await self.connection.write(data)
            except Exception as exc:  # a dead connection: the reader notices and ends the channel
                log.debug("console write failed: %s", exc)

    async def resize(self, cols: int, rows: int) -> None:
        """Resize the local emulator and the remote console."""
        if self.emulator is None or self.connection is None:
            return
        if (self.emulator.cols, self.emulator.rows) != (cols, rows):
            self.emulator.resize(cols, rows)
        if (self.connection.cols, self.connection.rows) != (cols, rows) and self.state == "live":
            try:
                await self.connection.resize(cols, rows)
            except Exception as exc:  # a dead connection: the reader notices and ends the channel
                log.debug("console resize failed: %s", exc)

    async def close(self) -> None:
        """Stop reading and close the connection."""
        self.on_data = None
        if self.state in ("connecting", "live"):
            self.state = "ended"
        for task in (self._opener, self._reader, self._drainer, self._writer):
            if task is not None:
                task.cancel()
        if self.connection is not None:
            try:
                await self.connection.close()
            except Exception:  # closing a broken connection must not fail the caller
                log.debug("closing console %s failed", self.session_id, exc_info=True)


class ConsolePool:
    """Open console channels by session id, least recently shown first out."""

    def __init__(self, client: EngineClientProtocol, scrollback: int = 10000, max_open: int = MAX_OPEN) -> None:
        self.client = client
        self.scrollback = scrollback
        self.max_open = max_open
        self._channels: OrderedDict[str, ConsoleChannel] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, session_id: str) -> ConsoleChannel | None:
        """The open channel for a session, if any."""
        return self._channels.get(session_id)

    def channel(self, session_id: str, cols: int, rows: int) -> ConsoleChannel:
        """The session's channel, live or connecting; a new one, connecting in the background, if it has none
        or its last one ended. A view can attach at once: input typed meanwhile is queued, not lost."""
        channel = self._channels.get(session_id)
        if channel is not None and channel.state in ("live", "connecting"):
            self._channels.move_to_end(session_id)
            return channel
        if channel is not None:
            self._close_later(channel)
        channel = ConsoleChannel(session_id, self.scrollback)
        self._channels[session_id] = channel
        while len(self._channels) > self.max_open:
            _, oldest = self._channels.popitem(last=False)
            self._close_later(oldest)
        channel.start(self.client, cols, rows)
        return channel

    def _close_later(self, channel: ConsoleChannel) -> None:
        task = asyncio.get_running_loop().create_task(channel.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def drop(self, session_id: str) -> None:
        """Close a session's channel (it was deleted, stopped or restarted)."""
        channel = self._channels.pop(session_id, None)
        if channel is not None:
            await channel.close()

    async def close_all(self) -> None:
        """Close every channel."""
        while self._channels:
            _, channel = self._channels.popitem()
            await channel.close()
