"""The session sidebar: every session the engine reports, filtered and searchable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from clauderon_tui.formatting import (
    AGENT_WORDS,
    STATUS_GLYPHS,
    SessionFilter,
    agent_label,
    changes_label,
    format_age,
    isolation_label,
    matches_filter,
    matches_search,
    pr_badge,
    pr_words,
    print_word,
    sort_key,
)
from runtime.models import Session


def session_prompt(session: Session, now: float, marked: bool = False) -> Content:
    """Two lines for one session: status glyph, name, PR badge, agent status (and `!` when it asked for
    attention and was not viewed since); then age, the branch's changes (files, +/- lines, uncommitted), the
    pull request's state in words, agent (model, permission mode), backend and branch."""
    glyph, colour = STATUS_GLYPHS[session.status]
    word, word_colour = AGENT_WORDS[session.agent_status]
    first = Content.from_markup(f"[{colour}]{glyph}[/] [b]$name[/b]", name=session.name)
    if session.title:
        first = first + Content.from_markup(" [$text-muted]$title[/]", title=session.title)
    badge = pr_badge(session.pr)
    if badge is not None:
        first = first + Content.from_markup(f" [{badge[1]}]$badge[/]", badge=badge[0])
    if marked:
        first = Content.from_markup("[reverse b $warning]![/] ") + first
    if session.status.value in ("creating", "failed", "stopped", "archived"):
        word, word_colour = session.status.value, colour
        if session.status.value == "creating" and session.progress.total:
            word = f"creating {session.progress.step}/{session.progress.total}"
    word, word_colour = print_word(session) or (word, word_colour)
    if session.paused and session.status.value == "running":
        word, word_colour = "paused: disk short", "$warning"
    if word:
        first = first + Content.from_markup(f"  [{word_colour}]$word[/]", word=word)
    backend = isolation_label(session)
    # What changed first: the row is cut at the sidebar's width.
    parts = (format_age(now - session.created_at), changes_label(session), pr_words(session.pr), agent_label(session),
             backend, session.branch)
    second = Content.from_markup("[$text-muted]  $line[/]", line=" · ".join(part for part in parts if part))
    return Content("\n").join([first, second])


class SessionList(OptionList):
    """The list of sessions; option ids are session ids."""

    DEFAULT_CSS = """
    SessionList {
        border: none;
        padding: 0;
        height: 1fr;
        background: $surface;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        & > .option-list--option { padding: 0 1; }
    }
    SessionList:focus { border: none; }
    """


