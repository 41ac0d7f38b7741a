"""Reflow: when the width changes, soft-wrapped rows are rejoined and wrapped again at the new width (as xterm and
tmux do), in the scrollback and on the main screen, so narrowing then widening loses nothing.

A logical line is a run of rows each soft-wrapped into the next (`wrapped`, set by auto-wrap). A line of one row
that fits keeps its objects, so a resize is one pass over the scrollback that rebuilds only long or wrapped lines.
Narrow text is split as strings; a line holding wide or combining characters goes cell by cell and never splits a
wide character (its row ends one column short, as where the program's own auto-wrap put it).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Any

from pyte.screens import Char, Cursor, wcwidth

from runtime.terminal.history import CellAttrs, HistoryLine, Packed, freeze
from runtime.terminal.line import Line, RunLine

Row = Any
"""A live row (`Line` or `RunLine`) or a packed scrollback row (a tuple)."""
Runs = list[tuple[str, CellAttrs]]

_new_tuple = tuple.__new__
_pens: dict[CellAttrs, Char] = {}


def _pen(attrs: CellAttrs) -> Char:
    """One shared pen per attribute set (a row of runs joins equal pens by identity)."""
    pen = _pens.get(attrs)
    if pen is None:
        if len(_pens) >= 4096:
            _pens.clear()
        pen = _pens[attrs] = _new_tuple(Char, (" ", *attrs))
    return pen


# -- reading a row, packed or live -------------------------------------------------------------------------

def _wrapped(row: Row) -> bool:
    return bool(row[4]) if isinstance(row, tuple) else row.wrapped


def _default(row: Row) -> Char:
    return _new_tuple(Char, row[3]) if isinstance(row, tuple) else row.default


def _extent(row: Row) -> int:
    """Columns written (the text a row holds; blanks never written after it do not count)."""
    if isinstance(row, tuple):
        return len(row[0])
    if row.__class__ is RunLine:
        return int(row.end)
    return max(dict.keys(row), default=-1) + 1


def _runs(row: Row) -> Runs | None:
    """The row's text as (text, attributes) runs, or None when it holds anything but narrow characters."""
    if isinstance(row, tuple):
        text = row[0]
        if not isinstance(text, str):
            return None
        return [(text[start:end], attrs) for start, end, attrs in zip((0, *row[1]), row[1], row[2], strict=False)]
    if row.__class__ is RunLine:
        default = row.default[1:]
        return [(text, default if pen is None else pen[1:]) for text, pen in zip(row.texts, row.pens, strict=True)]
    cells = row.chars(_extent(row))
    if not all(len(cell.data) == 1 and wcwidth(cell.data) == 1 for cell in cells):
        return None
    return [(cell.data, cell[1:]) for cell in cells]


def _cells(row: Row) -> list[Char]:
    if isinstance(row, tuple):
        return HistoryLine(row).chars(len(row[0]))
    return list(row.chars(_extent(row)))


# -- splitting at the new width ----------------------------------------------------------------------------

def _split_runs(runs: Runs, columns: int) -> tuple[list[Runs], list[int]]:
    """Rows of at most `columns` cells, and the content index each row starts at."""
    rows: list[Runs] = [[]]
    x = 0
    for text, attrs in runs:
        while text:
            if x == columns:
                rows.append([])
                x = 0
            take = text[:columns - x]
            row = rows[-1]
            if row and row[-1][1] == attrs:
                row[-1] = (row[-1][0] + take, attrs)
            else:
                row.append((take, attrs))
            x += len(take)
            text = text[len(take):]
    return rows, [index * columns for index in range(len(rows))]


def _split_cells(cells: list[Char], columns: int) -> tuple[list[list[Char]], list[int]]:
    """As `_split_runs`, cell by cell: a wide character (with its empty right half) is never split."""
    rows: list[list[Char]] = [[]]
    starts = [0]
    x = 0
    i = 0
    while i < len(cells):
        wide = i + 1 < len(cells) and cells[i + 1].data == "" and wcwidth(cells[i].data[:1]) == 2
        width = 2 if wide else 1
        if x + width > columns and x:
            rows.append([])
            starts.append(i)
            x = 0
        rows[-1] += cells[i:i + width]
        x += width
        i += width
    return rows, starts


def _trim(content: Any, default: Char, narrow: bool) -> None:
    """Drop the trailing blanks of the default colours (what a terminal shows after the text anyway)."""
    if narrow:
        blank = default[1:]
        while content and content[-1][1] == blank:
            text = content[-1][0].rstrip(" ")
            if text:
                content[-1] = (text, blank)
                return
            content.pop()
    else:
        while content and content[-1] == default:
            content.pop()


def _live_row(content: Any, default: Char, narrow: bool, wrapped: bool, runs: bool = True) -> Line:
    """A screen row; `runs` False (a screen that keeps cells, `line_class = Line`) expands a narrow one."""
    row: Line
    if narrow:
        row = RunLine(default)
        row.texts = [text for text, _ in content]
        row.pens = [_pen(attrs) for _, attrs in content]
        row.end = sum(map(len, row.texts))
        if not runs:
            row.expand()
    else:
        row = Line(default)
        dict.update(row, enumerate(content))
    row.wrapped = wrapped
    return row


def _packed_row(content: Any, default: Char, narrow: bool, wrapped: bool, columns: int) -> Packed:
    if narrow:
        texts = [text for text, _ in content]
        return ("".join(texts), tuple(accumulate(map(len, texts))), tuple(attrs for _, attrs in content),
                tuple(default), wrapped)
    return freeze(_live_row(content, default, narrow, wrapped), columns)


