"""Scroll mode and copy mode for the terminal view: walk the emulator's history, select lines, copy them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clauderon_tui.widgets.terminal import TerminalView


class ScrollModeMixin:
    """Scroll and copy mode for `TerminalView` (which declares the `scroll_offset`, `scroll_mode` and
    `selecting` reactives these methods drive). `_scroll_cursor` is the view row the keys move; `_anchor`
    the row where the selection began."""

    def scroll_history(self: TerminalView, lines: int) -> None:
        """Move the view `lines` back (positive) or forward into the history."""
        if self.emulator is None:
            return
        if not self.scroll_offset:
            self._history = None  # scrolling starts: take the history as it is now
        limit = len(self._history_rows())
        self.scroll_offset = max(0, min(limit, self.scroll_offset + lines))
        self.refresh()

    def enter_scroll_mode(self: TerminalView, select: bool = False) -> None:
        """Keys now move through history; with `select`, copy mode starts at the bottom line."""
        if self.emulator is None:
            return
        self.scroll_mode = True
        self._scroll_cursor = self._view_height() - 1
        self._anchor = self._scroll_cursor
        self.selecting = select
        self.refresh()

    def exit_scroll_mode(self: TerminalView) -> None:
        """Back to the live screen; keys reach the program again."""
        self.scroll_mode = False
        self.selecting = False
        self.scroll_offset = 0
        self.refresh()

    def _scroll_key(self: TerminalView, key: str) -> None:
        height = self._view_height()
        moves = {"up": -1, "k": -1, "down": 1, "j": 1, "pageup": -height, "pagedown": height,
                 "ctrl+u": -(height // 2), "ctrl+d": height // 2}
        if key in ("q", "escape"):
            self.exit_scroll_mode()
        elif key in moves:
            self._move_scroll_cursor(moves[key])
        elif key == "g":
            self._move_scroll_cursor(-10**9)
        elif key in ("G", "upper_g", "shift+g"):
            self.scroll_offset = 0
            self._scroll_cursor = height - 1
            self.refresh()
        elif key in ("v", "space"):
            self.selecting = not self.selecting
            self._anchor = self._scroll_cursor
            self.refresh()
        elif key in ("y", "enter") and self.selecting:
            self.copy_selection()

    def _move_scroll_cursor(self: TerminalView, delta: int) -> None:
        height = self._view_height()
        target = self._scroll_cursor + delta
        if target < 0:
            before = self.scroll_offset
            self.scroll_history(-target)
            self._anchor += self.scroll_offset - before
            target = 0
        elif target >= height:
            before = self.scroll_offset
            self.scroll_history(-(target - height + 1))
            self._anchor += self.scroll_offset - before
            target = height - 1
        self._scroll_cursor = target
        self.refresh()

    def view_line_text(self: TerminalView, y: int) -> str:
        """The plain text of the view's row `y` as currently scrolled."""
        emulator = self.emulator
        history = self._history_rows()
        index = len(history) - self.scroll_offset + y
        if 0 <= index < len(history):
            line = history[index]
        elif 0 <= index - len(history) < emulator.rows:
            line = emulator.buffer[index - len(history)]
        else:
            return ""
        width = min(emulator.cols, len(line)) if isinstance(line, list) else emulator.cols
        return "".join(line[x].data for x in range(width)).rstrip()

    def copy_selection(self: TerminalView) -> str:
        """Copy the selected lines to the clipboard (OSC 52), leave scroll mode, and return the text."""
        low, high = sorted((self._anchor, self._scroll_cursor))
        text = "\n".join(self.view_line_text(y) for y in range(low, high + 1))
        self.app.copy_to_clipboard(text)
        count = high - low + 1
        self.post_message(self.Notice(f"copied {count} line{'s' if count != 1 else ''}"))
        self.exit_scroll_mode()
        return text

    def _selected(self: TerminalView, y: int) -> bool:
        if not self.selecting:
            return False
        low, high = sorted((self._anchor, self._scroll_cursor))
        return low <= y <= high

