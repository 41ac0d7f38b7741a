"""What the help screen says: the keys of the focused pane first, then the others, all from the key table."""

from __future__ import annotations

from collections.abc import Callable

from clauderon_tui.key_table import DIALOG_KEYS, GLOBAL_KEYS, SCROLL_KEYS, SESSION_KEYS, TAB_KEYS

Section = tuple[str, list[tuple[str, str]]]
"""A heading and its (keys, what they do) rows."""


def session_rows(available: Callable[[str], bool]) -> list[tuple[str, str]]:
    """The session list's keys, one row per meaning (the tabs and `1`-`9` on one row each), leaving out
    actions the app does not have."""
    rows: list[tuple[str, str]] = []
    tabs = " ".join(spec.keys for spec in TAB_KEYS)
    for spec in SESSION_KEYS:
        if not spec.list or not available(spec.action.split("(")[0]):
            continue
        if spec in TAB_KEYS:
            if rows and rows[-1][0] == tabs:
                continue
            row = (tabs, "tabs: " + " ".join(tab.title for tab in TAB_KEYS))
        else:
            row = (spec.display, spec.help)
        if row not in rows:
            rows.append(row)
    return rows


def terminal_rows(prefix_key: str) -> list[tuple[str, str]]:
    return [
        ("any key", "to the program (Esc: the agent's interrupt)"),
        (prefix_key, "then a session-list key, or:"),
        ("  Esc o", "back to the session list"),
        ("  [  y", "scroll mode / copy mode"),
        (f"  {prefix_key}", "send the prefix key itself"),
    ]


def help_sections(prefix_key: str, context: str, available: Callable[[str], bool] = lambda _: True) -> list[Section]:
    """The help screen's sections for the focused pane (`list`, `terminal`, `scroll` or `tab`): its keys
    first, then the global ones, then the other panes'."""
    session: Section = ("Session list", session_rows(available))
    terminal: Section = ("Terminal", terminal_rows(prefix_key))
    scroll: Section = ("Scroll / copy mode", list(SCROLL_KEYS))
    tab: Section = ("Other tabs", [(" ".join(spec.keys for spec in TAB_KEYS), "switch tabs (not in the chat box)"),
                                   ("j k g G", "move in the tab's list"), ("Esc", "back to the session list"),
                                   ("R", "reload (Files, Diff)")])
    everywhere: Section = ("Everywhere", list(GLOBAL_KEYS))
    dialogs: Section = ("Dialogs", list(DIALOG_KEYS))
    first = {"list": [session], "terminal": [terminal, scroll], "scroll": [scroll, terminal], "tab": [tab]}[context]
    rest = [s for s in (session, terminal, scroll, tab) if s not in first]
    return [*first, everywhere, dialogs, *rest]
