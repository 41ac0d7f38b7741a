"""The one key table: every key of the app, what it does and where it works.

Session keys mean the same thing everywhere: pressed in the session list, or after the prefix key in the
terminal (whose other keys belong to the program, Esc included: it is the agent's interrupt). Keys that change
a session ask first. The sidebar's bindings, the terminal's prefix commands, the help screen and the palette's
key hints are all made from this table, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key

from clauderon_tui.workbench import WORKBENCH_PANES


@dataclass(frozen=True)
class KeySpec:
    """One entry: its keys (Textual names, comma separated), the app action they run and what it does."""

    keys: str
    action: str
    title: str
    help: str
    footer: bool = False
    """Shown in the footer while the session list has focus."""
    changes: bool = False
    """Changes a session (the action asks for confirmation first; typing can never do it by accident)."""
    prefix: bool = True
    """Also works after the prefix key in the terminal."""
    list: bool = True
    """Works directly in the session list."""
    shown_keys: str = ""
    """How help and the palette write the keys, when not simply the keys themselves (`1-9`)."""

    @property
    def display(self) -> str:
        """The keys as a person reads them (`j ↓`, `1-9`, `[`)."""
        return self.shown_keys or " ".join(format_key(key) for key in self.keys.split(","))


TAB_KEYS: tuple[KeySpec, ...] = tuple(
    KeySpec(spec.key, f"show_tab('{spec.id}')", spec.title, f"show the {spec.title} tab", footer=False)
    for spec in WORKBENCH_PANES
)
"""One key per workbench tab (`WORKBENCH_PANES` names them), the same from the list and after the prefix."""

SESSION_KEYS: tuple[KeySpec, ...] = (
    KeySpec("enter", "focus_terminal", "Open", "type into the session's terminal", footer=True,
            prefix=False),
    KeySpec("escape,o", "focus_sidebar", "Leave", "back to the session list", list=False),
    *TAB_KEYS,
    KeySpec("j,down", "next_session", "Next", "next session", shown_keys="j ↓"),
    KeySpec("k,up", "previous_session", "Previous", "previous session", shown_keys="k ↑"),
    KeySpec("g", "first_session", "First", "first session"),
    KeySpec("G", "last_session", "Last", "last session"),
    *(KeySpec(str(n), f"jump({n})", f"Session {n}", "session N of the list", shown_keys="1-9") for n in range(1, 10)),
    KeySpec("s", "switcher", "Switch", "find a session by name (fuzzy)"),
    KeySpec("slash", "search", "Search", "search the list (Esc clears it)", footer=True),
    KeySpec("v", "cycle_filter", "View", "view: all, running, attention, archived", footer=True),
    KeySpec("n", "new_session", "New", "create a session", footer=True),
    KeySpec("e", "rename", "Title", "edit the title and description"),
    KeySpec("left_square_bracket", "scroll_mode", "Scroll", "scroll the terminal's history", list=False),
    KeySpec("y", "copy_mode", "Copy", "select terminal lines and copy them", list=False),
    KeySpec("b", "toggle_sidebar", "Sidebar", "show or hide the session list"),
    KeySpec("a", "archive", "Archive", "archive, or bring back (asks)", changes=True),
    KeySpec("r", "restart", "Restart", "restart sandbox and agent (asks)", changes=True),
    KeySpec("x", "delete", "Delete", "delete the session (asks)", footer=True, changes=True),
    KeySpec("m", "access_mode", "Access", "read-write / read-only (asks)", changes=True),
    KeySpec("p", "cycle_mode", "Mode", "next permission mode: shift+tab (asks)", changes=True),
    KeySpec("U", "push", "Push", "push the branch to GitHub (asks)", changes=True),
    KeySpec("P", "open_pr", "Open PR", "push and open a pull request (asks)", changes=True),
    KeySpec("M", "merge", "Merge", "merge its pull request (asks how)", changes=True),
    KeySpec("q", "quit", "Quit", "quit; sessions keep running",
            footer=True),
    KeySpec("question_mark", "help", "Help", "this help", footer=True),
)
"""Every session key, in the order help lists them."""

GLOBAL_KEYS: tuple[tuple[str, str], ...] = (
    ("?", "this help (terminal: prefix then ?)"),
    ("ctrl+p", "palette: every action and its key"),
    ("ctrl+q", "quit (not in a terminal)"),
    ("Esc", "back toward the list (dialogs, tabs)"),
)
"""Keys that work from every pane but the terminal (whose keys are the program's)."""
SCROLL_KEYS: tuple[tuple[str, str], ...] = (
    ("k j ↑ ↓", "a line (pgup pgdn: a page)"),
    ("g G", "oldest line / live screen"),
    ("v space", "start / stop selecting"),
    ("y enter", "copy the selection and leave"),
    ("q Esc", "leave scroll mode"),
)
DIALOG_KEYS: tuple[tuple[str, str], ...] = (
    ("tab ⏎", "Cancel has the focus: tab, then Enter"),
)

TABLE_ACTIONS: frozenset[str] = frozenset(spec.action.split("(")[0] for spec in SESSION_KEYS)
"""The app action names the table uses."""


def session_key(action: str) -> KeySpec | None:
    """The entry running `action` (as the palette names it: `delete`, `show_tab('files')`)."""
    return next((spec for spec in SESSION_KEYS if spec.action == action), None)


def key_hint(action: str) -> str:
    """`x` for the palette's help text (`prefix then y` for a terminal-only key), or "" when it has none."""
    spec = session_key(action)
    if spec is None:
        return ""
    return spec.display if spec.list else f"prefix then {spec.display}"


def list_bindings() -> list[Binding]:
    """The session list's bindings: every entry that works in the list. An action the app does not have
    (yet) is disabled by `ClauderonApp.check_action` rather than left out, so the table stays whole."""
    return [Binding(spec.keys, f"app.{spec.action}", spec.title, show=spec.footer, tooltip=spec.help)
            for spec in SESSION_KEYS if spec.list]


def prefix_action(key: str) -> str | None:
    """The app action the key after the prefix runs, or None when it has none."""
    for spec in SESSION_KEYS:
        if spec.prefix and key in spec.keys.split(","):
            return spec.action
    return None


def prefix_hint() -> str:
    """One line saying what the keys after the prefix do (the terminal's title shows it while armed)."""
    tabs = " ".join(spec.keys for spec in TAB_KEYS)
    return f"{tabs} tabs · j/k · 1-9 · s find · o leave · [ scroll · y copy · ? all keys"


def changing_actions() -> set[str]:
    """Actions that change a session (each asks for confirmation)."""
    return {spec.action for spec in SESSION_KEYS if spec.changes}
