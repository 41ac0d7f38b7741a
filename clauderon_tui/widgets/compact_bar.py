"""The one-line session bar that stands in for the sidebar on narrow screens (a phone's browser)."""

from __future__ import annotations

from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from runtime.models import Session


class CompactBar(Static):
    """The shown session and a tap target that opens the session switcher; hidden on wide screens."""

    DEFAULT_CSS = """
    CompactBar {
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $foreground;
    }
    CompactBar:hover { background: $primary 30%; }
    """

    session: reactive[Session | None] = reactive(None)
    """The session the terminal pane shows."""
    count: reactive[int] = reactive(0)
    """How many sessions the switcher offers."""

    class OpenSwitcher(Message):
        """The bar was tapped or clicked: open the session switcher."""

    def render(self) -> Content:
        button = Content.from_markup("[b reverse $primary] ☰ sessions ($count) [/]", count=str(self.count))
        if self.session is None:
            shown = Content.from_markup("[$text-muted]none selected[/]")
        else:
            shown = Content.from_markup("[b]$name[/] [$text-muted]$status[/]", name=self.session.name,
                                        status=str(self.session.status))
        return Content(" ").join([button, shown])

    def on_click(self) -> None:
        self.post_message(self.OpenSwitcher())
