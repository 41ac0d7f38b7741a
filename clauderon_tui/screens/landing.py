"""Landing dialogs: open a pull request (draft or not) and merge one (method, delete the branch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, RadioButton, RadioSet, Static

from clauderon_tui.screens.field_dialog import FieldDialog
from runtime.models import Session

T = TypeVar("T")

MERGE_METHODS: tuple[str, ...] = ("squash", "merge", "rebase")
"""GitHub's merge methods, the default first."""

LANDING_CSS = """
    align: center middle;
    #dialog { width: 72; height: auto; background: $surface; border: round $accent; padding: 1 2; }
    #title { text-style: bold; padding-bottom: 1; }
    #buttons { height: auto; padding-top: 1; align-horizontal: right; }
    #buttons Button { margin-left: 2; }
"""


class SessionDialog(FieldDialog[T]):
    """A modal question about one session; escape cancels (dismisses with None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def action_cancel(self) -> None:
        self.dismiss(None)


class OpenPrScreen(SessionDialog[bool | None]):
    """Dismisses with `draft` (True for a draft pull request), or None when cancelled."""
    AUTO_FOCUS = "#cancel"  # typing never opens a pull request: tab to Open first

    DEFAULT_CSS = "OpenPrScreen {" + LANDING_CSS + "}"

    def compose(self) -> ComposeResult:
        session = self.session
        with Vertical(id="dialog"):
            yield Static(Content.from_markup("Open a pull request for [b]$name[/b]?", name=session.name), id="title")
            yield Static(Content.from_markup(
                "Pushes [b]$branch[/b] to GitHub and opens a pull request into [b]$base[/b] "
                "(an open one is reused).", branch=session.branch, base=session.base_branch,
            ))
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Draft", id="draft")
                yield Button("Open", id="open", variant="primary")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id == "draft")


@dataclass(frozen=True)
class MergeChoice:
    """How to merge: `method` (squash, merge or rebase) and whether to delete the branch on GitHub."""

    method: str = "squash"
    delete_branch: bool = False


class MergeScreen(SessionDialog[MergeChoice | None]):
    """Asks how to merge; dismisses with a `MergeChoice`, or None when cancelled."""
    AUTO_FOCUS = "RadioSet"

    DEFAULT_CSS = "MergeScreen {" + LANDING_CSS + "RadioSet { width: 100%; margin-bottom: 1; } }"

    def compose(self) -> ComposeResult:
        session = self.session
        number = f" #{session.pr['number']}" if session.pr and session.pr.get("number") is not None else ""
        with Vertical(id="dialog"):
            yield Static(Content.from_markup("Merge the pull request$number of [b]$name[/b]", number=number,
                                             name=session.name), id="title")
            with RadioSet(id="method"):
                for index, method in enumerate(MERGE_METHODS):
                    yield RadioButton(method, value=index == 0, id=f"method-{method}")
            yield Checkbox("delete the branch on GitHub", id="delete-branch")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Merge", id="merge", variant="primary")

    @property
    def choice(self) -> MergeChoice:
        """What the dialog says now."""
        pressed = self.query_one(RadioSet).pressed_button
        method = pressed.id.removeprefix("method-") if pressed is not None and pressed.id else MERGE_METHODS[0]
        return MergeChoice(method, self.query_one("#delete-branch", Checkbox).value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else self.choice)
