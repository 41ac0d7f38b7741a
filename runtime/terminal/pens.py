"""Pens (a cursor's attributes, a pyte `Char`) interned, and the pen each SGR sequence leaves each pen in.

Coloured output changes the pen every few characters, and the same few hundred pens and parameter
strings recur. Equal pens are made one object, so a row joins runs of one pen by identity, and the
transition (pen, SGR parameters) -> pen is looked up by the interned pen's id and the parameter string:
no tuple to build or hash on the hot path. An id stays valid because the interned pen is kept alive
here; everything is dropped at once when the table is full, so no id outlives its pen.

A transition is a pure function of the pen, the parameters and screen-reverse mode, so one table (`SHARED`) serves
every screen of a process: a coloured log's few hundred pens times few hundred parameter strings ran to about 90,000
transitions in 20 MB, and a table per screen cleared at 16,384 relearned one SGR sequence in three.
"""

from __future__ import annotations

from pyte.screens import Char

_MAX_TRANSITIONS = 65536


class PenTransitions:
    """Interned pens, and per pen id: SGR parameters -> the pen they lead to (one table per
    screen-reverse state, which changes what SGR 0 resets to)."""

    def __init__(self) -> None:
        self.pens: dict[Char, Char] = {}
        self.normal: dict[int, dict[str, Char]] = {}
        self.reverse: dict[int, dict[str, Char]] = {}
        self._count = 0

    def table(self, reverse: bool) -> dict[int, dict[str, Char]]:
        """pen id -> {SGR parameters: next pen}, for screen-reverse mode off or on."""
        return self.reverse if reverse else self.normal

    def learn(self, pen: Char, params: str, new: Char, reverse: bool) -> Char:
        """Remember that `params` turn `pen` into `new`; returns the interned `new`."""
        if self._count >= _MAX_TRANSITIONS:
            self.pens.clear()
            self.normal.clear()
            self.reverse.clear()
            self._count = 0
        source = self.pens.setdefault(pen, pen)
        new = self.pens.setdefault(new, new)
        self.table(reverse).setdefault(id(source), {})[params] = new
        self._count += 1
        return new


SHARED = PenTransitions()
"""The transitions every screen of this process uses (bounded by `_MAX_TRANSITIONS`)."""
