"""The workbench: tabs beside the sidebar (Terminal, Files, Diff, Info, ...) for the selected session.

Panes plug in through `WORKBENCH_PANES`: one `PaneSpec` per tab. A pane is any widget built by
`factory(client)`; the workbench sets its `session` attribute (the selected `Session` or None) whenever
the selection changes, and its `active` attribute (True while its tab is shown) if it has one. The tab's
key works after the terminal's prefix key (lower case) and from the session list (upper case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from clauderon_tui.widgets.chat import ChatPane
from clauderon_tui.widgets.diff import DiffPane
from clauderon_tui.widgets.files import FilesPane
from clauderon_tui.widgets.info import InfoPane
from runtime.api.client import EngineClientProtocol
from runtime.models import Session


@dataclass(frozen=True)
class PaneSpec:
    """One workbench tab: its id, title, key, and how to build its widget (None: the app's terminal)."""

    id: str
    title: str
    key: str
    factory: Callable[[Any], Widget] | None


WORKBENCH_PANES: list[PaneSpec] = [
    PaneSpec("terminal", "Terminal", "t", None),
    PaneSpec("files", "Files", "f", FilesPane),
    PaneSpec("diff", "Diff", "d", DiffPane),
    PaneSpec("info", "Info", "i", InfoPane),
    PaneSpec("chat", "Chat", "a", ChatPane),
]
"""Every tab, in order. Add a pane with one line, e.g. `PaneSpec("chat", "Chat", "a", ChatPane)`."""


def pane_for_key(key: str) -> PaneSpec | None:
    """The tab a key shows (lower case after the prefix, upper case from the session list)."""
    return next((spec for spec in WORKBENCH_PANES if key in (spec.key, spec.key.upper())), None)


class Workbench(Vertical):
    """A `TabbedContent` with one tab per `PaneSpec`; the terminal tab holds the widget the app passes in."""

    DEFAULT_CSS = """
    Workbench {
        width: 1fr;
        height: 1fr;
        & > TabbedContent { height: 1fr; }
        & ContentSwitcher { height: 1fr; }
        & TabPane { padding: 0; height: 1fr; }
    }
    """

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
        self.panes: dict[str, Widget] = {}
        """Pane widgets by pane id."""

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="tab-terminal"):
            for spec in WORKBENCH_PANES:
                widget = self._terminal if spec.factory is None else spec.factory(self._client)
                self.panes[spec.id] = widget
                with TabPane(spec.title, id=f"tab-{spec.id}"):
                    yield widget

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    @property
    def shown(self) -> str:
        """Id of the pane in front."""
        return (self.tabs.active or "tab-terminal").removeprefix("tab-")

    def show(self, pane_id: str) -> None:
        """Bring a pane to the front."""
        if pane_id in self.panes:
            self.tabs.active = f"tab-{pane_id}"

    def watch_session(self, session: Session | None) -> None:
        for widget in self.panes.values():
            if widget is not self._terminal and hasattr(widget, "session"):
                widget.session = session

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        event.stop()
        shown = self.shown
        for pane_id, widget in self.panes.items():
            if hasattr(widget, "active"):
                widget.active = pane_id == shown
        self.post_message(self.Shown(shown))
