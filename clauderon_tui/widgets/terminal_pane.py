"""The right-hand side: a title line for the selected session, its terminal, or why there is none."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from clauderon_tui.formatting import AGENT_WORDS, STATUS_GLYPHS
from clauderon_tui.key_table import prefix_hint
from clauderon_tui.widgets.terminal import TerminalView
from runtime.models import Session, Status

PREFIX_HINT = prefix_hint()
"""What the keys after the prefix do: substituted into the title as a value, never parsed as markup (Rich
markup would take `[ scroll` for a tag)."""


class TerminalPane(Vertical):
    """Title line (session, branch, access mode, prefix/scroll indicators) over the `TerminalView`."""

    DEFAULT_CSS = """
    TerminalPane {
        width: 1fr;
        height: 1fr;
        #pane-title { height: 1; padding: 0 1; background: $panel; }
        #pane-title.-focused { background: $primary 30%; }
        #pane-message { height: auto; padding: 1 2; color: $text-muted; }
        #pane-message.-error { color: $error; }
        #pane-message.-hidden { display: none; }
    }
    """

    session: reactive[Session | None] = reactive(None, always_update=True)
    """The selected session (None: nothing selected)."""
    message: reactive[str] = reactive("")
    """Why no terminal shows (not running, console error); empty when it does."""
    message_is_error: reactive[bool] = reactive(False)

    def __init__(self, *, prefix_key: str, theme_name: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prefix_key = prefix_key
        self._theme_name = theme_name

    def compose(self) -> ComposeResult:
        yield Static(id="pane-title")
        yield Static(id="pane-message", classes="-hidden")
        yield TerminalView(prefix_key=self._prefix_key, theme_name=self._theme_name, id="terminal")

    def on_mount(self) -> None:
        terminal = self.terminal
        for name in ("prefix_pending", "scroll_mode", "selecting", "has_focus"):
            self.watch(terminal, name, self._update_title, init=False)
        self._update_title()

    @property
    def terminal(self) -> TerminalView:
        return self.query_one(TerminalView)

    def watch_session(self) -> None:
        self._update_title()

    def watch_message(self, message: str) -> None:
        widget = self.query_one("#pane-message", Static)
        widget.update(message)
        widget.set_class(not message, "-hidden")

    def watch_message_is_error(self, is_error: bool) -> None:
        self.query_one("#pane-message", Static).set_class(is_error, "-error")

    def _update_title(self, *_: object) -> None:
        if not self.is_mounted:
            return
        title = self.query_one("#pane-title", Static)
        session = self.session
        terminal = self.terminal
        title.set_class(terminal.has_focus, "-focused")
        if session is None:
            title.update("")
            return
        glyph, colour = STATUS_GLYPHS[session.status]
        word, word_colour = AGENT_WORDS[session.agent_status]
        parts = [Content.from_markup(f"[{colour}]{glyph}[/] [b]$name[/b]", name=session.name)]
        if terminal.prefix_pending:  # the keys' hint needs the room more than the status and branch then
            parts.append(Content.from_markup("[reverse b $warning] PREFIX [/] [$text-muted]$hint[/]", hint=PREFIX_HINT))
            title.update(Content("  ").join(parts))
            return
        if session.status != Status.RUNNING:
            parts.append(Content.from_markup(f"[{colour}]$status[/]", status=session.status.value))
        elif session.paused:  # frozen by the disk guard: typing reaches it only once it is resumed
            parts.append(Content.from_markup("[$warning]paused: disk short[/]"))
        elif word:
            parts.append(Content.from_markup(f"[{word_colour}]$word[/]", word=word))
        parts.append(Content.from_markup("[$text-muted]$branch · $mode[/]", branch=session.branch,
                                         mode=session.access_mode))
        if terminal.selecting:
            parts.append(Content.from_markup("[reverse b $accent] COPY [/] [$text-muted]v select · y copy · q exit[/]"))
        elif terminal.scroll_mode:
            parts.append(Content.from_markup(
                "[reverse b $accent] SCROLL [/] [$text-muted]↑↓ PgUp PgDn g G · q exit[/]"))
        elif terminal.has_focus:
            parts.append(Content.from_markup("[$text-muted]$key then o: leave[/]", key=self._prefix_key))
        title.update(Content("  ").join(parts))
