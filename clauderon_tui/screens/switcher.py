"""The fuzzy session switcher: type a few letters, Enter shows that session."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from clauderon_tui.formatting import fuzzy_score
from clauderon_tui.widgets.sidebar import session_prompt
from runtime.models import Session


class SessionSwitcher(ModalScreen[str | None]):
    """Dismisses with the chosen session id, or None."""
    AUTO_FOCUS = "Input"

    DEFAULT_CSS = """
    SessionSwitcher {
        align: center top;
        #switcher { width: 70; height: auto; max-height: 70%; margin-top: 3; background: $surface;
                    border: round $primary; }
        #switcher Input { border: none; background: $panel; }
        #switcher OptionList { height: auto; max-height: 20; border: none; }
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, sessions: list[Session], now: float) -> None:
        super().__init__()
        self.sessions = sessions
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="switcher"):
            yield Input(placeholder="switch to session…", id="switch-input")
            yield OptionList(id="switch-list")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, query: str) -> None:
        scored = [(fuzzy_score(query, s.name), s) for s in self.sessions]
        ranked = sorted(((score, s) for score, s in scored if score is not None), key=lambda item: item[0])
        option_list = self.query_one(OptionList)
        option_list.clear_options()
        option_list.add_options(Option(session_prompt(s, self.now), id=s.id) for _, s in ranked)
        if ranked:
            option_list.highlighted = 0

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is not None:
            self.dismiss(option_list.get_option_at_index(option_list.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, delta: int) -> None:
        option_list = self.query_one(OptionList)
        if option_list.option_count:
            current = option_list.highlighted or 0
            option_list.highlighted = max(0, min(option_list.option_count - 1, current + delta))

    def action_cancel(self) -> None:
        self.dismiss(None)
