"""The Files tab: the session's worktree as a tree with git status marks, and a syntax-highlighted viewer.

Everything comes from the engine's files routes, so it works for every backend, and the engine refuses
any path that leaves the worktree (its one-line reason is shown in place of the file).
"""

from __future__ import annotations

from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from clauderon_tui.widgets.session_pane import SessionPane
from runtime.api.client import EngineClientProtocol

MARK_COLOURS = {"M": "$warning", "A": "$success", "?": "$success", "D": "$error", "R": "$accent"}
"""Colour of each git status mark."""
PAGE_BYTES = 64 * 1024
"""Bytes asked for per page of a file."""


def syntax_theme(dark: bool) -> str:
    """The Pygments style for code on a dark or light background."""
    return "monokai" if dark else "friendly"


def entry_label(entry: dict[str, Any], colours: dict[str, str]) -> Text:
    """`M name`, `  dir/`, `  link → target` for one listing entry; `colours` maps theme variable names
    (warning, success, error, accent, text-muted) to colours (the tree takes rich `Text`)."""
    mark = entry.get("status") or ""
    name = entry["name"] + ("/" if entry["kind"] == "dir" else "")
    label = Text()
    if mark in MARK_COLOURS:
        label.append(mark, style=f"bold {colours[MARK_COLOURS[mark].lstrip('$')]}")
        label.append(" ")
    else:
        label.append("  ")
    if entry["kind"] == "dir":
        label.append(name, style="bold")
    elif entry["kind"] == "deleted":
        label.append(name, style=f"strike {colours['text-muted']}")
    elif entry["kind"] == "link":
        label.append(name, style="italic")
        label.append(f" → {entry.get('target', '')}", style=colours["text-muted"])
    else:
        label.append(name)
    return label


class FilesPane(SessionPane):
    """Worktree tree on the left, the chosen file on the right (paged: `m` loads more)."""

    DEFAULT_CSS = """
    FilesPane {
        layout: horizontal;
        #file-tree { width: 40%; min-width: 24; height: 1fr; background: $surface; border-right: tall $panel; }
        #file-view { width: 1fr; height: 1fr; }
        #file-title { height: 1; padding: 0 1; background: $panel; }
        #file-body { padding: 0 1; }
        #file-body.-error { color: $error; }
        #file-body.-muted { color: $text-muted; }
        #file-more { color: $text-muted; padding: 0 1; }
    }
    """

    BINDINGS = [
        Binding("m", "more", "More", tooltip="Load the next page of a large file"),
        Binding("R", "reload", "Reload", tooltip="Read the worktree again"),
    ]

    def __init__(self, client: EngineClientProtocol, *, id: str | None = None) -> None:
        super().__init__(client, id=id)
        self._path: str | None = None
        self._text = ""
        self._next: int | None = None
        self._file_size = 0
        self._file_session: str | None = None

    def compose(self) -> ComposeResult:
        tree: Tree[dict[str, Any]] = Tree("worktree", id="file-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree
        with VerticalScroll(id="file-view"):
            yield Static("", id="file-title")
            yield Static("Pick a file on the left.", id="file-body", classes="-muted")
            yield Static("", id="file-more")

    @property
    def file_tree(self) -> Tree[dict[str, Any]]:
        """The tree of the worktree's files (named so it does not hide `DOMNode.tree`)."""
        return self.query_one("#file-tree", Tree)

    def reload(self) -> None:
        """Read the worktree's top directory again (the shown file stays while the session does)."""
        if self._path is not None and (self.session is None or self.session.id != self._file_session):
            self._path, self._text, self._next = None, "", None
            self.query_one("#file-title", Static).update("")
            self.query_one("#file-more", Static).update("")
            self._show_message("Pick a file on the left.", "-muted")
        tree = self.file_tree
        tree.clear()
        tree.root.data = {"path": "", "kind": "dir", "loaded": False}
        if self.session is None:
            self._show_message("No session selected.", "-muted")
            return
        self._load_dir(tree.root)

    def action_reload(self) -> None:
        """Read the worktree again."""
        self.reload()

    @work(group="files-list")
    async def _load_dir(self, node: TreeNode[dict[str, Any]]) -> None:
        session = self.session
        if session is None or node.data is None:
            return
        try:
            listing = await self.client.list_files(session.id, node.data["path"])
        except Exception as exc:  # shown in the viewer: the tree stays as it was
            self._show_message(str(exc) or exc.__class__.__name__, "-error")
            return
        if self.session is None or self.session.id != session.id:
            return
        node.remove_children()
        node.data["loaded"] = True
        variables = self.app.theme_variables
        colours = {name: variables.get(name, "default") for name in ("warning", "success", "error", "accent")}
        colours["text-muted"] = "dim"
        for entry in listing.get("entries", []):
            data = {**entry, "loaded": False}
            if entry["kind"] == "dir":
                node.add(entry_label(entry, colours), data=data)
            else:
                node.add_leaf(entry_label(entry, colours), data=data)
        if listing.get("left_out"):
            node.add_leaf(Text(f"… {listing['left_out']} more", style="dim"))
        node.expand()

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[dict[str, Any]]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and data.get("kind") == "dir" and not data.get("loaded"):
            self._load_dir(event.node)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[dict[str, Any]]) -> None:
        event.stop()
        data = event.node.data
        if data is None or data.get("kind") == "dir":
            return
        self.open_file(data["path"])

    def open_file(self, path: str) -> None:
        """Show the first page of a worktree file."""
        self._path, self._text, self._next, self._file_size = path, "", 0, 0
        self._file_session = self.session.id if self.session else None
        self.query_one("#file-title", Static).update(Content.from_markup("[b]$path[/]", path=path))
        self._load_page()

    def action_more(self) -> None:
        """Load the next page of the shown file."""
        if self._path is not None and self._next is not None and self._text:
            self._load_page()

    @work(group="files-read", exclusive=True)
    async def _load_page(self) -> None:
        session, path, offset = self.session, self._path, self._next
        if session is None or path is None or offset is None:
            return
        try:
            page = await self.client.read_file(session.id, path, offset, PAGE_BYTES)
        except Exception as exc:  # e.g. a link out of the worktree: one line from the engine
            self._next = None
            self.query_one("#file-more", Static).update("")
            self._show_message(str(exc) or exc.__class__.__name__, "-error")
            return
        if path != self._path:
            return
        more = self.query_one("#file-more", Static)
        if page.get("link") is not None:
            self._next = None
            more.update("")
            self._show_message(f"symbolic link to {page['link']} (links are shown, not followed)", "-muted")
            return
        if page.get("binary"):
            self._next = None
            more.update("")
            self._show_message(f"binary file, {page.get('size', 0)} bytes: not shown", "-muted")
            return
        self._text += page.get("text", "")
        self._next = page.get("next_offset")
        self._file_size = int(page.get("size", 0))
        body = self.query_one("#file-body", Static)
        body.set_classes("")
        body.update(Syntax(self._text, Syntax.guess_lexer(path, self._text[:4096]), line_numbers=True,
                           theme=syntax_theme(self.app.current_theme.dark),
                           background_color=self.app.current_theme.background or "default", word_wrap=False))
        shown = len(self._text.encode())
        more.update(Text(f"{shown} of {self._file_size} bytes shown · m: more") if self._next is not None else "")

    def _show_message(self, message: str, kind: str) -> None:
        body = self.query_one("#file-body", Static)
        body.set_classes(kind)
        body.update(Text(message))
