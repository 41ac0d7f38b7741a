"""The command palette's provider: every app action, and "switch to" for every session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.theme import Theme

from clauderon_tui.key_table import key_hint
from clauderon_tui.workbench import WORKBENCH_PANES
from runtime.models import Session


@dataclass(frozen=True)
class PaletteAction:
    """One palette entry: title, help text and the app action it runs."""

    title: str
    help: str
    action: str


PALETTE_ACTIONS: tuple[PaletteAction, ...] = (
    PaletteAction("New session", "Open the create dialog", "new_session"),
    PaletteAction("Restart session", "Restart the selected session's container and agent (asks)", "restart"),
    PaletteAction("Edit title", "Edit the selected session's title and description", "rename"),
    PaletteAction("Refresh session image", "Pull the newest image for the selected session and recreate it on "
                  "it, the agent resuming (asks first while the agent works)", "refresh"),
    PaletteAction("Resume session", "Thaw the selected session, paused because the disk ran short", "resume"),
    PaletteAction("Delete session", "Delete the selected session (asks)", "delete"),
    PaletteAction("Archive session", "Archive the selected session, or bring an archived one back (asks)", "archive"),
    PaletteAction("Unarchive session", "Bring the selected archived session back", "unarchive"),
    PaletteAction("Toggle access mode", "Switch the selected session between read-write and read-only (asks)",
                  "access_mode"),
    PaletteAction("Cycle permission mode", "Shift+tab to the selected session's agent: plan, accept edits, ... "
                  "(asks)", "cycle_mode"),
    PaletteAction("Push branch", "Push the selected session's branch to GitHub (asks)", "push"),
    PaletteAction("Open pull request…", "Push and open a pull request, draft or not", "open_pr"),
    PaletteAction("Merge pull request…", "Merge the selected session's PR: squash, merge or rebase", "merge"),
    PaletteAction("Focus terminal", "Type into the selected session's terminal", "focus_terminal"),
    PaletteAction("Focus sidebar", "Move focus to the session list", "focus_sidebar"),
    PaletteAction("Next session", "Show the next session in the list", "next_session"),
    PaletteAction("Previous session", "Show the previous session in the list", "previous_session"),
    PaletteAction("First session", "Show the first session in the list", "first_session"),
    PaletteAction("Last session", "Show the last session in the list", "last_session"),
    PaletteAction("Switch session…", "Fuzzy-find a session by name", "switcher"),
    PaletteAction("Scroll mode", "Scroll the terminal's history", "scroll_mode"),
    PaletteAction("Copy mode", "Select terminal lines and copy them", "copy_mode"),
    PaletteAction("Cycle view", "all (archived dimmed) / running / needs attention / archived", "cycle_filter"),
    PaletteAction("Search sessions", "Filter the session list by text", "search"),
    PaletteAction("Help", "The focused pane's keys, then the others", "help"),
    PaletteAction("Quit", "Leave clauderon (sessions keep running in the engine)", "quit"),
)
"""Every app action the palette offers; each entry's help ends with its key from the key table."""


def with_key(help_text: str, action: str) -> str:
    """The help text followed by the action's key (`· key x`), or by `· palette only`."""
    key = key_hint(action)
    if action == "focus_sidebar":
        key = "Esc / prefix o"
    return f"{help_text} · key {key}" if key else f"{help_text} · palette only"


class PaletteApp(Protocol):
    """What the palette needs of the app it runs in (`ClauderonApp` is one): its actions, themes and sessions."""

    theme: str
    user_theme_names: set[str]

    @property
    def available_themes(self) -> dict[str, Theme]: ...

    def run_action(self, action: str, /) -> Awaitable[bool]: ...

    def sorted_sessions(self) -> list[Session]: ...

    def show_session(self, session_id: str) -> None: ...


class ClauderonCommands(Provider):
    """Actions and sessions for the command palette."""

    @property
    def palette_app(self) -> PaletteApp:
        """The running app, seen through what the palette uses of it."""
        return cast(PaletteApp, self.app)

    def _entries(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.palette_app
        entries: list[tuple[str, str, Callable[[], Any]]] = [
            (entry.title, with_key(entry.help, entry.action), partial(app.run_action, entry.action))
            for entry in PALETTE_ACTIONS
        ]
        for spec in WORKBENCH_PANES:
            entries.append((f"Show {spec.title} tab", with_key(f"The selected session's {spec.title.lower()}",
                                                               f"show_tab('{spec.id}')"),
                            partial(app.run_action, f"show_tab('{spec.id}')")))
        for name in sorted(app.available_themes):
            if name.startswith("clauderon") or name in app.user_theme_names:
                entries.append((f"Theme: {name}", "Switch the theme (saved in config.toml) · palette only",
                                partial(setattr, app, "theme", name)))
        for session in app.sorted_sessions():
            entries.append((f"Switch to {session.name}", f"{session.status.value} · {session.branch} · key s finds it",
                            partial(app.show_session, session.id)))
        return entries

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
