"""The help screen: every key binding, grouped by where it applies."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    """A table of (where, key, what); any of escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help-body {
            width: 100; height: 90%;
            background: $surface; border: round $primary; padding: 0 1;
        }
        #help-title { text-style: bold; color: $primary; padding: 0 0 1 0; }
        DataTable { height: 1fr; background: $surface; }
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-body"):
            yield Static("Keys — every binding in clauderon", id="help-title")
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("where", "key", "what it does")
            for row in self._rows:
                table.add_row(*row)
            yield table
