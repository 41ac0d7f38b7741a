"""A yes/no question about one session, for actions that interrupt its agent or lose state."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Static

from clauderon_tui.screens.landing import LANDING_CSS, SessionDialog
from runtime.models import Session


class ConfirmScreen(SessionDialog[bool | None]):
    """Dismisses with True when the person confirms; escape or Cancel dismiss with None."""

    DEFAULT_CSS = "ConfirmScreen {" + LANDING_CSS + "}"

    def __init__(self, session: Session, title: str, body: str, confirm: str) -> None:
        super().__init__(session)
        self._question, self._explanation, self._confirm_label = title, body, confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Content(self._question), id="title")
            yield Static(Content(self._explanation))
            yield Static(Content.from_markup("[$text-muted]Esc cancels · tab then Enter: $label[/]",
                                             label=self._confirm_label), id="confirm-hint")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self._confirm_label, id="confirm", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # no typed key confirms: tab to the action, then Enter

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(True if event.button.id == "confirm" else None)
