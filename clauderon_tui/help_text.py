"""The rows of the help screen: every binding, where it applies and what it does."""

from __future__ import annotations

from textual.binding import Binding
from textual.keys import format_key

PREFIX_HELP: tuple[tuple[str, str], ...] = (
    ("esc, o", "leave the terminal (focus the session list)"),
    ("n / p", "next / previous session"),
    ("1-9", "show session N of the list"),
    ("s", "fuzzy session switcher (type a few letters, Enter)"),
    ("b", "hide / show the session sidebar"),
    ("[", "scroll mode"),
    ("y, c", "copy mode"),
    ("?", "help"),
    ("the prefix again", "send the prefix key itself to the program"),
)
SCROLL_HELP: tuple[tuple[str, str], ...] = (
    ("↑ ↓ / k j", "move a line"),
    ("pgup pgdn", "move a page"),
    ("g / G", "oldest line / live screen"),
    ("v, space", "start / stop selecting lines"),
    ("y, enter", "copy the selection (OSC 52) and leave"),
    ("q, esc", "leave scroll mode"),
)



def binding_rows(prefix_key: str) -> list[tuple[str, str, str]]:
    """(where, key, what) for every binding, for the help screen."""
    from clauderon_tui.widgets.sidebar import SessionSidebar

    rows: list[tuple[str, str, str]] = [
        ("anywhere", "ctrl+q", "quit (not while typing in a terminal)"),
        ("anywhere", "ctrl+p", "command palette (not while typing in a terminal)"),
        ("anywhere", "?", "this help (not while typing in a terminal)"),
    ]
    for binding in SessionSidebar.BINDINGS:
        assert isinstance(binding, Binding)
        keys = ", ".join(format_key(k) for k in binding.key.split(","))
        rows.append(("session list", keys, binding.tooltip or binding.description))
    rows.append(("session list", "↑ ↓", "select a session"))
    rows.append(("terminal", "any key", "goes to the program (ctrl+c, ctrl+p, ctrl+q, esc too)"))
    rows.append(("terminal", prefix_key, "prefix: the next key is a command"))
    rows.extend(("after prefix", key, what) for key, what in PREFIX_HELP)
    from clauderon_tui.workbench import WORKBENCH_PANES

    rows.extend(("after prefix", spec.key, f"show the {spec.title} tab") for spec in WORKBENCH_PANES)
    rows.extend(("session list", spec.key.upper(), f"show the {spec.title} tab") for spec in WORKBENCH_PANES)
    rows.extend(("scroll / copy", key, what) for key, what in SCROLL_HELP)
    return rows
