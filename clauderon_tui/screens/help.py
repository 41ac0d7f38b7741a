"""The help screen: the focused pane's keys first, then the global ones and the other panes', on one screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from clauderon_tui.help_text import Section

KEY_WIDTH = 10
"""Cells for the keys column."""


def section_text(sections: list[Section]) -> Content:
    """Headings and aligned (keys, what) rows; values, never markup (`[` is a key here)."""
    lines: list[Content] = []
    for heading, rows in sections:
        if lines:
            lines.append(Content(""))
        lines.append(Content.from_markup("[b $primary]$heading[/]", heading=heading))
        for keys, what in rows:
            lines.append(Content.from_markup("[b $accent]$keys[/] $what", keys=keys.ljust(KEY_WIDTH), what=what))
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    """Two columns: the focused pane's sections on the left, "Everywhere" and the rest on the right; escape, q
    or ? closes."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help-body {
            width: 100%; max-width: 130; height: auto; max-height: 100%;
            background: $surface; border: round $primary; padding: 0 1;
        }
        #help-title { text-style: bold; color: $primary; padding: 0 0 1 0; }
        #help-columns { height: auto; }
        .help-column { width: 1fr; height: auto; padding-right: 2; }
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc"),
    ]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        split = next((i for i, (heading, _) in enumerate(self.sections) if heading == "Everywhere"), 1)
        left, right = self.sections[:split], self.sections[split:]
        with Vertical(id="help-body"):
            yield Static(f"Keys — {self.sections[0][0]} first (Esc closes; ctrl+p lists every action)",
                         id="help-title", markup=False)
            with Horizontal(id="help-columns"):
                yield Static(section_text(left), classes="help-column")
                yield Static(section_text(right), classes="help-column")

    def text(self) -> str:
        """Everything the screen says, as plain text (for tests and screen readers)."""
        return "\n".join(f"{heading}\n" + "\n".join(f"{k} {w}" for k, w in rows) for heading, rows in self.sections)