class SessionSidebar(Vertical):
    """Session list with a filter row and a search box; posts `Highlighted` and `Activated`."""

    DEFAULT_CSS = """
    SessionSidebar {
        width: 44;
        height: 1fr;
        background: $surface;
        border-right: tall $panel;
        #filter-bar { height: 1; padding: 0 1; color: $text-muted; }
        #search { height: 1; border: none; padding: 0 1; margin: 0; background: $panel; }
        #search.-hidden { display: none; }
        #empty { padding: 1 2; color: $text-muted; height: auto; }
        #empty.-hidden { display: none; }
    }
    """

    BINDINGS = [
        Binding("n", "app.new_session", "New", tooltip="Create a session"),
        Binding("enter", "app.focus_terminal", "Open", tooltip="Type into the selected session's terminal"),
        Binding("r", "app.restart", "Restart", tooltip="Restart the selected session"),
        Binding("d", "app.delete", "Delete", tooltip="Delete the selected session (asks first)"),
        Binding("a", "app.archive", "Archive", tooltip="Archive / unarchive the selected session"),
        Binding("m", "app.access_mode", "Access", tooltip="Toggle read-write / read-only"),
        Binding("e", "app.rename", "Title", show=False, tooltip="Edit the session's title and description"),
        Binding("c", "app.cycle_mode", "Mode", show=False,
                tooltip="Cycle the agent's permission mode (Claude Code: plan, accept edits, ...), as shift+tab does"),
        Binding("P", "app.open_pr", "Open PR", show=False, tooltip="Push and open a pull request (asks: draft or not)"),
        Binding("U", "app.push", "Push", show=False, tooltip="Push the session's branch to GitHub"),
        Binding("M", "app.merge", "Merge", show=False, tooltip="Merge the session's pull request (asks how)"),
        Binding("s", "app.switcher", "Switch", show=False, tooltip="Fuzzy-find a session by name"),
        Binding("b", "app.toggle_sidebar", "Sidebar", show=False, tooltip="Hide / show the session sidebar"),
        Binding("f", "cycle_filter", "Filter", tooltip="Cycle all / running / needs attention / archived"),
        Binding("slash", "search", "Search", tooltip="Filter the list by text"),
        Binding("escape", "clear_search", "Clear search", show=False, tooltip="Clear the search"),
    ]

    session_filter: reactive[SessionFilter] = reactive(SessionFilter.ALL)
    """Which sessions show."""
    search_text: reactive[str] = reactive("")
    """The search text; every word must match."""

    class Highlighted(Message):
        """The highlighted session changed (`session_id` is None when the list is empty)."""

        def __init__(self, session_id: str | None) -> None:
            super().__init__()
            self.session_id = session_id

    class Activated(Message):
        """Enter was pressed (or a row double-clicked) on a session."""

        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    def __init__(self, *, clock: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._shown: list[str] = []
        self._initialised = False
        self.marked: set[str] = set()
        """Sessions that asked for attention and were not viewed since (the app keeps this)."""

    def compose(self) -> ComposeResult:
        yield Static(id="filter-bar")
        yield Input(placeholder="search sessions", id="search", classes="-hidden")
        yield Static(id="empty", classes="-hidden")
        yield SessionList(id="sessions")

    def on_mount(self) -> None:
        self._render_filter_bar()

    @property
    def session_list(self) -> SessionList:
        return self.query_one(SessionList)

    @property
    def highlighted_id(self) -> str | None:
        """The id of the highlighted session, if any."""
        option_list = self.session_list
        if option_list.highlighted is None or not self._shown:
            return None
        return self._shown[option_list.highlighted]

    @property
    def shown_ids(self) -> list[str]:
        """Ids of the sessions shown, top to bottom (what `1`-`9` and next/previous walk)."""
        return list(self._shown)

    def set_sessions(self, sessions: Iterable[Session]) -> None:
        """Replace the sessions shown (the app calls this on every engine event)."""
        self._sessions = {s.id: s for s in sessions}
        self._rebuild()
        self._initialised = True

    def select(self, session_id: str) -> None:
        """Highlight one session (widening the filter if it is hidden)."""
        if session_id not in self._shown:
            archived = self._sessions[session_id].status == "archived"
            self.session_filter = SessionFilter.ARCHIVED if archived else SessionFilter.ALL
            self.search_text = ""
            self._rebuild()
        if session_id in self._shown:
            self.session_list.highlighted = self._shown.index(session_id)

    def _rebuild(self) -> None:
        option_list = self.session_list
        previous = self.highlighted_id
        now = self._clock()
        visible = sorted(
            (s for s in self._sessions.values()
             if matches_filter(s, self.session_filter) and matches_search(s, self.search_text)),
            key=sort_key,
        )
        shown = [s.id for s in visible]
        if shown == self._shown and option_list.option_count == len(shown):
            # Same rows in the same order (the usual status tick): update in place, keeping scroll and cursor.
            for session in visible:
                option_list.replace_option_prompt(session.id, session_prompt(session, now, session.id in self.marked))
            self._update_empty()
            return
        self._shown = shown
        option_list.clear_options()
        option_list.add_options(Option(session_prompt(s, now, s.id in self.marked), id=s.id) for s in visible)
        if self._shown:
            index = self._shown.index(previous) if previous in self._shown else 0
            option_list.highlighted = index
        self._update_empty()
        if self.highlighted_id != previous or not self._initialised:
            self.post_message(self.Highlighted(self.highlighted_id))

    def _update_empty(self) -> None:
        empty = self.query_one("#empty", Static)
        if self._shown:
            empty.add_class("-hidden")
            return
        if not self._sessions:
            empty.update(Content.from_markup(
                "No sessions yet.\n\nPress [b $accent]n[/] to create your first one: pick a repository, "
                "an agent and a prompt, and it starts in its own container on its own worktree."
            ))
        else:
            empty.update(Content.from_markup(
                "No session matches [b]$filter[/]$search.\n\nPress [b $accent]f[/] to change the filter.",
                filter=self.session_filter.value, search=f" and “{self.search_text}”" if self.search_text else "",
            ))
        empty.remove_class("-hidden")

    def _render_filter_bar(self) -> None:
        labels = {SessionFilter.ALL: "all", SessionFilter.RUNNING: "running",
                  SessionFilter.ATTENTION: "attention", SessionFilter.ARCHIVED: "archived"}
        parts = [
            f"[reverse $accent] {label} [/]" if which == self.session_filter else f" {label} "
            for which, label in labels.items()
        ]
        self.query_one("#filter-bar", Static).update(Content.from_markup("".join(parts)))

    def watch_session_filter(self) -> None:
        if self.is_mounted:
            self._render_filter_bar()
            self._rebuild()

    def watch_search_text(self) -> None:
        if self.is_mounted:
            self._rebuild()

    def action_cycle_filter(self) -> None:
        """Next filter: all, running, needs attention, archived."""
        order = list(SessionFilter)
        self.session_filter = order[(order.index(self.session_filter) + 1) % len(order)]

    def action_search(self) -> None:
        """Show the search box and focus it."""
        search = self.query_one("#search", Input)
        search.remove_class("-hidden")
        search.focus()

    def action_clear_search(self) -> None:
        """Empty and hide the search box, back to the list."""
        search = self.query_one("#search", Input)
        search.value = ""
        search.add_class("-hidden")
        self.session_list.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search_text = event.value

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.session_list.focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(event.option.id))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Activated(event.option.id))
