"""`TerminalStream`: the engine-side owner of one session's live terminal.

One attachment feeds one `TerminalEmulator` (the only one that answers the program's terminal
queries), a bounded ring of raw output, and any number of viewers. Everything between reading
a chunk and handing it to the viewers is synchronous, so a viewer that subscribes gets a
snapshot that ends exactly where its live chunks begin: nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from runtime.backends.base import Attachment
from runtime.terminal.emulator import TerminalEmulator

log = logging.getLogger(__name__)


class ChunkKind(enum.Enum):
    DATA = "data"
    """Raw program output: feed it to your screen copy."""
    RESIZE = "resize"
    """The terminal changed size here in the byte stream: resize your copy to cols x rows."""
    RESYNC = "resync"
    """You fell behind and chunks were dropped: replace your copy with a fresh cols x rows
    emulator fed `data` (a snapshot)."""
    ENDED = "ended"
    """The attachment ended (program exited or detached); more may follow after a re-attach."""


@dataclass(frozen=True)
class Chunk:
    """One item of a viewer's feed."""

    kind: ChunkKind
    data: bytes = b""
    cols: int = 0
    rows: int = 0


class ViewerClosed(Exception):
    """`Viewer.get()` on a viewer that was unsubscribed."""


class Viewer:
    """One subscriber's view of a stream: a snapshot plus a bounded feed of later chunks.

    `snapshot` is ``(cols, rows, bytes)`` (as `TerminalStream.snapshot()`): the screen at
    subscription; the chunks from `get()` continue from exactly there. If more than `backlog`
    output bytes pile up unread, they are dropped and replaced by a single RESYNC chunk.
    """

    def __init__(self, snapshot: tuple[int, int, bytes], backlog: int,
                 size: tuple[int, int] | None) -> None:
        self.snapshot = snapshot
        self.size = size
        """The size this viewer would like (its window), if it said."""
        self.resyncs = 0
        self._backlog = backlog
        self._chunks: deque[Chunk] = deque()
        self._pending = 0
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def pending_bytes(self) -> int:
        """Output bytes queued since the last resync (what `backlog` bounds)."""
        return self._pending

    @property
    def closed(self) -> bool:
        return self._closed

    def get_nowait(self) -> Chunk | None:
        """The next chunk if one is queued, else None."""
        if not self._chunks:
            return None
        chunk = self._chunks.popleft()
        if chunk.kind is ChunkKind.DATA:
            self._pending -= len(chunk.data)
        return chunk

    async def get(self) -> Chunk:
        """Wait for the next chunk; raises `ViewerClosed` once unsubscribed and drained."""
        while not self._chunks:
            if self._closed:
                raise ViewerClosed
            self._wakeup.clear()
            await self._wakeup.wait()
        return self.get_nowait()  # type: ignore[return-value]

    def __aiter__(self) -> Viewer:
        return self

    async def __anext__(self) -> Chunk:
        try:
            return await self.get()
        except ViewerClosed:
            raise StopAsyncIteration from None

    def deliver(self, chunk: Chunk, resync: Callable[[], Chunk]) -> None:
        """Queue one chunk from the stream; `resync` builds the snapshot that replaces a backlog grown too large."""
        if self._closed:
            return
        if chunk.kind is ChunkKind.DATA:
            if self._pending + len(chunk.data) > self._backlog:
                # Too far behind: what is queued is useless, a snapshot (taken after this chunk
                # was fed) replaces all of it. Its size is not counted, so a snapshot larger
                # than the backlog cannot cause a resync on every chunk.
                self._chunks.clear()
                chunk = resync()
                self._pending = 0
                self.resyncs += 1
            else:
                self._pending += len(chunk.data)
        self._chunks.append(chunk)
        self._wakeup.set()

    def close(self) -> None:
        """End this viewer's feed (called by the stream when it unsubscribes the viewer)."""
        self._closed = True
        self._wakeup.set()


