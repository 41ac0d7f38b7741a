"""The terminal view: renders a session's emulator and sends every key, paste and mouse event to its console.

Output is fed to the emulator in bounded chunks, one per refresh tick, so a flood never freezes the UI;
only rows the emulator marks dirty are rebuilt (per-row Strip cache). Every key reaches the program except
the prefix key (tmux-style), which opens a one-key command: switch session, leave, scroll or copy. Scroll
mode walks the emulator's history with the keys; copy mode selects lines and copies them (OSC 52).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from clauderon_tui.consoles import FEED_CHUNK, ConsoleChannel
from clauderon_tui.keys import encode_key, encode_mouse, key_bytes_for_spec, textual_key_name
from clauderon_tui.widgets.terminal_rows import RowPainter
from themes import terminal_palette

RESIZE_DEBOUNCE = 0.1
"""Seconds the size must hold still before the console is resized."""
FRAME_INTERVAL = 1 / 60
"""Seconds between feed-and-refresh ticks while output is queued."""

PREFIX_COMMANDS: dict[str, str] = {
    "escape": "leave", "o": "leave", "n": "next", "p": "previous", "s": "switcher",
    "left_square_bracket": "scroll", "y": "copy", "c": "copy", "question_mark": "help",
    "b": "sidebar",
}
"""What the key after the prefix does (plus `1`-`9`: show session N; any other key is posted as `other`,
which the app maps to a workbench tab)."""

class TerminalView(Widget, can_focus=True):
    """Shows one `ConsoleChannel` and forwards input to it; in scroll mode, walks its history and copies lines."""

    DEFAULT_CSS = """
    TerminalView {
        width: 1fr;
        height: 1fr;
        background: $background;
        overflow: hidden;
    }
    """

    prefix_pending: reactive[bool] = reactive(False)
    """The prefix key was pressed; the next key is a command."""
    history_offset: reactive[int] = reactive(0, repaint=False)
    """Lines scrolled back into history (0: the live screen)."""
    scroll_mode: reactive[bool] = reactive(False)
    """Keys move through history instead of reaching the program."""
    selecting: reactive[bool] = reactive(False)
    """Copy mode: lines between the anchor and the scroll cursor are selected."""

    class Command(Message):
        """A prefix command the app handles: leave, next, previous, switcher, help, jump (`index`), or
        `other` (`key`: a key this widget gives no meaning, such as a workbench tab's)."""

        def __init__(self, name: str, index: int | None = None, key: str | None = None) -> None:
            super().__init__()
            self.name = name
            self.index = index
            self.key = key

    class ConsoleEnded(Message):
        """The shown console ended or broke (the app reconnects while the session runs)."""

        def __init__(self, session_id: str, error: str | None) -> None:
            super().__init__()
            self.session_id = session_id
            self.error = error

    class Notice(Message):
        """Something the person should read (a copy happened, a write failed)."""

        def __init__(self, text: str, severity: str = "information") -> None:
            super().__init__()
            self.text = text
            self.severity = severity

    def __init__(self, *, prefix_key: str = "ctrl+]", theme_name: str = "clauderon-dark",
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.prefix_key = textual_key_name(prefix_key)
        # Shown in the footer; the key itself is handled in `on_key` before any binding could run.
        self._bindings.bind(self.prefix_key, "prefix", "Prefix", key_display=prefix_key)
        self.prefix_bytes = key_bytes_for_spec(prefix_key)
        self._painter = RowPainter(terminal_palette(theme_name))
        self.channel: ConsoleChannel | None = None
        self._rows: dict[int, Strip] = {}
        self._history: list[Any] | None = None
        self._pump_timer: Timer | None = None
        self._resize_timer: Timer | None = None
        self._scroll_cursor = 0
        """Scroll mode: the view row the keys move."""
        self._anchor = 0
        """Copy mode: the view row where the selection began."""
        self._generation = -1
        self.command_handler: Callable[[TerminalView.Command], None] | None = None
        """Runs prefix commands at once (the app sets it); without one they are posted as `Command` messages."""

    # -- attaching ---------------------------------------------------------------------------------
    def attach(self, channel: ConsoleChannel | None) -> None:
        """Show another channel (None: show nothing); the previous one keeps being fed in the background."""
        if self.channel is channel:
            return
        if self.channel is not None:
            self.channel.detach()
        self.channel = channel
        self._reset_view()
        if channel is not None:
            channel.on_data = self._data_arrived
            self._data_arrived()
            self._schedule_resize()
        self.refresh()

    def _reset_view(self) -> None:
        self._rows.clear()
        self._history = None
        self._generation = -1 if self.channel is None else self.channel.generation
        self.scroll_mode = False
        self.selecting = False
        self.history_offset = 0
        self.prefix_pending = False

    def set_palette(self, palette: tuple[str, ...]) -> None:
        """Colours 0-15 from another theme."""
        self._painter = RowPainter(palette)
        self._rows.clear()
        self.refresh()

    @property
    def emulator(self) -> Any:
        return None if self.channel is None else self.channel.emulator

    def terminal_size(self) -> tuple[int, int]:
        """The console size this view asks for: its content size; (0, 0) before layout ("keep yours")."""
        width, height = self.content_size
        if width < 2 or height < 1:
            return 0, 0
        return width, height

    def _view_height(self) -> int:
        return max(1, self.size.height)

    # -- output --------------------------------------------------------------------------------------
    def _data_arrived(self) -> None:
        if self._pump_timer is None and self.is_attached:
            self._pump_timer = self.set_timer(FRAME_INTERVAL, self._pump)

    def _pump(self) -> None:
        """One tick: feed one bounded chunk, refresh the rows it changed, come back if more is queued."""
        self._pump_timer = None
        channel = self.channel
        if channel is None:
            return
        if channel.generation != self._generation:
            self._generation = channel.generation
            self._rows.clear()
            self._history = None
            self.refresh()
        if channel.pump(FEED_CHUNK):
            if not self.history_offset:
                # Scrolled back, the history stays as it was when scrolling began (rebuilding 10,000
                # rows per frame during a flood would stall the UI); at the live screen it is rebuilt lazily.
                self._history = None
            self._refresh_dirty()
        else:
            self.refresh()
        if channel.pending:
            self._pump_timer = self.set_timer(FRAME_INTERVAL, self._pump)
        elif channel.state in ("ended", "error"):
            self.post_message(self.ConsoleEnded(channel.session_id, channel.error))

    def _refresh_dirty(self) -> None:
        dirty = self.emulator.take_dirty()  # includes the rows the cursor left and entered
        for row in dirty:
            self._rows.pop(row, None)
        if self.history_offset:  # rows sit at other places on screen: repaint everything
            self.refresh()
            return
        width = self.size.width
        if dirty:
            self.refresh(*(Region(0, row, width, 1) for row in dirty))

    # -- rendering ------------------------------------------------------------------------------------
    def _live_row(self, y: int, cols: int) -> Strip:
        strip = self._rows.get(y)
        if strip is None or strip.cell_length != cols:
            strip = self._painter.strip(self.emulator.buffer[y], cols)
            self._rows[y] = strip
        return strip

    def _history_rows(self) -> list[Any]:
        if self._history is None:
            self._history = self.emulator.history_rows()
        return self._history

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        emulator = self.emulator
        if emulator is None:
            return Strip.blank(width, self.rich_style)
        rows = emulator.rows
        if self.history_offset:
            history = self._history_rows()
            index = len(history) - self.history_offset + y
            if index < 0:
                strip = Strip.blank(width)
            elif index < len(history):
                strip = self._painter.strip(history[index], emulator.cols)
            elif index - len(history) < rows:
                strip = self._live_row(index - len(history), emulator.cols)
            else:
                strip = Strip.blank(width)
        elif y < rows:
            strip = self._live_row(y, emulator.cols)
            cursor = emulator.cursor
            if y == cursor.y and emulator.cursor_visible and not self.scroll_mode:
                strip = self._with_cursor(strip, cursor.x)
        else:
            strip = Strip.blank(width)
        if self.scroll_mode and self._row_selected(y):
            strip = strip.apply_style(Style(reverse=True))
        elif self.scroll_mode and y == self._scroll_cursor:
            strip = strip.apply_style(Style(underline=True))
        return strip.apply_style(self.rich_style).adjust_cell_length(width, self.rich_style)

    def _with_cursor(self, strip: Strip, x: int) -> Strip:
        if x >= strip.cell_length:
            return strip
        style = Style(reverse=True) if self.has_focus else Style(underline=True)
        if x:
            left, cell, right = strip.divide([x, x + 1, strip.cell_length])
        else:
            left, (cell, right) = Strip([]), strip.divide([1, strip.cell_length])
        return Strip.join([left, cell.apply_style(style), right])

    # -- scroll and copy mode: walk the emulator's history, select lines, copy them ------------------------
    def scroll_history(self, lines: int) -> None:
        """Move the view `lines` back (positive) or forward into the history."""
        if self.emulator is None:
            return
        if not self.history_offset:
            self._history = None  # scrolling starts: take the history as it is now
        limit = len(self._history_rows())
        self.history_offset = max(0, min(limit, self.history_offset + lines))
        self.refresh()

    def enter_scroll_mode(self, select: bool = False) -> None:
        """Keys now move through history; with `select`, copy mode starts at the bottom line."""
        if self.emulator is None:
            return
        self.scroll_mode = True
        self._scroll_cursor = self._view_height() - 1
        self._anchor = self._scroll_cursor
        self.selecting = select
        self.refresh()

    def exit_scroll_mode(self) -> None:
        """Back to the live screen; keys reach the program again."""
        self.scroll_mode = False
        self.selecting = False
        self.history_offset = 0
        self.refresh()

    def _scroll_key(self, key: str) -> None:
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
            self.history_offset = 0
            self._scroll_cursor = height - 1
            self.refresh()
        elif key in ("v", "space"):
            self.selecting = not self.selecting
            self._anchor = self._scroll_cursor
            self.refresh()
        elif key in ("y", "enter") and self.selecting:
            self.copy_selection()

    def _move_scroll_cursor(self, delta: int) -> None:
        height = self._view_height()
        target = self._scroll_cursor + delta
        if target < 0:
            before = self.history_offset
            self.scroll_history(-target)
            self._anchor += self.history_offset - before
            target = 0
        elif target >= height:
            before = self.history_offset
            self.scroll_history(-(target - height + 1))
            self._anchor += self.history_offset - before
            target = height - 1
        self._scroll_cursor = target
        self.refresh()

    def view_line_text(self, y: int) -> str:
        """The plain text of the view's row `y` as currently scrolled."""
        emulator = self.emulator
        history = self._history_rows()
        index = len(history) - self.history_offset + y
        if 0 <= index < len(history):
            line = history[index]
        elif 0 <= index - len(history) < emulator.rows:
            line = emulator.buffer[index - len(history)]
        else:
            return ""
        width = min(emulator.cols, len(line)) if isinstance(line, list) else emulator.cols
        return "".join(line[x].data for x in range(width)).rstrip()

    def copy_selection(self) -> str:
        """Copy the selected lines to the clipboard (OSC 52), leave scroll mode, and return the text."""
        low, high = sorted((self._anchor, self._scroll_cursor))
        text = "\n".join(self.view_line_text(y) for y in range(low, high + 1))
        self.app.copy_to_clipboard(text)
        count = high - low + 1
        self.post_message(self.Notice(f"copied {count} line{'s' if count != 1 else ''}"))
        self.exit_scroll_mode()
        return text

    def _row_selected(self, y: int) -> bool:
        if not self.selecting:
            return False
        low, high = sorted((self._anchor, self._scroll_cursor))
        return low <= y <= high

    def action_prefix(self) -> None:
        """Arm the prefix (from a footer click; the key itself arms it in `on_key`)."""
        self.prefix_pending = True

    # -- input -----------------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Write bytes to the console (scrolling the view back to live)."""
        if self.channel is None or not data:
            return
        if self.history_offset:
            self.history_offset = 0
            self.refresh()
        self.channel.send(data)

    async def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if self.app.focused is not self:
            # Focus moved on (prefix then o) while this key was already queued here: the app forwards keys
            # to whoever had focus when it read them. Hand it back so it reaches the new focus, in order.
            self.app.post_message(events.Key(event.key, event.character))
            return
        key = event.key
        if self.prefix_pending:
            self.prefix_pending = False
            self._prefix_command(key)
            return
        if key == self.prefix_key:
            self.prefix_pending = True
            return
        if self.scroll_mode:
            self._scroll_key(key)
            return
        emulator = self.emulator
        encoded = encode_key(key, event.character,
                             application_cursor=bool(emulator is not None and emulator.app_cursor_keys))
        if encoded is not None:
            self.send(encoded)

    def _prefix_command(self, key: str) -> None:
        if key == self.prefix_key:
            self.send(self.prefix_bytes)
            return
        if len(key) == 1 and key.isdigit() and key != "0":
            self._command(self.Command("jump", int(key)))
            return
        command = PREFIX_COMMANDS.get(key)
        if command == "scroll":
            self.enter_scroll_mode()
        elif command == "copy":
            self.enter_scroll_mode(select=True)
        elif command is not None:
            self._command(self.Command(command))
        else:
            self._command(self.Command("other", key=key))

    def _command(self, command: Command) -> None:
        # Synchronously when the app gave a handler: a posted message would arrive after keys already
        # queued behind the prefix (prefix, o, then typing fast would send the typing to the program).
        if self.command_handler is not None:
            self.command_handler(command)
        else:
            self.post_message(command)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        text = event.text.replace("\r\n", "\r").replace("\n", "\r")
        emulator = self.emulator
        if emulator is not None and emulator.bracketed_paste:
            self.send(b"\x1b[200~" + text.encode() + b"\x1b[201~")
        else:
            self.send(text.encode())

    # -- mouse -------------------------------------------------------------------------------------------
    def _mouse_report(self, event: events.MouseEvent, button: int, release: bool = False) -> bool:
        """Send a mouse report if the program asked for them (SGR 1006 encoding, else X10)."""
        emulator = self.emulator
        if emulator is None or not emulator.mouse_tracking or self.scroll_mode:
            return False
        data = encode_mouse(button, event.x, event.y, release=release, sgr=emulator.mouse_sgr,
                            shift=event.shift, meta=event.meta, ctrl=event.ctrl)
        if data is not None:
            self.send(data)
        return True

    @staticmethod
    def _button_code(event: events.MouseEvent) -> int:
        return {1: 0, 2: 1, 3: 2}.get(event.button, 0)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self._mouse_report(event, self._button_code(event)):
            event.stop()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._mouse_report(event, self._button_code(event), release=True):
            event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        emulator = self.emulator
        mode = None if emulator is None else emulator.mouse_tracking
        if mode == 1003 or (mode == 1002 and event.button):
            self._mouse_report(event, 32 + (self._button_code(event) if event.button else 3))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        if not self._mouse_report(event, 64):
            self.scroll_history(3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        if not self._mouse_report(event, 65):
            self.scroll_history(-3)

    # -- size ----------------------------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._rows.clear()
        self._schedule_resize()

    def _schedule_resize(self) -> None:
        if self._resize_timer is not None:
            self._resize_timer.stop()
        self._resize_timer = self.set_timer(RESIZE_DEBOUNCE, self._apply_resize)

    async def _apply_resize(self) -> None:
        self._resize_timer = None
        channel = self.channel
        if channel is None or channel.emulator is None:
            return
        cols, rows = self.terminal_size()
        if cols and rows:
            await channel.resize(cols, rows)
        self._rows.clear()
        self._history = None
        self.refresh()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def watch_prefix_pending(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.prefix_pending = False
        self.refresh()
