"""The base of dialogs with fields to type in: Tab moves on at once."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen

T = TypeVar("T")


class FieldDialog(ModalScreen[T]):
    """Tab and shift+tab are priority bindings: the focus moves before the next key is handed out, so words typed
    right after a Tab land in the next field (a plain binding lets the Tab travel up from the field first, and
    those words reach the old one)."""

    BINDINGS = [
        Binding("tab", "next_field", show=False, priority=True),
        Binding("shift+tab", "previous_field", show=False, priority=True),
    ]

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()
