"""Emulator rows as Textual Strips: pyte cells to rich segments, colours 0-15 from the theme's palette."""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from runtime.terminal.colors import color_ansi_index, color_to_rich


def terminal_colour(value: Any, palette: tuple[str, ...]) -> Color | None:
    """A pyte colour value as a rich Color, ANSI 0-15 taken from the theme's palette; None for the default."""
    if isinstance(value, int):
        return Color.parse(palette[value]) if value < 16 else Color.from_ansi(value)
    index = color_ansi_index(value)
    if index is not None:
        return Color.parse(palette[index])
    name = color_to_rich(value)
    return None if name is None else Color.parse(name)


class RowPainter:
    """Turns pyte rows into Strips, caching one rich Style per distinct cell attribute set."""

    def __init__(self, palette: tuple[str, ...]) -> None:
        self.palette = palette
        self._styles: dict[tuple[Any, ...], Style] = {}

    def style(self, char: Any) -> Style:
        """The rich Style of one pyte Char."""
        key = (char.fg, char.bg, char.bold, char.italics, char.underscore, char.strikethrough, char.reverse)
        style = self._styles.get(key)
        if style is None:
            style = Style(color=terminal_colour(char.fg, self.palette), bgcolor=terminal_colour(char.bg, self.palette),
                          bold=char.bold or None, italic=char.italics or None, underline=char.underscore or None,
                          strike=char.strikethrough or None, reverse=char.reverse or None)
            self._styles[key] = style
        return style

    def strip(self, line: Any, cols: int) -> Strip:
        """One row as a Strip of `cols` cells: a screen or history row (from its runs), or a list of pyte `Char`s."""
        if not isinstance(line, list):
            spans: list[Segment] = []
            for data, pen in line.spans(cols):
                style = self.style(pen)
                if spans and spans[-1].style is style:
                    spans[-1] = Segment(spans[-1].text + data, style)
                else:
                    spans.append(Segment(data, style))
            return Strip(spans).adjust_cell_length(cols)
        segments: list[Segment] = []
        text: list[str] = []
        current: Style | None = None
        for x in range(min(cols, len(line))):
            char = line[x]
            data = char.data
            if data == "":  # the right half of a wide character
                continue
            style = self.style(char)
            if style is not current:
                if text:
                    segments.append(Segment("".join(text), current))
                text, current = [], style
            text.append(data)
        if text:
            segments.append(Segment("".join(text), current))
        return Strip(segments).adjust_cell_length(cols)