class ScreenReplica:
    """A viewer-side copy of the screen, kept up to date by applying a viewer's chunks.

    It never answers queries (the engine's emulator does, once).
    """

    def __init__(self, snapshot: bytes, cols: int, rows: int, *, scrollback: int = 10000) -> None:
        self.scrollback = scrollback
        self.emulator = TerminalEmulator(cols, rows, scrollback=scrollback)
        self.emulator.feed(snapshot)

    @classmethod
    def for_viewer(cls, viewer: Viewer, *, scrollback: int = 10000) -> ScreenReplica:
        """A replica starting from `viewer`'s subscription snapshot."""
        cols, rows, snapshot = viewer.snapshot
        return cls(snapshot, cols, rows, scrollback=scrollback)

    def apply(self, chunk: Chunk) -> None:
        """Apply one chunk from `Viewer.get()`."""
        if chunk.kind is ChunkKind.DATA:
            self.emulator.feed(chunk.data)
        elif chunk.kind is ChunkKind.RESIZE:
            self.emulator.resize(chunk.cols, chunk.rows)
        elif chunk.kind is ChunkKind.RESYNC:
            self.emulator = TerminalEmulator(chunk.cols, chunk.rows, scrollback=self.scrollback)
            self.emulator.feed(chunk.data)


class TerminalStream:
    """The live terminal of one session: emulator, raw ring buffer, viewers, input, size."""

    def __init__(self, session_id: str, cols: int = 120, rows: int = 40, *, scrollback: int = 10000,
                 ring_bytes: int = 1_048_576, viewer_backlog: int = 1_048_576,
                 snapshot_lines: int = 200) -> None:
        self.session_id = session_id
        self._replies: list[bytes] = []
        self.emulator = TerminalEmulator(cols, rows, scrollback=scrollback, on_reply=self._replies.append)
        self.ended = asyncio.Event()
        self._ring: deque[bytes] = deque()
        self._ring_size = 0
        self._ring_bytes = ring_bytes
        self._viewer_backlog = viewer_backlog
        self._snapshot_lines = snapshot_lines
        self._viewers: list[Viewer] = []
        self._active: Viewer | None = None
        self._attachment: Attachment | None = None
        self._applied_size: tuple[int, int] | None = None
        self._resize_lock = asyncio.Lock()

    # -- the pump ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._attachment is not None

    async def run(self, attachment: Attachment, prefill: bytes = b"") -> None:
        """Pump `attachment` until it ends, then set `ended`. Can be run again with a new one.

        `prefill` (output recovered after an engine restart) is shown but its queries are not
        answered: the program asked them long ago. The attachment is not closed here.
        """
        if self._attachment is not None:
            raise RuntimeError(f"terminal stream {self.session_id} is already running")
        self._attachment = attachment
        self._applied_size = None
        self.ended.clear()
        try:
            if prefill:
                with self.emulator.replies_suppressed():
                    self._ingest(prefill)
            await self._apply_size()  # A re-attached program may have a stale size.
            while True:
                try:
                    data = await attachment.read()
                except (OSError, EOFError, ConnectionError) as exc:
                    log.warning("terminal %s: attachment failed: %s", self.session_id, exc)
                    break
                if not data:
                    break
                self._ingest(data)
                if self._replies:
                    answer = b"".join(self._replies)
                    self._replies.clear()
                    await self._send(attachment, answer)
        finally:
            self._attachment = None
            self._replies.clear()
            for viewer in self._viewers:
                viewer.deliver(Chunk(ChunkKind.ENDED), self._resync_chunk)
            self.ended.set()

    def _ingest(self, data: bytes) -> None:
        # Synchronous on purpose: emulator, ring and viewers all see the chunk at one instant.
        self.emulator.feed(data)
        self._ring.append(data)
        self._ring_size += len(data)
        while self._ring and self._ring_size - len(self._ring[0]) >= self._ring_bytes:
            self._ring_size -= len(self._ring.popleft())
        if self._viewers:
            chunk = Chunk(ChunkKind.DATA, data)
            resync = _memo(self._resync_chunk)
            for viewer in self._viewers:
                viewer.deliver(chunk, resync)

    def _resync_chunk(self) -> Chunk:
        cols, rows, data = self.snapshot()
        return Chunk(ChunkKind.RESYNC, data, cols, rows)

    async def _send(self, attachment: Attachment, data: bytes) -> None:
        try:
            await attachment.write(data)
        except (OSError, ConnectionError) as exc:
            log.warning("terminal %s: could not send input: %s", self.session_id, exc)

    # -- viewers -------------------------------------------------------------------------------

    def subscribe(self, cols: int | None = None, rows: int | None = None) -> Viewer:
        """A new viewer holding the current snapshot; its chunks continue from that point.

        `cols`/`rows` is the viewer's window size, applied once it becomes the active viewer
        (by sending input or resizing).
        """
        size = (cols, rows) if cols and rows else None
        viewer = Viewer(self.snapshot(), self._viewer_backlog, size)
        self._viewers.append(viewer)
        return viewer

    def unsubscribe(self, viewer: Viewer) -> None:
        """Stop feeding `viewer`; its iterator ends once drained."""
        if viewer in self._viewers:
            self._viewers.remove(viewer)
        if self._active is viewer:
            self._active = None
        viewer.close()

    def close_viewers(self) -> None:
        """Unsubscribe every viewer (the session is archived or deleted); their feeds end."""
        for viewer in list(self._viewers):
            self.unsubscribe(viewer)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    # -- input and size ------------------------------------------------------------------------

    async def write(self, data: bytes, viewer: Viewer | None = None) -> None:
        """Send input to the program. Input from a viewer makes it the active one (its size wins)."""
        if viewer is not None and viewer is not self._active:
            self._active = viewer
            if viewer.size is not None:
                await self.resize(*viewer.size, viewer=viewer)
        attachment = self._attachment
        if attachment is None:
            log.debug("terminal %s: dropped %d input bytes, not attached", self.session_id, len(data))
            return
        await self._send(attachment, data)

    async def resize(self, cols: int, rows: int, viewer: Viewer | None = None) -> None:
        """Resize the emulator and the program's terminal; the latest call wins."""
        if cols < 1 or rows < 1:
            raise ValueError(f"terminal size must be positive, got {cols}x{rows}")
        if viewer is not None:
            viewer.size = (cols, rows)
            self._active = viewer
        if (cols, rows) != (self.emulator.cols, self.emulator.rows):
            self.emulator.resize(cols, rows)
            chunk = Chunk(ChunkKind.RESIZE, cols=cols, rows=rows)
            for each in self._viewers:
                each.deliver(chunk, self._resync_chunk)
        await self._apply_size()

    async def _apply_size(self) -> None:
        # Serialised, and reads the size inside the lock: however calls interleave, the last
        # size applied to the program is the emulator's current one.
        async with self._resize_lock:
            attachment = self._attachment
            size = (self.emulator.cols, self.emulator.rows)
            if attachment is None or size == self._applied_size:
                return
            self._applied_size = size
            try:
                await attachment.resize(*size)
            except (OSError, ConnectionError) as exc:
                self._applied_size = None
                log.warning("terminal %s: could not resize: %s", self.session_id, exc)

    # -- reading the screen --------------------------------------------------------------------

    def screen_text(self) -> str:
        """The visible screen as plain text (backs `clauderon screen NAME`)."""
        return self.emulator.text()

    def snapshot(self) -> tuple[int, int, bytes]:
        """(cols, rows, bytes) rebuilding the current screen in a fresh emulator of that size."""
        return self.emulator.cols, self.emulator.rows, self.emulator.snapshot(self._snapshot_lines)

    @property
    def title(self) -> str:
        return self.emulator.title

    def recent_output(self) -> bytes:
        """The last `ring_bytes` (about) of raw output."""
        data = b"".join(self._ring)
        return data[-self._ring_bytes:]


def _memo(make: Callable[[], Chunk]) -> Callable[[], Chunk]:
    """`make`, called at most once: several slow viewers share one resync snapshot."""
    made: list[Chunk] = []

    def once() -> Chunk:
        if not made:
            made.append(make())
        return made[0]

    return once
