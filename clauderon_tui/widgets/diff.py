"""The Diff tab: the session's changes against its base branch, committed and uncommitted apart.

The engine computes the diff through `gitsafe` (no filter, textconv or external diff the agent planted
ever runs); this pane lists the changed files with +/- counts and shows the chosen file's patch coloured.
"""

from __future__ import annotations

import time
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from clauderon_tui.widgets.files import MARK_COLOURS, syntax_theme
from clauderon_tui.widgets.session_pane import SessionPane
from runtime.api.client import EngineClientProtocol

SECTIONS = (("committed", "Committed"), ("uncommitted", "Uncommitted"))
STACK_BELOW = 70
"""Columns under which the file list sits above the patch (a phone) rather than beside it."""


def file_prompt(change: dict[str, Any]) -> Content:
    """`M path  +3 -1` (or `binary`) for one changed file."""
    status = change.get("status") or "M"
    colour = MARK_COLOURS.get(status, "$warning")
    prompt = Content.from_markup(f"[b {colour}]$status[/] $path  ", status=status, path=change["path"])
    if change.get("binary"):
        return prompt + Content.from_markup("[$text-muted]binary[/]")
    return prompt + Content.from_markup("[$success]+$added[/] [$error]-$removed[/]",
                                        added=str(change.get("added") or 0), removed=str(change.get("removed") or 0))


def section_prompt(title: str, section: dict[str, Any]) -> Content:
    """`Committed · 2 files +4 -0` heading."""
    count = len(section.get("files", []))
    return Content.from_markup(
        "[b]$title[/] [$text-muted]· $count[/] [$success]+$added[/] [$error]-$removed[/]",
        title=title, count=f"{count} file{'s' if count != 1 else ''}",
        added=str(section.get("added", 0)), removed=str(section.get("removed", 0)))


class DiffPane(SessionPane):
    """Changed files on the left (committed, then uncommitted), the highlighted file's patch on the right."""

    DEFAULT_CSS = """
    DiffPane {
        layout: horizontal;
        #diff-files { width: 40%; min-width: 28; height: 1fr; border: none; background: $surface;
                      border-right: tall $panel; text-wrap: nowrap; text-overflow: ellipsis; }
        #diff-files:focus { border: none; border-right: tall $panel; }
        #diff-view { width: 1fr; height: 1fr; }
        #diff-title { height: 1; padding: 0 1; background: $panel; }
        #diff-body { padding: 0 1; }
        #diff-body.-error { color: $error; }
        #diff-body.-muted { color: $text-muted; }
        &.-stacked { layout: vertical; }
        &.-stacked #diff-files { width: 1fr; min-width: 0; height: 40%; border-right: none;
                                 border-bottom: tall $panel; }
        &.-stacked #diff-files:focus { border-right: none; border-bottom: tall $panel; }
    }
    """

    BINDINGS = [Binding("R", "reload", "Reload", tooltip="Compute the diff again")]

    def __init__(self, client: EngineClientProtocol, *, id: str | None = None) -> None:
        super().__init__(client, id=id)
        self._changes: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield OptionList(id="diff-files")
        with VerticalScroll(id="diff-view"):
            yield Static("", id="diff-title")
            yield Static("", id="diff-body")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < STACK_BELOW, "-stacked")

    def action_reload(self) -> None:
        """Compute the diff again."""
        self.reload()

    def reload(self) -> None:
        """Ask the engine for the session's diff."""
        self.query_one("#diff-files", OptionList).clear_options()
        self._changes = {}
        if self.session is None:
            self._show_message("No session selected.", "-muted")
            return
        self._show_message("computing the diff…", "-muted")
        self._load()

    @work(group="diff", exclusive=True)
    async def _load(self) -> None:
        session = self.session
        if session is None:
            return
        try:
            diff = await self.client.diff(session.id)
        except Exception as exc:  # one line from the engine, shown in place of the patch
            self._show_message(str(exc) or exc.__class__.__name__, "-error")
            return
        if self.session is None or self.session.id != session.id:
            return
        options: list[Option] = []
        for key, title in SECTIONS:
            section = diff.get(key) or {}
            options.append(Option(section_prompt(title, section), id=f"head:{key}", disabled=True))
            for change in section.get("files", []):
                option_id = f"{key}:{change['path']}"
                self._changes[option_id] = change
                options.append(Option(file_prompt(change), id=option_id))
            if section.get("truncated"):
                options.append(Option(Content.from_markup("[$text-muted]  (patch cut: too large)[/]"), disabled=True))
        option_list = self.query_one("#diff-files", OptionList)
        option_list.clear_options()
        option_list.add_options(options)
        as_of = diff.get("as_of")  # a stopped sandbox: the branch as last brought back
        stale = f" · as of {time.strftime('%Y-%m-%d %H:%M', time.localtime(as_of))}" if as_of else ""
        self.query_one("#diff-title", Static).update(Content.from_markup(
            "[b]$branch[/] [$text-muted]against $base (merge-base $short)$stale[/]",
            branch=session.branch, base=str(diff.get("base", "")), short=str(diff.get("merge_base", ""))[:8],
            stale=stale))
        if self._changes:
            option_list.highlighted = next(i for i, o in enumerate(options) if o.id in self._changes)
        else:
            self._show_message(f"no changes against {diff.get('base', 'the base branch')}", "-muted")

    @on(OptionList.OptionHighlighted, "#diff-files")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        change = self._changes.get(event.option.id or "")
        if change is None:
            return
        body = self.query_one("#diff-body", Static)
        if change.get("binary"):
            self._show_message(f"{change['path']}: binary file changed", "-muted")
            return
        body.set_classes("")
        body.update(Syntax(change.get("patch") or "", "diff",
                           theme=syntax_theme(self.app.current_theme.dark),
                           background_color=self.app.current_theme.background or "default", word_wrap=False))

    def _show_message(self, message: str, kind: str) -> None:
        body = self.query_one("#diff-body", Static)
        body.set_classes(kind)
        body.update(Text(message))
