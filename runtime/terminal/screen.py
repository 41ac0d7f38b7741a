"""`EmulatorScreen`: pyte's `Screen` plus what a real terminal needs and pyte lacks.

Added: rows kept as runs of text (`runtime.terminal.line`) with a fast `draw` for narrow text (same
resulting screen as stock pyte, proven by hypothesis tests), the alternate screen (1049/1047/47),
scrollback of the main screen, answers to device status/attribute queries through a callback, and a
resize that keeps the cursor on screen by scrolling lines into history as xterm does.

We subclass rather than wrap because pyte's `Stream` binds directly to the screen's event
methods: overriding them is the only way to change what an escape sequence does.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyte
from pyte import charsets as cs
from pyte import modes as mo
from pyte.screens import Char, Cursor, wcwidth

from runtime.terminal.history import History
from runtime.terminal.line import Glyphs, Line, RunLine, glyphs_for, is_narrow
from runtime.terminal.pens import SHARED as SHARED_PENS
from runtime.terminal.reflow import reflow
from runtime.terminal.sgr import Delta, apply_delta, drop_underline_colour, flatten_sgr_groups, sgr_delta

# Private modes are stored shifted by 5 bits in pyte's `mode` set.
ALT_SCREEN_MODES = (1049, 1047, 47)
ALT_SCREEN_FLAGS = frozenset(m << 5 for m in ALT_SCREEN_MODES)

_ASCII_RUN = re.compile(r"[\x20-\x7e]+")
_OTHER_RUN = re.compile(r"[^\x20-\x7e]+")

_MAX_DELTAS = 4096
_DEFAULT_CHAR = Char(" ")
_DEFAULT_CHAR_REVERSE = Char(" ", reverse=True)

PRIMARY_DA = "\x1b[?62;22c"  # VT220 with ANSI colour.
SECONDARY_DA = "\x1b[>1;10;0c"


@dataclass
class AltScreenState:
    """What is kept of the main screen while the alternate screen is shown."""

    mode: int
    main_buffer: dict[int, Line]
    saved_cursor: Cursor | None


class EmulatorScreen(pyte.Screen):
    """A pyte screen with rows as runs, alternate screen, scrollback, query answers and a fast draw."""

    line_class: type[Line] = RunLine
    """What a blank row starts as. `Line` keeps pyte's cells throughout (the reference the runs are tested against)."""
    reflows: bool = True
    """A width change re-wraps soft-wrapped lines (runtime/terminal/reflow.py); off, rows are cut at the new
    width like stock pyte (the reference the rest of the emulator is tested against)."""

    def __init__(self, columns: int, lines: int, *, scrollback: int = 10000,
                 reply: Callable[[str], None] | None = None) -> None:
        self.reply = reply
        self.history = History(scrollback)
        self.alt: AltScreenState | None = None
        self._sgr_deltas: dict[tuple[tuple[int, ...], bool], Delta] = {}
        self._param_deltas: dict[tuple[str, bool], Delta] = {}
        self._pens = SHARED_PENS
        self._last_attrs: Char | None = None
        self._last_glyphs = glyphs_for(Char(" "))
        super().__init__(columns, lines)
        self.buffer: dict[int, Line] = defaultdict(self._blank_line)  # type: ignore[assignment]

    @property
    def default_char(self) -> Char:
        """A blank of the default colours (reverse in screen-reverse mode); one shared object each."""
        return _DEFAULT_CHAR_REVERSE if mo.DECSCNM in self.mode else _DEFAULT_CHAR

    # -- drawing ---------------------------------------------------------------------------

    def draw(self, data: str) -> None:
        """Display text at the cursor; runs of narrow (one-column) characters take a fast path.

        Differs from stock pyte in one deliberate way: a zero-width non-combining or
        unprintable character (ZWJ, VS16, a stray C1 control) is skipped, where stock pyte
        silently drops the *rest of the text run* after it.
        """
        charset = self.g1_charset if self.charset else self.g0_charset
        if charset is not cs.LAT1_MAP:  # Latin-1 is the identity map: skip the copy.
            data = data.translate(charset)
        if mo.IRM in self.mode:
            self._draw_slow(data)  # Insert mode shifts the line per character anyway.
        elif (data.isascii() and data.isprintable()) or is_narrow(data):
            cursor = self.cursor
            x = cursor.x
            end = x + len(data)
            if end <= self.columns:  # The commonest case: a run that fits on the row.
                line = self.buffer[cursor.y]
                if line.__class__ is RunLine:
                    line.write(x, data, cursor.attrs)
                else:
                    get = self._glyphs_for(cursor.attrs).__getitem__
                    line.update(zip(range(x, end), map(get, data), strict=False))
                cursor.x = end
            else:
                self._draw_narrow(data, 0, len(data))
        else:
            i, n = 0, len(data)
            while i < n:
                match = _ASCII_RUN.match(data, i)
                if match:
                    j = match.end()
                    self._draw_narrow(data, i, j)
                else:
                    j = _OTHER_RUN.match(data, i).end()  # type: ignore[union-attr]
                    self._draw_slow(data[i:j])
                i = j
        self.dirty.add(self.cursor.y)

    def draw_styled(self, parts: list[str]) -> None:
        """Coloured text split on its plain SGR sequences: text runs (``parts[0::2]``) with the
        parameters of the SGR sequence after each (``parts[1::2]``).

        The same as `draw` and `select_graphic_rendition` in turn, in one loop: a narrow run appended
        to a row of runs and a colour change seen before cost a few dictionary and list operations.
        """
        cursor = self.cursor
        known = self._pens.table(mo.DECSCNM in self.mode)
        charset = self.g1_charset if self.charset else self.g0_charset
        texts = parts[::2]
        # Whether every text run is narrow, checked once for the whole token rather than per run.
        joined = "".join(texts)
        appending = (mo.IRM not in self.mode and charset is cs.LAT1_MAP
                     and ((joined.isascii() and joined.isprintable()) or is_narrow(joined)))
        buffer = self.buffer
        columns = self.columns
        pen = cursor.attrs
        x = cursor.x
        # Appending at a row's end: its runs are extended in place, the cursor written back at the end. A row
        # is looked up only for text (as pyte does: whether a row exists matters to its line insert/delete).
        line: Line | None = None
        tail = False
        for text, params in zip(texts, parts[1::2], strict=False):
            if text:
                if line is None:
                    line = buffer[cursor.y]
                    tail = appending and line.__class__ is RunLine and x == line.end
                    if tail:
                        line_texts, line_pens = line.texts, line.pens
                        last = line_pens[-1] if line_pens else None
                end = x + len(text)
                if tail and end <= columns:
                    if last is pen:
                        line_texts[-1] += text
                    else:
                        line_texts.append(text)
                        line_pens.append(pen)
                        last = pen
                    line.end = x = end
                else:
                    cursor.x, cursor.attrs = x, pen
                    self.draw(text)
                    x = cursor.x
                    line = None
                    tail = False
            after = known.get(id(pen))
            new = after.get(params) if after is not None else None
            pen = new if new is not None else self.pen_after(pen, params)
        cursor.x, cursor.attrs = x, pen
        if len(parts) % 2 and parts[-1]:
            self.draw(parts[-1])
        self.dirty.add(cursor.y)

    def pen_after(self, pen: Char, params: str) -> Char:
        """The pen that ``CSI params m`` (colon sub-parameters understood) turns `pen` into."""
        reverse = mo.DECSCNM in self.mode
        after = self._pens.table(reverse).get(id(pen))
        new = after.get(params) if after is not None else None
        if new is not None:
            return new
        delta = self._param_deltas.get((params, reverse))
        if delta is None:
            try:
                attrs = (flatten_sgr_groups(params) if ":" in params
                         else [min(int(p or 0), 9999) for p in params.split(";")])
            except ValueError:  # a number too long to parse: ignored, like any malformed sequence
                return pen
            if len(self._param_deltas) >= _MAX_DELTAS:
                self._param_deltas.clear()
            delta = self._param_deltas[(params, reverse)] = self.graphic_rendition_delta(attrs)
        return self._pens.learn(pen, params, apply_delta(pen, delta), reverse)

    def _glyphs_for(self, attrs: Char) -> Glyphs:
        if attrs is not self._last_attrs:
            self._last_attrs, self._last_glyphs = attrs, glyphs_for(attrs)
        return self._last_glyphs

    def _put(self, line: Line, x: int, text: str, pen: Char) -> None:
        """Narrow `text` onto `line` from column x (which it fits)."""
        if line.__class__ is RunLine:
            line.write(x, text, pen)
        elif len(text) == 1:
            line[x] = self._glyphs_for(pen)[text]
        else:
            # Looked up and stored in C; only a new (attributes, char) pair runs Python.
            line.update(zip(range(x, x + len(text)), map(self._glyphs_for(pen).__getitem__, text), strict=False))

    def _wrap(self) -> None:
        """Auto-wrap: the row is marked soft-wrapped and the cursor goes to the start of the next one."""
        y = self.cursor.y
        line = self.buffer.get(y)  # not created if missing: it is blank then, and pyte would not create it
        if line is not None:
            line.wrapped = True
        self.dirty.add(y)
        self.carriage_return()
        self.linefeed()

    def _draw_narrow(self, data: str, i: int, j: int) -> None:
        # Equivalent to stock pyte's per-character loop for width-1 characters without IRM,
        # but writes whole row segments at once.
        cursor = self.cursor
        columns = self.columns
        pen = cursor.attrs
        while i < j:
            x = cursor.x
            if x >= columns:
                if x > columns:  # Only reachable through odd states; keep stock semantics.
                    self._draw_slow(data[i:j])
                    return
                if mo.DECAWM in self.mode:
                    self._wrap()
                    x = cursor.x
                else:
                    # Without autowrap each character overwrites the last column: last one wins.
                    self._put(self.buffer[cursor.y], columns - 1, data[j - 1], pen)
                    return
            k = min(j - i, columns - x)
            self._put(self.buffer[cursor.y], x, data[i:i + k], pen)
            cursor.x = x + k
            i += k

    def _draw_slow(self, data: str) -> None:
        # Stock pyte's loop (minus the translate, already done), character by character. A wide or
        # combining character turns a row of runs into cells (item assignment expands it).
        for char in data:
            char_width = wcwidth(char)
            if self.cursor.x == self.columns:
                if mo.DECAWM in self.mode:
                    self._wrap()
                elif char_width > 0:
                    self.cursor.x -= char_width
            if mo.IRM in self.mode and char_width > 0:
                self.insert_characters(char_width)
            line = self.buffer[self.cursor.y]
            if char_width == 1:
                self._put(line, self.cursor.x, char, self.cursor.attrs)
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

    # -- erasing: pyte's semantics, on runs where a row has them ---------------------------

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        """EL (cells get the cursor's attributes); erasing the whole row ends its soft wrap."""
        cursor = self.cursor
        if how == 0:
            start, stop = cursor.x, self.columns
        elif how == 1:
            start, stop = 0, cursor.x + 1
        elif how == 2:
            start, stop = 0, self.columns
        else:
            super().erase_in_line(how, private)  # fails as stock pyte does
            return
        self.dirty.add(cursor.y)
        line = self.buffer[cursor.y]
        if stop > self.columns and line.__class__ is RunLine:
            line.expand()  # a cell past the margin: keep pyte's exact result
        line.fill(start, stop, cursor.attrs)
        if how == 2:
            line.wrapped = False

    def erase_characters(self, count: int | None = None) -> None:
        """ECH."""
        cursor = self.cursor
        self.dirty.add(cursor.y)
        self.buffer[cursor.y].fill(cursor.x, min(cursor.x + (count or 1), self.columns), cursor.attrs)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """ED; ``CSI 3 J`` also clears the scrollback, as in xterm. Erased rows end their soft wrap."""
        if how == 0:
            interval = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            interval = range(self.cursor.y)
        elif how in (2, 3):
            interval = range(self.lines)
        else:
            super().erase_in_display(how, *args, **kwargs)  # fails as stock pyte does
            return
        self.dirty.update(interval)
        pen = self.cursor.attrs
        for y in interval:
            line = self.buffer[y]
            line.blank(pen)  # only the cells written so far, as pyte
            line.wrapped = False
        if how in (0, 1):
            self.erase_in_line(how)
        if how == 3 and self.alt is None:
            self.history.clear()

    # -- scrolling and scrollback ----------------------------------------------------------

    def _blank_line(self) -> Line:
        return self.line_class(self.default_char)

    def _keep_in_history(self, row: Line) -> None:
        self.history.keep(row, self.columns)

    def index(self) -> None:
        """Move down one line, scrolling the region at its bottom; full-screen scrolls of the
        main screen keep the line that leaves the top in `history`."""
        margins = self.margins  # read without building a Margins per line feed
        top, bottom = (0, self.lines - 1) if margins is None else margins
        if self.cursor.y != bottom:
            self.cursor_down()
            return
        buffer = self.buffer
        if top == 0 and self.alt is None:
            self.history.keep(buffer[0], self.columns)
        # Only the scrolled region changes (stock pyte marks every row dirty).
        self.dirty.update(range(top, bottom + 1))
        # buffer[y] = buffer[y + 1] for each row of the region, done in C (rows are shared, not copied, exactly as
        # stock pyte does). Each row is read before its own slot is written, so no list of the rows is needed.
        buffer.update(zip(range(top, bottom), map(buffer.__getitem__, range(top + 1, bottom + 1)), strict=True))
        buffer.pop(bottom, None)

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
        self.cursor.attrs = apply_delta(self.cursor.attrs, self.graphic_rendition_delta(attrs))

    def graphic_rendition_delta(self, attrs: Sequence[int]) -> Delta:
        """What SGR `attrs` changes in any pen (it depends on screen-reverse mode only)."""
        attrs = tuple(attrs)
        if 58 in attrs:
            attrs = tuple(drop_underline_colour(attrs))
        key = (attrs, mo.DECSCNM in self.mode)
        delta = self._sgr_deltas.get(key)
        if delta is None:
            if len(self._sgr_deltas) >= _MAX_DELTAS:
                self._sgr_deltas.clear()
            delta = self._sgr_deltas[key] = sgr_delta(attrs, self.default_char)
        return delta

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
        """Resize; when rows shrink, lines above the cursor scroll into history (as xterm). A width change
        re-wraps the main screen and the scrollback (`reflows`), where stock pyte cuts rows for good."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        old_columns = self.columns
        reflowed = self.reflows and columns != old_columns
        if reflowed:
            reflow(self, columns)
            self.columns = columns  # rows scrolled off below are frozen at the new width
        # A reflowed cursor may stay just past the last column (a wrap pending): its next character wraps.
        last_x = columns if reflowed else columns - 1
        main = self.buffer if self.alt is None else self.alt.main_buffer
        if self.alt is not None:
            saved = self.alt.saved_cursor
            main_y = saved.y if saved is not None else self.cursor.y
            shift = self._shrink_rows(main, lines, main_y, keep=True)
            if saved is not None:
                saved.y = max(0, min(saved.y - shift, lines - 1))
                saved.x = min(saved.x, last_x)
            self.cursor.y -= self._shrink_rows(self.buffer, lines, self.cursor.y, keep=False)
        else:
            self.cursor.y -= self._shrink_rows(main, lines, self.cursor.y, keep=True)
        if columns < old_columns:
            for buffer in [self.buffer] if self.alt is None else [self.buffer, main]:
                if buffer is main and reflowed:
                    continue
                for line in buffer.values():
                    line.truncate(columns, old_columns)
        elif columns > old_columns:
            self.tabstops.update(range(((old_columns + 7) // 8) * 8 or 8, columns, 8))
        self.tabstops = {stop for stop in self.tabstops if stop < columns}
        self.lines, self.columns = lines, columns
        self.margins = None
        self.cursor.x = min(self.cursor.x, last_x if self.alt is None else columns - 1)
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
