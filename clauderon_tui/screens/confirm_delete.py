"""Confirm deleting a session: says what is kept, shows the engine's refusal and offers force."""

from __future__ import annotations

from typing import Any, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from runtime.api.client import EngineClientProtocol
from runtime.errors import ClauderonError
from runtime.models import Session


class SessionDeleter(Protocol):
    """The one engine call this dialog makes."""

    async def delete_session(self, ref: str, force: bool = False) -> dict[str, Any]: ...


class ConfirmDeleteScreen(ModalScreen[dict[str, Any] | None]):
    """Dismisses with the engine's answer (`branch_kept`, `reason`) once deleted, or None when cancelled."""
    AUTO_FOCUS = "#cancel"

    DEFAULT_CSS = """
    ConfirmDeleteScreen {
        align: center middle;
        #dialog { width: 72; height: auto; background: $surface; border: round $error; padding: 1 2; }
        #title { text-style: bold; padding-bottom: 1; }
        #error { color: $error; padding-top: 1; height: auto; }
        #error.-hidden { display: none; }
        #buttons { height: auto; padding-top: 1; align-horizontal: right; }
        #buttons Button { margin-left: 2; }
        #force.-hidden { display: none; }
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, client: EngineClientProtocol, session: Session) -> None:
        super().__init__()
        self.client = client
        self.session = session

    def compose(self) -> ComposeResult:
        session = self.session
        with Vertical(id="dialog"):
            yield Static(Content.from_markup("Delete session [b]$name[/b]?", name=session.name), id="title")
            yield Static(Content.from_markup(
                "The container and the worktree go. The branch [b]$branch[/b] is kept if it has commits "
                "beyond [b]$base[/b]; a worktree with uncommitted changes is refused unless you force it.",
                branch=session.branch, base=session.base_branch,
            ))
            yield Static(id="error", classes="-hidden")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Force delete", id="force", variant="error", classes="-hidden")
                yield Button("Delete", id="delete", variant="error")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#delete")
    def _delete(self) -> None:
        self._run_delete(force=False)

    @on(Button.Pressed, "#force")
    def _force(self) -> None:
        self._run_delete(force=True)

    @work(exclusive=True, group="delete")
    async def _run_delete(self, force: bool) -> None:
        for button in self.query(Button):
            button.disabled = True
        try:
            result = await self.client.delete_session(self.session.id, force=force)
        except Exception as exc:  # shown in the dialog, never raised
            error = self.query_one("#error", Static)
            message = str(exc) if isinstance(exc, ClauderonError) else f"{exc.__class__.__name__}: {exc}"
            error.update(Content.from_markup("[b]Refused:[/b] $error", error=message))
            error.remove_class("-hidden")
            for button in self.query(Button):
                button.disabled = False
            if not force:
                self.query_one("#force", Button).remove_class("-hidden")
            return
        self.dismiss(result)
