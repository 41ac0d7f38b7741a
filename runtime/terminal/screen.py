"""`EmulatorScreen`: pyte's `Screen` plus what a real terminal needs and pyte lacks.

Added: a fast `draw` for printable-ASCII runs (same resulting screen as stock pyte, proven by
a hypothesis test), the alternate screen (1049/1047/47), scrollback of the main screen, answers
to device status/attribute queries through a callback, and a resize that keeps the cursor on
screen by scrolling lines into history as xterm does.

We subclass rather than wrap because pyte's `Stream` binds directly to the screen's event
methods: overriding them is the only way to change what an escape sequence does.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyte
from pyte import charsets as cs
from pyte import modes as mo
from pyte.screens import Char, Cursor, Margins, StaticDefaultDict, wcwidth

from runtime.terminal.history import History
from runtime.terminal.sgr import Delta, apply_delta, drop_underline_colour, sgr_delta

Line = StaticDefaultDict[int, Char]  # one screen row: column -> Char, missing columns read as the default

# Private modes are stored shifted by 5 bits in pyte's `mode` set.
ALT_SCREEN_MODES = (1049, 1047, 47)
ALT_SCREEN_FLAGS = frozenset(m << 5 for m in ALT_SCREEN_MODES)

_ASCII_RUN = re.compile(r"[\x20-\x7e]+")
_OTHER_RUN = re.compile(r"[^\x20-\x7e]+")
_new_tuple = tuple.__new__
_MAX_GLYPH_CACHES = 512
_MAX_GLYPHS = 4096

PRIMARY_DA = "\x1b[?62;22c"  # VT220 with ANSI colour.
SECONDARY_DA = "\x1b[>1;10;0c"


class _Glyphs(dict[str, Char]):
    """char -> Char for one set of attributes; cells are immutable so rows can share them,
    which keeps allocations (and garbage-collector work) down for repetitive output."""

    __slots__ = ("rest",)

    def __init__(self, attrs: Char) -> None:
        super().__init__()
        self.rest = tuple(attrs)[1:]

    def __missing__(self, char: str) -> Char:
        if len(self) >= _MAX_GLYPHS:  # CJK text could otherwise grow one cache without bound.
            self.clear()
        # tuple.__new__ skips namedtuple._replace's keyword handling (3x faster per cell).
        glyph = self[char] = _new_tuple(Char, (char, *self.rest))
        return glyph


@dataclass
class AltScreenState:
    """What is kept of the main screen while the alternate screen is shown."""

    mode: int
    main_buffer: dict[int, Line]
    saved_cursor: Cursor | None


class EmulatorScreen(pyte.Screen):
    """A pyte screen with alternate screen, scrollback, query answers and a fast draw."""

    def __init__(self, columns: int, lines: int, *, scrollback: int = 10000,
                 reply: Callable[[str], None] | None = None) -> None:
        self.reply = reply
        self.history = History(scrollback)
        self.alt: AltScreenState | None = None
        self._glyphs: dict[Char, _Glyphs] = {}
        self._sgr_deltas: dict[tuple[tuple[int, ...], bool], Delta] = {}
        self._last_attrs: Char | None = None
        self._last_glyphs = _Glyphs(Char(" "))
        super().__init__(columns, lines)

    # -- drawing ---------------------------------------------------------------------------

    def draw(self, data: str) -> None:
        """Display text at the cursor; printable-ASCII runs take a fast path.

        Differs from stock pyte in one deliberate way: a zero-width non-combining or
        unprintable character (ZWJ, VS16, a stray C1 control) is skipped, where stock pyte
        silently drops the *rest of the text run* after it.
        """
        charset = self.g1_charset if self.charset else self.g0_charset
        if charset is not cs.LAT1_MAP:  # Latin-1 is the identity map: skip the copy.
            data = data.translate(charset)
        if data.isascii() and data.isprintable() and mo.IRM not in self.mode:
            cursor = self.cursor
            x = cursor.x
            end = x + len(data)
            if end <= self.columns:  # The commonest case: a plain run that fits on the row.
                get = self._glyphs_for(cursor.attrs).__getitem__
                self.buffer[cursor.y].update(zip(range(x, end), map(get, data), strict=False))
                cursor.x = end
            else:
                self._draw_ascii(data, 0, len(data))
        elif mo.IRM in self.mode:
            self._draw_slow(data)  # Insert mode shifts the line per character anyway.
        else:
            i, n = 0, len(data)
            while i < n:
                match = _ASCII_RUN.match(data, i)
                if match:
                    j = match.end()
                    self._draw_ascii(data, i, j)
                else:
                    j = _OTHER_RUN.match(data, i).end()  # type: ignore[union-attr]
                    self._draw_slow(data[i:j])
                i = j
        self.dirty.add(self.cursor.y)

    def _glyphs_for(self, attrs: Char) -> _Glyphs:
        if attrs is self._last_attrs:
            return self._last_glyphs
        glyphs = self._glyphs.get(attrs)
        if glyphs is None:
            if len(self._glyphs) >= _MAX_GLYPH_CACHES:
                self._glyphs.clear()
            glyphs = self._glyphs[attrs] = _Glyphs(attrs)
        self._last_attrs, self._last_glyphs = attrs, glyphs
        return glyphs

    def _draw_ascii(self, data: str, i: int, j: int) -> None:
        # Equivalent to stock pyte's per-character loop for width-1 characters without IRM,
        # but writes whole row segments at once.
        cursor = self.cursor
        columns = self.columns
        get = self._glyphs_for(cursor.attrs).__getitem__
        while i < j:
            x = cursor.x
            if x >= columns:
                if x > columns:  # Only reachable through odd states; keep stock semantics.
                    self._draw_slow(data[i:j])
                    return
                if mo.DECAWM in self.mode:
                    self.dirty.add(cursor.y)
                    self.carriage_return()
                    self.linefeed()
                    x = cursor.x
                else:
                    # Without autowrap each character overwrites the last column: last one wins.
                    self.buffer[cursor.y][columns - 1] = get(data[j - 1])
                    return
            k = min(j - i, columns - x)
            line = self.buffer[cursor.y]
            if k == 1:
                line[x] = get(data[i])
            else:
                # Looked up and stored in C; only a new (attributes, char) pair runs Python.
                line.update(zip(range(x, x + k), map(get, data[i:i + k]), strict=False))
            cursor.x = x + k
            i += k

    def _draw_slow(self, data: str) -> None:
        # Stock pyte's loop (minus the translate, already done), character by character.
        for char in data:
            char_width = wcwidth(char)
            if self.cursor.x == self.columns:
                if mo.DECAWM in self.mode:
                    self.dirty.add(self.cursor.y)
                    self.carriage_return()
                    self.linefeed()
                elif char_width > 0:
                    self.cursor.x -= char_width
            if mo.IRM in self.mode and char_width > 0:
                self.insert_characters(char_width)
            line = self.buffer[self.cursor.y]
            if char_width == 1:
                line[self.cursor.x] = self._glyphs_for(self.cursor.attrs)[char]
            elif char_width == 2:
                glyphs = self._glyphs_for(self.cursor.attrs)
                line[self.cursor.x] = glyphs[char]
                if self.cursor.x + 1 < self.columns:
                    line[self.cursor.x + 1] = glyphs[""]
            elif char_width == 0 and unicodedata.combining(char):
                if self.cursor.x:
                    last = line[self.cursor.x - 1]
                    normalized = unicodedata.normalize("NFC", last.data + char)
                    line[self.cursor.x - 1] = last._replace(data=normalized)
                elif self.cursor.y:
                    last = self.buffer[self.cursor.y - 1][self.columns - 1]
                    normalized = unicodedata.normalize("NFC", last.data + char)
                    self.buffer[self.cursor.y - 1][self.columns - 1] = last._replace(data=normalized)
            else:
                continue  # Unprintable or zero-width: ignored (stock pyte breaks out here).
            if char_width > 0:
                self.cursor.x = min(self.cursor.x + char_width, self.columns)

    # -- scrolling and scrollback ----------------------------------------------------------

    def _blank_line(self) -> Line:
        return StaticDefaultDict(self.default_char)

    def _keep_in_history(self, row: Line) -> None:
        self.history.keep(row, self.columns)

    def index(self) -> None:
        """Move down one line, scrolling the region at its bottom; full-screen scrolls of the
        main screen keep the line that leaves the top in `history`."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y != bottom:
            self.cursor_down()
            return
        buffer = self.buffer
        if top == 0 and self.alt is None:
            self._keep_in_history(buffer[0])
        # Only the scrolled region changes (stock pyte marks every row dirty).
        self.dirty.update(range(top, bottom + 1))
        # buffer[y] = buffer[y + 1] for each row of the region, done in C (rows are shared,
        # not copied, exactly as stock pyte does).
        buffer.update(zip(range(top, bottom), list(map(buffer.__getitem__, range(top + 1, bottom + 1))), strict=False))
        buffer.pop(bottom, None)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """ED; ``CSI 3 J`` also clears the scrollback, as in xterm."""
        super().erase_in_display(how, *args, **kwargs)
        if how == 3 and self.alt is None:
            self.history.clear()

    def reset(self) -> None:
        """RIS: also leaves the alternate screen (the main screen is discarded with it)."""
        self.alt = None
        super().reset()

    # -- modes: alternate screen and cursor visibility -------------------------------------

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        """SM / DECSET, plus the alternate screen modes."""
        super().set_mode(*modes, **kwargs)
        if kwargs.get("private"):
            for mode in modes:
                if mode in ALT_SCREEN_MODES:
                    self.enter_alt_screen(mode)
            # Only the mode that switched to the alternate screen stays recorded.
            self.mode.difference_update(ALT_SCREEN_FLAGS)
            if self.alt is not None:
                self.mode.add(self.alt.mode << 5)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        """RM / DECRST, plus leaving the alternate screen."""
        super().reset_mode(*modes, **kwargs)
        if kwargs.get("private") and any(mode in ALT_SCREEN_MODES for mode in modes):
            self.leave_alt_screen()

    def enter_alt_screen(self, mode: int = 1049) -> None:
        """Show a blank alternate buffer; 1049 also saves the cursor. No-op if already there."""
        if self.alt is not None:
            return
        saved = copy.copy(self.cursor) if mode == 1049 else None
        self.alt = AltScreenState(mode=mode, main_buffer=self.buffer, saved_cursor=saved)
        self.buffer = defaultdict(self._blank_line)
        self.mode.add(mode << 5)
        self.dirty.update(range(self.lines))

    def leave_alt_screen(self) -> None:
        """Back to the main buffer, restoring the cursor saved by 1049."""
        state = self.alt
        self.mode.difference_update(ALT_SCREEN_FLAGS)
        if state is None:
            return
        self.alt = None
        self.buffer = state.main_buffer
        if state.saved_cursor is not None:
            self.cursor = state.saved_cursor
            self.cursor.hidden = mo.DECTCEM not in self.mode
            self.ensure_hbounds()
            self.ensure_vbounds()
        self.dirty.update(range(self.lines))

    def restore_cursor(self) -> None:
        """DECRC; cursor visibility is a mode, not part of the saved cursor."""
        super().restore_cursor()
        self.cursor.hidden = mo.DECTCEM not in self.mode

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        """SGR, as stock pyte; underline colour (58) is dropped rather than misread."""
        if kwargs.get("private"):
            return  # ``CSI ? ... m`` is not SGR (stock pyte raises on it).
        if 58 in attrs:
            attrs = tuple(drop_underline_colour(attrs))
        key = (attrs, mo.DECSCNM in self.mode)
        delta = self._sgr_deltas.get(key)
        if delta is None:
            if len(self._sgr_deltas) >= 4096:
                self._sgr_deltas.clear()
            delta = self._sgr_deltas[key] = sgr_delta(attrs, self.default_char)
        self.cursor.attrs = apply_delta(self.cursor.attrs, delta)

    # -- answers to queries ----------------------------------------------------------------

    def write_process_input(self, data: str) -> None:
        """Send an answer to the program, if this screen answers at all."""
        if self.reply is not None:
            self.reply(data)

    def report_device_status(self, mode: int = 0, private: bool = False) -> None:
        """DSR: 5 -> status OK, 6 -> cursor position (1-based, origin-mode aware)."""
        if private:
            return
        if mode == 5:
            self.write_process_input("\x1b[0n")
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if mo.DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self.write_process_input(f"\x1b[{y};{x}R")

    def report_device_attributes(self, mode: int = 0, **kwargs: Any) -> None:
        """Primary DA (``CSI c`` / ``CSI 0 c``)."""
        if mode == 0 and not kwargs.get("private"):
            self.write_process_input(PRIMARY_DA)

    def report_secondary_device_attributes(self) -> None:
        """Secondary DA (``CSI > c``)."""
        self.write_process_input(SECONDARY_DA)

    # -- resize ------------------------------------------------------------------------------

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Resize; when rows shrink, lines above the cursor scroll into history (as xterm)."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        buffers = [self.buffer]
        if self.alt is not None:
            buffers.append(self.alt.main_buffer)
            saved = self.alt.saved_cursor
            main_y = saved.y if saved is not None else self.cursor.y
            shift = self._shrink_rows(self.alt.main_buffer, lines, main_y, keep=True)
            if saved is not None:
                saved.y = max(0, min(saved.y - shift, lines - 1))
                saved.x = min(saved.x, columns - 1)
            self.cursor.y -= self._shrink_rows(self.buffer, lines, self.cursor.y, keep=False)
        else:
            self.cursor.y -= self._shrink_rows(self.buffer, lines, self.cursor.y, keep=True)
        if columns < self.columns:
            for buffer in buffers:
                for line in buffer.values():
                    for x in range(columns, self.columns):
                        line.pop(x, None)
        elif columns > self.columns:
            self.tabstops.update(range(((self.columns + 7) // 8) * 8 or 8, columns, 8))
        self.tabstops = {stop for stop in self.tabstops if stop < columns}
        self.lines, self.columns = lines, columns
        self.margins = None
        self.cursor.x = min(self.cursor.x, columns - 1)
        self.cursor.y = max(0, min(self.cursor.y, lines - 1))
        self.dirty.update(range(lines))

    def _shrink_rows(self, buffer: Any, lines: int, cursor_y: int, *, keep: bool) -> int:
        """Drop rows beyond `lines`: from the top if the cursor would fall off (kept in
        history when `keep`), else from the bottom. Returns how many rows moved up."""
        if lines >= self.lines:
            return 0
        shift = max(0, cursor_y - (lines - 1))
        if shift:
            for y in range(shift):
                line = buffer.pop(y, None)
                if keep:
                    self._keep_in_history(line if line is not None else self._blank_line())
            moved = {y - shift: line for y, line in buffer.items() if y >= shift}
            buffer.clear()
            buffer.update(moved)
        for y in [y for y in buffer if y >= lines]:
            del buffer[y]
        return shift
