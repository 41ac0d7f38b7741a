"""Scrollback: rows that scrolled off the top, frozen into plain tuples the garbage collector ignores.

A live row is a dict of column -> pyte `Char` (a namedtuple) or a `RunLine` of runs, and every one of those
objects is tracked by the collector: ten thousand lines of scrollback per session made each full collection walk
millions of references (100-300 ms pauses during floods, which the app once hid by freezing the heap, leaking every
screen it discarded). A row in history never changes again, so it is kept as exact tuples of strings and
booleans (the cells' text, the ends of its attribute runs, each run's attributes), which CPython stops
tracking; a `RunLine` is already in that shape (its runs' text joined into one string), so scrolling plain
output into history costs one join. `HistoryLine` views rebuild cells only when something reads them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from pyte.screens import Char

from runtime.terminal.line import RunLine, Span, spans_of_cells

_new_tuple = tuple.__new__
_MAX_SHARED = 4096

CellAttrs = tuple[str, str, bool, bool, bool, bool, bool, bool]
"""A cell's attributes: a pyte `Char` without its text (fg, bg, bold, italics, underscore, strikethrough,
reverse, blink)."""
Packed = tuple[str | tuple[str, ...], tuple[int, ...], tuple[CellAttrs, ...], tuple[str | bool, ...], bool]
"""(cells' text: one string when every cell holds one character, exclusive end column of each run, each run's
attributes, the default cell, whether the row was soft-wrapped)."""

class _Shared(dict[Char, Any]):
    """pen -> its attributes (`rest`) or itself (`whole`) as one shared plain tuple: stored once, not once per
    row, and read in C through `map(shared.__getitem__, pens)`."""

    def __init__(self, whole: bool) -> None:
        super().__init__()
        self.whole = whole

    def __missing__(self, pen: Char) -> Any:
        if len(self) >= _MAX_SHARED:
            self.clear()
        value = self[pen] = tuple(pen) if self.whole else pen[1:]
        return value


_attrs_of = _Shared(whole=False)
_whole = _Shared(whole=True)


def freeze(row: Any, columns: int) -> Packed:
    """A live row (column -> Char, missing columns read as `row.default`) of `columns` cells, packed."""
    default = _whole[row.default]
    if row.__class__ is RunLine and row.end <= columns:
        pens: list[Any] = row.pens
        if None in pens:  # never-written gaps read as the default
            pens = [row.default if pen is None else pen for pen in pens]
        texts = row.texts
        return ("".join(texts), tuple(accumulate(map(len, texts))), tuple(map(_attrs_of.__getitem__, pens)), default,
                row.wrapped)
    width = columns
    while width and width - 1 not in row:
        width -= 1
    cells: list[str] = []
    ends: list[int] = []
    attrs: list[CellAttrs] = []
    last: CellAttrs | None = None
    for x in range(width):
        cell = tuple(row[x]) if x in row else default
        cells.append(cell[0])
        rest = cell[1:]
        if rest != last:
            if last is not None:
                ends.append(x)
            attrs.append(rest)
            last = rest
    if last is not None:
        ends.append(width)
    return tuple(cells), tuple(ends), tuple(attrs), default, bool(getattr(row, "wrapped", False))


class HistoryLine:
    """A read-only view of one packed row, read like a live one: `line[x]` is a `Char`."""

    __slots__ = ("cells", "run_ends", "run_attrs", "default", "wrapped")

    def __init__(self, packed: Packed) -> None:
        self.cells, self.run_ends, self.run_attrs, default, self.wrapped = packed
        self.default = _new_tuple(Char, default)

    def __getitem__(self, x: int) -> Char:
        if not 0 <= x < len(self.cells):
            return self.default
        return _new_tuple(Char, (self.cells[x], *self.run_attrs[bisect_right(self.run_ends, x)]))

    def __len__(self) -> int:
        return len(self.cells)

    def text(self) -> str:
        """The row's text, trailing blanks kept."""
        return "".join(self.cells)

    def chars(self, columns: int) -> list[Char]:
        """The first `columns` cells."""
        cells: list[Char] = []
        start = 0
        for end, attrs in zip(self.run_ends, self.run_attrs, strict=True):
            if start >= columns:
                break
            cells += [_new_tuple(Char, (data, *attrs)) for data in self.cells[start:min(end, columns)]]
            start = end
        cells += [self.default] * (columns - len(cells))
        return cells

    def spans(self, columns: int) -> list[Span]:
        """The first `columns` cells as rendered text runs, as `Line.spans`."""
        if not isinstance(self.cells, str):  # wide or combining characters: the cell-by-cell rules apply
            return spans_of_cells(self.chars(columns))
        spans: list[Span] = []
        start = 0
        for end, attrs in zip(self.run_ends, self.run_attrs, strict=True):
            if start >= columns:
                break
            spans.append((self.cells[start:min(end, columns)], _new_tuple(Char, (" ", *attrs))))
            start = end
        if start < columns:
            spans.append((" " * (columns - start), self.default))
        return spans


class History:
    """The scrollback of one screen, oldest first, at most `maxlen` rows."""

    def __init__(self, maxlen: int) -> None:
        self._rows: deque[Packed] = deque(maxlen=max(0, maxlen))

    @property
    def maxlen(self) -> int:
        return self._rows.maxlen or 0

    def keep(self, row: Any, columns: int) -> None:
        """Freeze a row that left the top of the screen."""
        if self._rows.maxlen:
            self._rows.append(freeze(row, columns))

    def clear(self) -> None:
        self._rows.clear()

    def rows(self) -> list[Packed]:
        """Every packed row, oldest first (for a reflow)."""
        return list(self._rows)

    def replace(self, rows: list[Packed]) -> None:
        """Hold `rows` instead (the newest `maxlen` of them)."""
        self._rows = deque(rows, maxlen=self._rows.maxlen)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[HistoryLine]:
        return map(HistoryLine, self._rows)

    def tail(self, count: int) -> list[HistoryLine]:
        """The newest `count` rows, oldest first."""
        if count <= 0:
            return []
        start = max(0, len(self._rows) - count)
        return [HistoryLine(self._rows[i]) for i in range(start, len(self._rows))]
