"""Screen rows: runs of text with one pen each, expanded to pyte's cells only when something needs cells.

pyte keeps a row as a dict of column -> `Char` (a namedtuple per cell). Most output is appended text, so a
fresh row is a `RunLine`: each run's text with the pen (the cursor's attributes, a `Char`) it was drawn with,
or a gap of columns nothing has written (they read as the row's default, exactly as a missing dict key does).
Drawing narrow text, erasing and scrolling work on runs; anything else (a wide or combining character, an
insert or delete of characters, a pyte method reaching into the dict) first turns the row into a plain
`Line` in place (`expand`), so every reference stays valid and the proven cell code takes over.

Both classes are dicts: a `RunLine` read as a dict (`line[x]`, iteration, `pop`...) behaves like the `Line` it
expands to. `wrapped` is set when the cursor auto-wraps from the last column to the next row (a soft wrap,
for reflowing on resize), and cleared when the whole row is erased.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from typing import Any

from pyte.screens import Char, StaticDefaultDict, wcwidth

_new_tuple = tuple.__new__
_MAX_GLYPH_CACHES = 512
_MAX_GLYPHS = 4096
_MAX_CHECKED = 65536

Span = tuple[str, Char]
"""Rendered text and the pen it is shown with (the `Char`'s text is not part of the style)."""


class Glyphs(dict[str, Char]):
    """char -> Char for one pen; cells are immutable so rows (and screens) share them, which keeps
    allocations and garbage-collector work down for repetitive output."""

    __slots__ = ("rest",)

    def __init__(self, pen: Char) -> None:
        super().__init__()
        self.rest = tuple(pen)[1:]

    def __missing__(self, char: str) -> Char:
        if len(self) >= _MAX_GLYPHS:  # CJK text could otherwise grow one cache without bound.
            self.clear()
        # tuple.__new__ skips namedtuple._replace's keyword handling (3x faster per cell).
        glyph = self[char] = _new_tuple(Char, (char, *self.rest))
        return glyph


_glyph_caches: dict[Char, Glyphs] = {}


def glyphs_for(pen: Char) -> Glyphs:
    """The shared char -> Char cache of one pen."""
    glyphs = _glyph_caches.get(pen)
    if glyphs is None:
        if len(_glyph_caches) >= _MAX_GLYPH_CACHES:
            _glyph_caches.clear()
        glyphs = _glyph_caches[pen] = Glyphs(pen)
    return glyphs


_narrow: set[str] = set()
_checked: set[str] = set()


def is_narrow(text: str) -> bool:
    """Whether every character of `text` takes exactly one column (so it is drawn as one cell each)."""
    if _narrow.issuperset(text):
        return True
    new = set(text).difference(_checked)
    if not new:
        return False
    if len(_checked) > _MAX_CHECKED:  # a program printing every code point must not grow these forever
        _checked.clear()
        _narrow.clear()
    _checked.update(new)
    _narrow.update(char for char in new if wcwidth(char) == 1)
    return _narrow.issuperset(text)


class Line(StaticDefaultDict[int, Char]):
    """A row as pyte cells: column -> `Char`, missing columns read as `default`."""

    __slots__ = ("wrapped", "texts", "pens", "end")
    wrapped: bool
    texts: list[str]
    pens: list[Char | None]
    end: int

    def __init__(self, default: Char) -> None:
        super().__init__(default)
        self.wrapped = False

    def chars(self, columns: int) -> list[Char]:
        """The first `columns` cells."""
        return [self[x] for x in range(columns)]

    def spans(self, columns: int) -> list[Span]:
        """The first `columns` cells as rendered text runs (a wide character once, its right half skipped)."""
        return spans_of_cells(self.chars(columns))

    def text(self, columns: int) -> str:
        """The first `columns` cells' text (wide characters once)."""
        return "".join(cell.data for cell in self.chars(columns))

    def truncate(self, columns: int, old_columns: int) -> None:
        """Forget the cells in columns..old_columns-1 (the screen got narrower)."""
        for x in range(columns, old_columns):
            self.pop(x, None)

    def blank(self, pen: Char) -> None:
        """Every cell written so far becomes a blank of `pen` (ED: cells never written stay so)."""
        for x in self:
            self[x] = pen

    def fill(self, start: int, stop: int, pen: Char) -> None:
        """Columns start..stop-1 become blanks of `pen` (EL, ECH)."""
        for x in range(start, stop):
            self[x] = pen


def spans_of_cells(cells: list[Char]) -> list[Span]:
    """Cells as rendered text runs: consecutive cells with equal attributes joined, "" cells skipped."""
    spans: list[Span] = []
    text: list[str] = []
    pen: Char | None = None
    rest: tuple[Any, ...] | None = None
    for cell in cells:
        data = cell.data
        if not data:  # the right half of a wide character
            continue
        cell_rest = cell[1:]
        if cell_rest != rest:
            if text and pen is not None:
                spans.append(("".join(text), pen))
            text, pen, rest = [], cell, cell_rest
        text.append(data)
    if text and pen is not None:
        spans.append(("".join(text), pen))
    return spans


class RunLine(Line):
    """A row as runs: `texts[i]` (one column per character) drawn with `pens[i]`, or never written when
    `pens[i]` is None, from column 0 to `end`; columns from `end` on were never written."""

    __slots__ = ()

    def __init__(self, default: Char) -> None:
        super().__init__(default)
        self.texts = []
        self.pens = []
        self.end = 0

    # -- drawing on runs -------------------------------------------------------------------------------

    def write(self, x: int, text: str, pen: Char) -> None:
        """Draw narrow `text` from column x with `pen`."""
        end = self.end
        if x == end:  # appending: by far the commonest case
            pens = self.pens
            if pens and pens[-1] is pen:
                self.texts[-1] += text
            else:
                self.texts.append(text)
                pens.append(pen)
            self.end = x + len(text)
        elif x > end:
            self.texts += (" " * (x - end), text)
            self.pens += (None, pen)
            self.end = x + len(text)
        else:
            self._splice(x, text, pen)

    def _splice(self, start: int, text: str, pen: Char | None) -> None:
        """Replace columns start..start+len(text)-1 with one run (start < end, text not empty)."""
        stop = start + len(text)
        texts: list[str] = []
        pens: list[Char | None] = []
        placed = False
        x = 0
        for old, old_pen in zip(self.texts, self.pens, strict=True):
            after = x + len(old)
            if after <= start or x >= stop:
                texts.append(old)
                pens.append(old_pen)
            else:
                if x < start:
                    texts.append(old[:start - x])
                    pens.append(old_pen)
                if not placed:
                    texts.append(text)
                    pens.append(pen)
                    placed = True
                if after > stop:
                    texts.append(old[stop - x:])
                    pens.append(old_pen)
            x = after
        self.texts, self.pens = texts, pens
        self.end = max(x, stop)

    def truncate(self, columns: int, old_columns: int) -> None:
        if self.end > columns:
            self._cut(columns)

    def _cut(self, columns: int) -> None:
        """Keep columns 0..columns-1 only (and no trailing gap)."""
        texts, pens = self.texts, self.pens
        x = 0
        for index, text in enumerate(texts):
            if x + len(text) >= columns:
                texts[index] = text[:columns - x]
                del texts[index + 1:]
                del pens[index + 1:]
                break
            x += len(text)
        while texts and (pens[-1] is None or not texts[-1]):
            texts.pop()
            pens.pop()
        self.end = sum(map(len, texts))

    def blank(self, pen: Char) -> None:
        if pen.data != " ":  # never so for a cursor's pen; keep pyte's exact result if it were
            super().blank(pen)
            return
        self.texts = [" " * len(text) for text in self.texts]
        self.pens = [None if old is None else pen for old in self.pens]

    def fill(self, start: int, stop: int, pen: Char) -> None:
        if pen.data != " " or start < 0 or stop <= start:
            super().fill(start, stop, pen)
            return
        if start == 0 and stop >= self.end:
            self.texts, self.pens, self.end = [" " * stop], [pen], stop
        else:
            self.write(start, " " * (stop - start), pen)

    # -- reading -------------------------------------------------------------------------------------

    def __getitem__(self, x: int) -> Char:
        if 0 <= x < self.end:
            start = 0
            for text, pen in zip(self.texts, self.pens, strict=True):
                after = start + len(text)
                if x < after:
                    return self.default if pen is None else glyphs_for(pen)[text[x - start]]
                start = after
        return self.default

    def chars(self, columns: int) -> list[Char]:
        cells: list[Char] = []
        default = self.default
        for text, pen in zip(self.texts, self.pens, strict=True):
            if pen is None:
                cells += [default] * len(text)
            else:
                cells += map(glyphs_for(pen).__getitem__, text)
        del cells[columns:]
        cells += [default] * (columns - len(cells))
        return cells

    def spans(self, columns: int) -> list[Span]:
        spans: list[Span] = []
        default = self.default
        x = 0
        for text, pen in zip(self.texts, self.pens, strict=True):
            if x >= columns:
                break
            if x + len(text) > columns:
                text = text[:columns - x]
            x += len(text)
            spans.append((text, default if pen is None else pen))
        if x < columns:
            spans.append((" " * (columns - x), default))
        return spans

    def text(self, columns: int) -> str:
        text = "".join(self.texts)[:columns]
        return text + " " * (columns - len(text))

    def run_ends(self) -> tuple[int, ...]:
        """The exclusive end column of each run."""
        return tuple(accumulate(map(len, self.texts)))

    # -- becoming cells ------------------------------------------------------------------------------

    def expand(self) -> None:
        """Become a `Line` of cells in place (never-written columns stay missing)."""
        x = 0
        texts, pens = self.texts, self.pens
        self.__class__ = Line  # type: ignore[assignment]
        for text, pen in zip(texts, pens, strict=True):
            if pen is not None:
                dict.update(self, zip(range(x, x + len(text)), map(glyphs_for(pen).__getitem__, text), strict=False))
            x += len(text)
        del self.texts, self.pens, self.end


def _expanding(name: str) -> Callable[..., Any]:
    method = getattr(dict, name)

    def expand_then(self: RunLine, *args: Any, **kwargs: Any) -> Any:
        self.expand()
        return method(self, *args, **kwargs)

    expand_then.__name__ = name
    expand_then.__doc__ = f"Expand to cells, then `dict.{name}`."
    return expand_then


# Every other dict operation sees the row as cells: pyte's own methods (and anything else) stay correct.
for _name in ("__setitem__", "__delitem__", "__contains__", "__iter__", "__len__", "__eq__", "__ne__",
              "__repr__", "__reversed__", "__or__", "__ior__", "get", "pop", "popitem", "setdefault",
              "update", "clear", "keys", "values", "items", "copy"):
    setattr(RunLine, _name, _expanding(_name))

