"""Serialise an `EmulatorScreen` into bytes that rebuild it in a fresh emulator.

The output is plain VT/xterm control sequences (so a real terminal shows the same picture),
with one trick for pyte's artefacts: a cell holding ``""`` that is not the right half of a
wide character (left behind when a narrow character overwrote the left half), or a cell
starting with a combining mark, cannot be produced by simply printing it. Such a cell is made
by printing a wide character followed by the cell's text and then deleting the wide
character's left half with DCH, which shifts the crafted right half into place. Rows are
rendered left to right on blank rows, so the shift only moves blanks.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from pyte import graphics as g
from pyte import modes as mo
from pyte.screens import Char, wcwidth

from runtime.terminal.colors import color_to_rgb
from runtime.terminal.history import CellAttrs
from runtime.terminal.line import Line
from runtime.terminal.screen import ALT_SCREEN_FLAGS, EmulatorScreen


class Row(Protocol):
    """A row read by column: a list of its cells (`Line.chars`) or a live screen row."""

    def __getitem__(self, x: int, /) -> Char: ...

_DEFAULT_ATTRS = Char(" ")[1:]
_FG_CODES = {name: code for code, name in {**g.FG_ANSI, **g.FG_AIXTERM}.items() if name != "default"}
_BG_CODES = {name: code for code, name in {**g.BG_ANSI, **g.BG_AIXTERM}.items() if name != "default"}
_BG_CODES.setdefault("brightmagenta", 105)
_WIDE = "\u4e00"  # Any two-column character: its right half becomes the crafted cell.
# Modes never replayed: 132-column mode resizes and screen-reverse rewrites every cell.
_SKIPPED_MODES = frozenset({mo.DECCOLM, mo.DECSCNM}) | ALT_SCREEN_FLAGS


@lru_cache(maxsize=4096)
def sgr(attrs: CellAttrs) -> str:
    """The SGR sequence selecting exactly `attrs` (a Char without its data) from any state."""
    fg, bg, bold, italics, underscore, strikethrough, reverse, blink = attrs
    parts = ["0"]
    for flag, code in ((bold, "1"), (italics, "3"), (underscore, "4"), (blink, "5"),
                       (reverse, "7"), (strikethrough, "9")):
        if flag:
            parts.append(code)
    for value, codes, base in ((fg, _FG_CODES, "38"), (bg, _BG_CODES, "48")):
        if value in codes:
            parts.append(str(codes[value]))
        else:
            rgb = color_to_rgb(value)
            if rgb is not None:
                parts.append(f"{base};2;{rgb[0]};{rgb[1]};{rgb[2]}")
    return "\x1b[" + ";".join(parts) + "m"


def _width(data: str) -> int:
    return wcwidth(data[0]) if data else 0


def _is_stub(line: Row, x: int) -> bool:
    """Whether cell x is the ordinary right half of the wide character at x-1."""
    if x == 0:
        return False
    cell, left = line[x], line[x - 1]
    return cell.data == "" and _width(left.data) == 2 and cell[1:] == left[1:]


def _is_odd(line: Row, x: int) -> bool:
    data = line[x].data
    return _width(data) not in (1, 2) and not _is_stub(line, x)


class _RowWriter:
    """Emits rows onto blank rows of a fresh screen, tracking cursor column and pen."""

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.out: list[str] = []
        self.pen: CellAttrs = _DEFAULT_ATTRS
        self.x = 0

    def set_pen(self, attrs: CellAttrs) -> None:
        if attrs != self.pen:
            self.out.append(sgr(attrs))
            self.pen = attrs

    def move(self, x: int) -> None:
        if self.x != x:
            self.out.append(f"\x1b[{x + 1}G")
            self.x = x

    def cell(self, cell: Char, x: int) -> None:
        """Print an ordinary (width 1 or 2) cell at column x."""
        self.move(x)
        self.set_pen(cell[1:])
        data = cell.data
        width = _width(data)
        if width == 2 and len(data) > 1 and x + 1 < self.columns:
            # Marks after a wide char join the cell left of the cursor: step back onto the base.
            self.out.append(f"{data[0]}\x1b[{x + 2}G{data[1:]}")
            self.x = x + 1
            return
        self.out.append(data)
        self.x = min(x + width, self.columns)

    def crafted(self, cell: Char, x: int) -> None:
        """Make an odd cell at column x <= columns-2 (wide char, its text, delete the left half)."""
        self.move(x)
        self.set_pen(cell[1:])
        self.out.append(_WIDE + cell.data + f"\x1b[{x + 1}G\x1b[P")
        self.x = x

    def row(self, line: Row) -> None:
        """Render one row, starting at column 0 of a blank row."""
        columns = self.columns
        self.x = 0
        default = Char(" ")
        end = columns
        while end and line[end - 1] == default:
            end -= 1
        if 0 < end < columns and _width(line[end - 1].data) == 2:
            end += 1  # Print the blank after a wide char explicitly, or its stub would stay.
        start_tail = end
        if end == columns:
            while start_tail > 0 and _is_odd(line, start_tail - 1):
                start_tail -= 1
        for x in range(start_tail):
            if _is_stub(line, x):
                continue
            if _is_odd(line, x):
                self.crafted(line[x], x)
            else:
                self.cell(line[x], x)
        if start_tail < end:
            self._odd_tail(line, start_tail)

    def _odd_tail(self, line: Row, start: int) -> None:
        # Odd cells up to the last column: each is made as the right half of a wide character
        # printed one column to its left, right to left; then the cell left of the run is redone.
        for x in range(self.columns - 1, max(start, 1) - 1, -1):
            left = line[x - 1]
            # A combining mark that landed on a wide char's right half: print the real wide
            # char, so nothing needs redoing afterwards.
            real_left = x == start and _width(left.data) == 2 and left[1:] == line[x][1:]
            self.move(x - 1)
            self.set_pen(line[x][1:])
            self.out.append((left.data[0] if real_left else _WIDE) + line[x].data)
            self.x = min(x + 1, self.columns)
            if real_left:
                if len(left.data) > 1:  # The wide char's own marks join it from column x.
                    self.move(x)
                    self.out.append(left.data[1:])
                return
        if start >= 1:
            left_x = start - 1
            if _is_stub(line, left_x):
                left_x -= 1
            self.cell(line[left_x], left_x)


def _position(writer: _RowWriter, screen: EmulatorScreen, buffer: dict[int, Line], x: int, y: int,
              *, origin: bool = False) -> None:
    """Put the cursor at (x, y); x == columns (pending wrap) is made by reprinting the last cell.

    `origin`: the rebuilt screen is in origin mode, so rows count from the top margin."""
    out = writer.out
    columns = screen.columns
    if origin and screen.margins is not None:
        out.append(f"\x1b[{y - screen.margins.top + 1};{min(x, columns - 1) + 1}H")
    else:
        out.append(f"\x1b[{y + 1};{min(x, columns - 1) + 1}H")
    if x >= columns:
        line = buffer[y]
        last = columns - 1
        if _is_stub(line, last):
            last -= 1
        if not _is_odd(line, last):
            out.append(f"\x1b[{last + 1}G")
            writer.set_pen(line[last][1:])
            out.append(line[last].data)


def _soft_wrap(writer: _RowWriter, row: list[Char]) -> str:
    """Go to the next row the way auto-wrap does, so the rebuilt row is soft-wrapped too (a later resize
    rejoins it): reprint the last cell to leave a wrap pending, then print a blank with auto-wrap on."""
    last = writer.columns - 1
    if _is_stub(row, last):
        last -= 1
    if _is_odd(row, last):
        return "\r\n"  # a crafted cell cannot be reprinted alone; the row stays hard-ended
    writer.move(last)
    writer.set_pen(row[last][1:])
    writer.out.append(row[last].data)
    writer.set_pen(_DEFAULT_ATTRS)
    writer.x = 0
    return "\x1b[?7h \x1b[?7l\r"


def _mode_sequences(modes: Iterable[int], enable: bool) -> list[str]:
    out = []
    for mode in sorted(modes):
        if mode in _SKIPPED_MODES:
            continue
        private = mode >= 32 and mode % 32 == 0
        number = mode >> 5 if private else mode
        out.append(f"\x1b[{'?' if private else ''}{number}{'h' if enable else 'l'}")
    return out


def _clean_osc(text: str) -> str:
    return "".join(c for c in text if c >= " " and c != "\x7f")


def encode_snapshot(screen: EmulatorScreen, scrollback_lines: int = 200) -> str:
    """Text that, fed to a fresh emulator of the same size, rebuilds `screen`.

    Rebuilds the last `scrollback_lines` lines of history (printed so that they scroll off),
    the main screen, the alternate screen on top of it if active, cell attributes, cursor
    position, visibility and pen, scroll margins, modes and the title.
    """
    writer = _RowWriter(screen.columns)
    out = writer.out
    out.append("\x1b[?7l")  # No autowrap while painting: rows end with explicit CR LF.
    alt = screen.alt
    main = alt.main_buffer if alt is not None else screen.buffer
    columns = screen.columns
    history = screen.history.tail(scrollback_lines)
    rows = history + [main[y] for y in range(screen.lines)]
    previous: list[Char] = []
    for index, line in enumerate(rows):
        if index:
            out.append(_soft_wrap(writer, previous) if rows[index - 1].wrapped else "\r\n")
        previous = line.chars(columns)  # a list: the writer reads each cell several times
        writer.row(previous)

    if alt is not None:
        saved = alt.saved_cursor
        if alt.mode == 1049 and saved is not None:
            _position(writer, screen, main, saved.x, saved.y)
            writer.set_pen(saved.attrs[1:])
        out.append(f"\x1b[?{alt.mode}h")
        for y in range(screen.lines):
            out.append(f"\x1b[{y + 1};1H")
            writer.row(screen.buffer[y].chars(columns))

    if screen.margins is not None:
        out.append(f"\x1b[{screen.margins.top + 1};{screen.margins.bottom + 1}r")
    origin = mo.DECOM in screen.mode
    if origin:
        out.append("\x1b[?6h")
    _position(writer, screen, screen.buffer, screen.cursor.x, screen.cursor.y, origin=origin)

    wanted = set(screen.mode) - {mo.DECOM}
    current = {mo.DECTCEM}
    out.extend(_mode_sequences(wanted - current, True))
    out.extend(_mode_sequences(current - wanted, False))
    if screen.title and screen.title == screen.icon_name:
        out.append(f"\x1b]0;{_clean_osc(screen.title)}\x07")
    else:
        if screen.title:
            out.append(f"\x1b]2;{_clean_osc(screen.title)}\x07")
        if screen.icon_name:
            out.append(f"\x1b]1;{_clean_osc(screen.icon_name)}\x07")
    writer.set_pen(screen.cursor.attrs[1:])
    return "".join(out)
