"""`TerminalEmulator`: one terminal screen fed with a program's output bytes.

It composes an `EmulatorScreen` (pyte screen subclass) and a `TerminalParser` (pyte stream
subclass) behind a small API, so callers never depend on pyte's large method surface and the
parser/screen pairing (pyte binds them at construction) cannot be got wrong.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pyte import modes as mo
from pyte.screens import Char, Cursor

from runtime.terminal.history import HistoryLine
from runtime.terminal.line import Line
from runtime.terminal.parser import TerminalParser
from runtime.terminal.screen import EmulatorScreen
from runtime.terminal.snapshot import encode_snapshot

MOUSE_MODES = (1000, 1002, 1003)
_BRACKETED_PASTE = 2004 << 5
_MOUSE_SGR = 1006 << 5


class TerminalEmulator:
    """A VT/xterm-like screen with scrollback, alternate screen, query answers and snapshots.

    `on_reply` receives the answers to the program's terminal queries (DSR, DA). Only the one
    emulator that owns a session's stream should have it; viewer copies pass None.
    """

    def __init__(self, cols: int, rows: int, *, scrollback: int = 10000,
                 on_reply: Callable[[bytes], None] | None = None) -> None:
        self.on_reply = on_reply
        self._suppress = 0
        self.screen = EmulatorScreen(cols, rows, scrollback=scrollback, reply=self._reply)
        self._parser = TerminalParser(self.screen)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._last_cursor_y = 0

    # -- input -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Process program output. UTF-8 split across calls is fine; invalid bytes become U+FFFD."""
        text = self._decoder.decode(data)
        if text:
            self._parser.feed(text)

    def _reply(self, text: str) -> None:
        if self.on_reply is not None and not self._suppress:
            self.on_reply(text.encode())

    @contextmanager
    def replies_suppressed(self) -> Iterator[None]:
        """Within this block queries are not answered (replaying old output after a restart)."""
        self._suppress += 1
        try:
            yield
        finally:
            self._suppress -= 1

    # -- geometry and contents -------------------------------------------------------------

    @property
    def cols(self) -> int:
        return self.screen.columns

    @property
    def rows(self) -> int:
        return self.screen.lines

    @property
    def cursor(self) -> Cursor:
        """The pyte cursor (x, y 0-based; x == cols means "wrap on next character")."""
        return self.screen.cursor

    @property
    def buffer(self) -> dict[int, Line]:
        """Visible rows: `buffer[y][x]` is a pyte `Char` (``data`` "" marks a wide char's right half)."""
        return self.screen.buffer

    def resize(self, cols: int, rows: int) -> None:
        """Change the size; shrinking rows scrolls lines above the cursor into history."""
        if cols < 1 or rows < 1:
            raise ValueError(f"terminal size must be positive, got {cols}x{rows}")
        self.screen.resize(rows, cols)

    def row_text(self, y: int) -> str:
        """One visible row as text (wide characters once, right-stripped)."""
        return self.screen.buffer[y].text(self.screen.columns).rstrip()

    def text(self) -> str:
        """The visible screen as plain text: lines right-stripped, trailing blank lines dropped."""
        lines = [self.row_text(y) for y in range(self.screen.lines)]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def history_lines(self) -> list[list[Char]]:
        """Scrollback, oldest first, each row as `cols` pyte Chars (for a scroll mode)."""
        cols = self.screen.columns
        return [line.chars(cols) for line in self.screen.history]

    def history_rows(self) -> list[HistoryLine]:
        """Scrollback, oldest first, as read-only rows (`spans(cols)` renders one without building cells)."""
        return list(self.screen.history)

    @property
    def history_size(self) -> int:
        return len(self.screen.history)

    def take_dirty(self) -> set[int]:
        """Rows changed since the last call, including the rows the cursor left and entered."""
        screen = self.screen
        dirty = screen.dirty
        dirty.add(self._last_cursor_y)
        dirty.add(screen.cursor.y)
        self._last_cursor_y = screen.cursor.y
        result = {y for y in dirty if 0 <= y < screen.lines}
        screen.dirty = set()
        return result

    # -- modes -------------------------------------------------------------------------------

    @property
    def title(self) -> str:
        """Window title (OSC 0 / OSC 2)."""
        return self.screen.title

    @property
    def bracketed_paste(self) -> bool:
        return _BRACKETED_PASTE in self.screen.mode

    @property
    def mouse_tracking(self) -> int | None:
        """The highest active mouse reporting mode (1000, 1002 or 1003), or None."""
        active = [m for m in MOUSE_MODES if (m << 5) in self.screen.mode]
        return max(active) if active else None

    @property
    def mouse_sgr(self) -> bool:
        """SGR mouse encoding (1006)."""
        return _MOUSE_SGR in self.screen.mode

    @property
    def app_cursor_keys(self) -> bool:
        """DECCKM: arrows send ``ESC O A`` instead of ``ESC [ A``."""
        return (1 << 5) in self.screen.mode

    @property
    def alt_screen(self) -> bool:
        return self.screen.alt is not None

    @property
    def cursor_visible(self) -> bool:
        return mo.DECTCEM in self.screen.mode

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self, scrollback_lines: int = 200) -> bytes:
        """Bytes that rebuild this screen (history tail, cells, cursor, modes) in a fresh
        emulator of the same size."""
        # The unfinished escape sequence and the bytes of a split UTF-8 character come last, so
        # the rebuilt emulator continues the live stream exactly where this one stands.
        text = encode_snapshot(self.screen, scrollback_lines) + self._parser.pending_text()
        return text.encode() + self._decoder.getstate()[0]