class _LogicalLine:
    """The rows of one logical line joined into one content, ready to be wrapped at another width."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.default = _default(rows[-1])
        self.wrapped_at_end = _wrapped(rows[-1])
        parts = [_runs(row) for row in rows]
        self.narrow = all(part is not None for part in parts)
        self.content: Any = ([run for part in parts for run in part] if self.narrow  # type: ignore[union-attr]
                             else [cell for row in rows for cell in _cells(row)])
        _trim(self.content, self.default, self.narrow)

    def offset_of(self, index: int, x: int) -> int:
        """The content index of column x of the line's row `index`."""
        return sum(_extent(row) for row in self.rows[:index]) + x

    def _keep_blanks_before(self, offset: int) -> None:
        """Put back the trailing blanks `_trim` dropped before the cursor (a prompt's space): text typed next
        follows them, as it would have without the resize."""
        if self.narrow:
            missing = offset - sum(len(text) for text, _ in self.content)
            if missing > 0:
                self.content.append((" " * missing, self.default[1:]))
        else:
            self.content += [self.default] * (offset - len(self.content))

    def wrap(self, columns: int, cursor_offset: int | None = None,
             pending: bool = False) -> tuple[list[Any], tuple[int, int] | None]:
        """The new rows' contents, and the cursor's (row, x) among them when it is on this line.

        `pending`: the cursor sat past the last column (a wrap pending), and stays so if it ends a row."""
        if cursor_offset is not None:
            self._keep_blanks_before(min(cursor_offset, self.offset_of(len(self.rows), 0)))
        split = _split_runs if self.narrow else _split_cells
        rows, starts = split(self.content, columns)
        if cursor_offset is None:
            return rows, None
        target = cursor_offset - 1 if pending and cursor_offset else cursor_offset
        index = bisect_right(starts, target) - 1
        x = target - starts[index]
        if x >= columns:  # past the text: the cursor keeps wrapping at the new width
            index += x // columns
            x %= columns
        if pending and cursor_offset:
            x += 1
        rows += [[] for _ in range(index + 1 - len(rows))]
        return rows, (index, x)


def _logical_lines(rows: list[Row], packed: bool = False) -> list[list[Row]]:
    """Rows grouped into logical lines (the last group ends with the last row, wrapped or not).
    `packed`: every row is a packed one (the scrollback), read without a type check."""
    groups: list[list[Row]] = []
    current: list[Row] = []
    for row in rows:
        current.append(row)
        if not (row[4] if packed else _wrapped(row)):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _rewrapped_history(history: list[Packed], columns: int) -> list[Packed]:
    """Scrollback rows (ending a logical line) wrapped again at `columns`."""
    rows: list[Packed] = []
    for group in _logical_lines(history, packed=True):
        if len(group) == 1 and len(group[0][0]) <= columns:  # most of a long scrollback: kept as it is
            rows.append(group[0])
            continue
        line = _LogicalLine(group)
        contents, _ = line.wrap(columns)
        rows += [_packed_row(content, line.default, line.narrow, index < len(contents) - 1, columns)
                 for index, content in enumerate(contents)]
    return rows


def reflow(screen: Any, columns: int) -> None:
    """Wrap the scrollback and the main screen of `screen` (an `EmulatorScreen` still `screen.columns` wide)
    again at `columns`, moving the main screen's cursor with its text. Rows the screen no longer holds scroll
    into the scrollback; the screen never takes rows back from it."""
    alt = screen.alt
    buffer = alt.main_buffer if alt is not None else screen.buffer
    cursor: Cursor | None = screen.cursor if alt is None else alt.saved_cursor
    history: list[Packed] = screen.history.rows()
    carried = len(history)
    while carried and history[carried - 1][4]:  # the screen's first line began in the scrollback
        carried -= 1

    new_history = _rewrapped_history(history[:carried], columns)
    last = max((y for y, row in buffer.items() if _extent(row)), default=-1)
    if cursor is not None:
        last = max(last, cursor.y)
    screen_rows: list[Row] = history[carried:] + [buffer[y] for y in range(last + 1)]
    cursor_at = len(history) - carried + cursor.y if cursor is not None else None
    new_rows: list[Line] = []
    new_cursor: tuple[int, int] | None = None
    first = 0
    for group in _logical_lines(screen_rows):
        here = cursor_at is not None and first <= cursor_at < first + len(group)
        if len(group) == 1 and not isinstance(group[0], tuple) and _extent(group[0]) <= columns:
            if here:
                new_cursor = (len(new_rows), min(cursor.x, columns))  # type: ignore[union-attr]
            new_rows.append(group[0])
        else:
            line = _LogicalLine(group)
            offset = line.offset_of(cursor_at - first, cursor.x) if here else None  # type: ignore[operator,union-attr]
            pending = here and cursor.x >= screen.columns  # type: ignore[union-attr]
            contents, placed = line.wrap(columns, offset, pending)
            if placed is not None:
                new_cursor = (len(new_rows) + placed[0], placed[1])
            new_rows += [_live_row(content, line.default, line.narrow,
                                   index < len(contents) - 1 or line.wrapped_at_end, screen.line_class is RunLine)
                         for index, content in enumerate(contents)]
        first += len(group)

    overflow = max(0, len(new_rows) - screen.lines)
    new_history += [freeze(row, columns) for row in new_rows[:overflow]]
    screen.history.replace(new_history)
    buffer.clear()
    buffer.update(enumerate(new_rows[overflow:]))
    if cursor is not None and new_cursor is not None:
        cursor.y = max(0, new_cursor[0] - overflow)
        cursor.x = new_cursor[1]
