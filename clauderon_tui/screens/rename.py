"""Edit a session's display title and description (`e`); its name and branch stay what they are."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Static

from clauderon_tui.screens.landing import LANDING_CSS, SessionDialog
from runtime.engine.titles import MAX_DESCRIPTION, MAX_TITLE


class RenameScreen(SessionDialog[tuple[str, str] | None]):
    """Dismisses with (title, description); an empty field clears it. Escape or Cancel: None."""
    AUTO_FOCUS = "#rename-title"

    DEFAULT_CSS = "RenameScreen {" + LANDING_CSS + "Input { margin-bottom: 1; } }"

    def compose(self) -> ComposeResult:
        session = self.session
        with Vertical(id="dialog"):
            yield Static(Content.from_markup("Title of [b]$name[/b]", name=session.name), id="title")
            yield Input(session.title or "", placeholder="title (shown in the list)", max_length=MAX_TITLE,
                        id="rename-title")
            yield Input(session.description or "", placeholder="one-line description (shown in Info)",
                        max_length=MAX_DESCRIPTION, id="rename-description")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def _save(self) -> None:
        self.dismiss((self.query_one("#rename-title", Input).value,
                      self.query_one("#rename-description", Input).value))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._save()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)
