"""The workbench: tabs beside the sidebar (Terminal, Files, Diff, Info, ...) for the selected session.

Panes plug in through `WORKBENCH_PANES`: one `PaneSpec` per tab. A pane is any widget built by
`factory(client)` the first time its tab is shown (hidden tabs cost the app's start nothing); the workbench
sets its `session` attribute (the selected `Session` or None) then and whenever the selection changes, and its
`active` attribute (True while its tab is shown) if it has one. The tab's
key is the same letter everywhere: in the session list, in a tab, and after the terminal's prefix key
(`clauderon_tui.key_table` lists it with every other key).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import OptionList, TabbedContent, TabPane, Tree

from runtime.api.client import EngineClientProtocol
from runtime.models import Session


@dataclass(frozen=True)
class PaneSpec:
    """One workbench tab: its id, title, key, and how to build its widget (None: the app's terminal)."""

    id: str
    title: str
    key: str
    factory: Callable[[Any], Widget] | None


def imported(module: str, widget_class: str) -> Callable[[Any], Widget]:
    """A factory that imports its widget's module when first called: a tab never shown costs nothing."""
    def build(client: Any) -> Widget:
        widget: Widget = getattr(importlib.import_module(module), widget_class)(client)
        return widget
    return build


WORKBENCH_PANES: list[PaneSpec] = [
    PaneSpec("terminal", "Terminal", "t", None),
    PaneSpec("files", "Files", "f", imported("clauderon_tui.widgets.files", "FilesPane")),
    PaneSpec("diff", "Diff", "d", imported("clauderon_tui.widgets.diff", "DiffPane")),
    PaneSpec("info", "Info", "i", imported("clauderon_tui.widgets.info", "InfoPane")),
    PaneSpec("chat", "Chat", "c", imported("clauderon_tui.widgets.chat", "ChatPane")),
]
"""Every tab, in order. Add a pane with one line, e.g. `PaneSpec("chat", "Chat", "c", imported(module, class))`;
its key must be one no other entry of the key table uses (tests/test_tui_key_model.py checks)."""


class Workbench(Vertical):
    """A `TabbedContent` with one tab per `PaneSpec`; the terminal tab holds the widget the app passes in.

    In a tab other than the terminal (whose every key belongs to the program), the tab keys switch tabs and
    Esc goes back to the session list."""

    DEFAULT_CSS = """
    Workbench {
        width: 1fr;
        height: 1fr;
        border: round $panel;
        &:focus-within { border: round $accent; }
        & > TabbedContent { height: 1fr; }
        & ContentSwitcher { height: 1fr; }
        & TabPane { padding: 0; height: 1fr; }
    }
    """

    BINDINGS = [
        *(Binding(spec.key, f"app.show_tab('{spec.id}')", spec.title, show=False) for spec in WORKBENCH_PANES),
        Binding("escape", "back", "Back", tooltip="Back to the session list"),
        *(Binding(key, f"move('{where}')", where, show=False)
          for key, where in (("j", "down"), ("k", "up"), ("g", "first"), ("G", "last"))),
    ]
    """Tab keys, Esc, and the session list's j/k/g/G in a tab's list (the Files tree, the Diff's files)."""

    session: reactive[Session | None] = reactive(None, always_update=True)
    """The selected session, handed to every pane."""

    class Shown(Message):
        """A tab came to the front (by key, palette or click)."""

        def __init__(self, pane_id: str) -> None:
            super().__init__()
            self.pane_id = pane_id

    def __init__(self, client: EngineClientProtocol, terminal: Widget, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._client = client
        self._terminal = terminal
        self.panes: dict[str, Widget] = {"terminal": terminal}
        """Pane widgets by pane id, once built (`pane()`)."""

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="tab-terminal"):
            for spec in WORKBENCH_PANES:
                with TabPane(spec.title, id=f"tab-{spec.id}"):
                    if spec.factory is None:
                        yield self._terminal

    async def pane(self, pane_id: str) -> Widget | None:
        """The pane's widget, built and mounted in its tab the first time it is asked for."""
        if pane_id in self.panes:
            return self.panes[pane_id]
        spec = next((s for s in WORKBENCH_PANES if s.id == pane_id), None)
        if spec is None or spec.factory is None:
            return None
        widget = self.panes[pane_id] = spec.factory(self._client)
        await self.query_one(f"#tab-{pane_id}", TabPane).mount(widget)
        if hasattr(widget, "session"):
            widget.session = self.session
        if hasattr(widget, "active"):
            widget.active = self.shown == pane_id
        return widget

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    @property
    def shown(self) -> str:
        """Id of the pane in front."""
        return (self.tabs.active or "tab-terminal").removeprefix("tab-")

    async def show(self, pane_id: str) -> Widget | None:
        """Bring a pane to the front (built first, the first time); its widget."""
        widget = await self.pane(pane_id)
        if widget is not None:
            self.tabs.active = f"tab-{pane_id}"
        return widget

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc in the terminal is the agent's (its interrupt): no "Back" while the terminal has the keys."""
        focused = self.app.focused
        in_terminal = focused is not None and self._terminal in focused.ancestors_with_self
        return not (action == "back" and in_terminal)

    def action_move(self, where: str) -> None:
        """j/k/g/G in the focused list of a tab, as in the session list."""
        focused = self.app.focused
        if isinstance(focused, OptionList):
            {"down": focused.action_cursor_down, "up": focused.action_cursor_up, "first": focused.action_first,
             "last": focused.action_last}[where]()
        elif isinstance(focused, Tree):
            if where in ("down", "up"):
                (focused.action_cursor_down if where == "down" else focused.action_cursor_up)()
            else:
                focused.cursor_line = 0 if where == "first" else focused.last_line

    async def action_back(self) -> None:
        """Back to the session list."""
        await self.app.run_action("focus_sidebar")

    def watch_session(self, session: Session | None) -> None:
        for widget in self.panes.values():
            if widget is not self._terminal and hasattr(widget, "session"):
                widget.session = session

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        event.stop()
        shown = self.shown
        await self.pane(shown)  # a tab clicked: built now
        for pane_id, widget in self.panes.items():
            if hasattr(widget, "active"):
                widget.active = pane_id == shown
        self.post_message(self.Shown(shown))
