"""The terminal view: renders a session's emulator and sends every key, paste and mouse event to its console.

Output is fed to the emulator in bounded chunks, one per refresh tick, so a flood never freezes the UI;
only rows the emulator marks dirty are rebuilt (per-row Strip cache). Every key reaches the program except
the prefix key (tmux-style), which opens a one-key command: switch session, leave, scroll or copy.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from runtime.terminal.colors import color_ansi_index, color_to_rich
from themes import terminal_palette

from ..consoles import FEED_CHUNK, ConsoleChannel
from ..keys import encode_key, key_bytes_for_spec, textual_key_name

RESIZE_DEBOUNCE = 0.1
"""Seconds the size must hold still before the console is resized."""
FRAME_INTERVAL = 1 / 60
"""Seconds between feed-and-refresh ticks while output is queued."""

PREFIX_COMMANDS: dict[str, str] = {
    "escape": "leave", "o": "leave", "n": "next", "p": "previous", "s": "switcher", "f": "switcher",
    "left_square_bracket": "scroll", "y": "copy", "c": "copy", "question_mark": "help",
}
"""What the key after the prefix does (plus `1`-`9`: show session N)."""


def terminal_colour(value: Any, palette: tuple[str, ...]) -> Color | None:
    """A pyte colour value as a rich Color, ANSI 0-15 taken from the theme's palette; None for the default."""
    if isinstance(value, int):
        return Color.parse(palette[value]) if value < 16 else Color.from_ansi(value)
    index = color_ansi_index(value)
    if index is not None:
        return Color.parse(palette[index])
    name = color_to_rich(value)
    return None if name is None else Color.parse(name)


class TerminalView(Widget, can_focus=True):
    """Shows one `ConsoleChannel` and forwards input to it."""

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
    scroll_offset: reactive[int] = reactive(0, repaint=False)
    """Lines scrolled back into history (0: the live screen)."""
    scroll_mode: reactive[bool] = reactive(False)
    """Keys move through history instead of reaching the program."""
    selecting: reactive[bool] = reactive(False)
    """Copy mode: lines between the anchor and the scroll cursor are selected."""

    class Command(Message):
        """A prefix command the app handles: leave, next, previous, switcher, help, or jump (`index`)."""

        def __init__(self, name: str, index: int | None = None) -> None:
            super().__init__()
            self.name = name
            self.index = index

    class Notice(Message):
        """Something the person should read (a copy happened, a write failed)."""

        def __init__(self, text: str, severity: str = "information") -> None:
            super().__init__()
            self.text = text
            self.severity = severity

    BELL_KEYS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, prefix_key: str = "ctrl+]", theme_name: str = "clauderon-dark",
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.prefix_key = textual_key_name(prefix_key)
        self.prefix_bytes = key_bytes_for_spec(prefix_key)
        self.palette = terminal_palette(theme_name)
        self.channel: ConsoleChannel | None = None
        self._rows: dict[int, Strip] = {}
        self._styles: dict[tuple[Any, ...], Style] = {}
        self._history: list[Any] | None = None
        self._pump_timer: Timer | None = None
        self._resize_timer: Timer | None = None
        self._scroll_cursor = 0
        self._anchor = 0

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
        self.scroll_mode = False
        self.selecting = False
        self.scroll_offset = 0
        self.prefix_pending = False

    @property
    def emulator(self) -> Any:
        return None if self.channel is None else self.channel.emulator

    def terminal_size(self) -> tuple[int, int]:
        """The console size this view asks for: its content size (at least 2x1)."""
        return max(2, self.content_size.width), max(1, self.content_size.height)

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
        if channel.pump(FEED_CHUNK):
            self._history = None
            self._refresh_dirty()
        else:
            self.refresh()
        if channel.pending:
            self._pump_timer = self.set_timer(FRAME_INTERVAL, self._pump)

    def _refresh_dirty(self) -> None:
        emulator = self.emulator
        dirty = emulator.take_dirty()
        if self.scroll_offset:
            self.refresh()
            return
        for row in dirty:
            self._rows.pop(row, None)
        # The cursor moves without dirtying rows: always repaint its row and the one it left.
        cursor_row = emulator.cursor.y
        rows = set(dirty) | {cursor_row, getattr(self, "_last_cursor_row", cursor_row)}
        self._last_cursor_row = cursor_row
        for row in rows:
            self.refresh_line(row)

    # -- rendering ------------------------------------------------------------------------------------
    def _style(self, char: Any) -> Style:
        key = (char.fg, char.bg, char.bold, char.italics, char.underscore, char.strikethrough, char.reverse)
        style = self._styles.get(key)
        if style is None:
            style = Style(color=terminal_colour(char.fg, self.palette), bgcolor=terminal_colour(char.bg, self.palette),
                          bold=char.bold or None, italic=char.italics or None, underline=char.underscore or None,
                          strike=char.strikethrough or None, reverse=char.reverse or None)
            self._styles[key] = style
        return style

    def _row_strip(self, line: Any, cols: int) -> Strip:
        """One emulator row (pyte-style `{col: Char}`) as a Strip of `cols` cells."""
        if isinstance(line, str):
            return Strip([Segment(line)]).adjust_cell_length(cols)
        segments: list[Segment] = []
        text: list[str] = []
        current: Style | None = None
        default = None
        for x in range(cols):
            char = line[x] if x in line else None
            if char is None:
                if default is None:
                    default = Style()
                style, data = default, " "
            else:
                data = char.data
                if data == "":  # the second cell of a wide character
                    continue
                style = self._style(char)
            if style is not current:
                if text:
                    segments.append(Segment("".join(text), current))
                text, current = [], style
            text.append(data)
        if text:
            segments.append(Segment("".join(text), current))
        return Strip(segments).adjust_cell_length(cols)

    def _live_row(self, y: int, cols: int) -> Strip:
        strip = self._rows.get(y)
        if strip is None or strip.cell_length != cols:
            strip = self._row_strip(self.emulator.buffer[y], cols)
            self._rows[y] = strip
        return strip

    def _history_rows(self) -> list[Any]:
        if self._history is None:
            self._history = list(self.emulator.history_lines())
        return self._history

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        emulator = self.emulator
        if emulator is None:
            return Strip.blank(width, self.rich_style)
        rows = emulator.rows
        if self.scroll_offset:
            history = self._history_rows()
            index = len(history) - self.scroll_offset + y
            if index < 0:
                strip = Strip.blank(width)
            elif index < len(history):
                strip = self._row_strip(history[index], emulator.cols)
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
        if self.scroll_mode and self._selected(y):
            strip = strip.apply_style(Style(reverse=True))
        elif self.scroll_mode and y == self._scroll_cursor:
            strip = strip.apply_style(Style(underline=True))
        return strip.apply_style(self.rich_style).adjust_cell_length(width, self.rich_style)

    def _with_cursor(self, strip: Strip, x: int) -> Strip:
        if x >= strip.cell_length:
            return strip
        style = Style(reverse=True) if self.has_focus else Style(underline=True)
        left, cell, right = strip.divide([x, x + 1, strip.cell_length]) if x else (Strip([]), *strip.divide([1, strip.cell_length]))
        return Strip.join([left, cell.apply_style(style), right])

    def _selected(self, y: int) -> bool:
        if not self.selecting:
            return False
        low, high = sorted((self._anchor, self._scroll_cursor))
        return low <= y <= high

    # -- input -----------------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Write bytes to the console (scrolling the view back to live)."""
        if self.channel is None or not data:
            return
        if self.scroll_offset:
            self.scroll_offset = 0
            self.refresh()
        self.run_worker(self.channel.write(data), group="console-write", exit_on_error=False)

    async def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
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
                             application_cursor=bool(emulator is not None and emulator.application_cursor))
        if encoded is not None:
            self.send(encoded)

    def _prefix_command(self, key: str) -> None:
        if key == self.prefix_key:
            self.send(self.prefix_bytes)
            return
        if len(key) == 1 and key.isdigit() and key != "0":
            self.post_message(self.Command("jump", int(key)))
            return
        command = PREFIX_COMMANDS.get(key)
        if command == "scroll":
            self.enter_scroll_mode()
        elif command == "copy":
            self.enter_scroll_mode(select=True)
        elif command is not None:
            self.post_message(self.Command(command))

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
        emulator = self.emulator
        if emulator is None or not emulator.mouse_tracking or self.scroll_mode:
            return False
        button += (4 if event.shift else 0) + (8 if event.meta else 0) + (16 if event.ctrl else 0)
        final = "m" if release else "M"
        self.send(f"\x1b[<{button};{event.x + 1};{event.y + 1}{final}".encode())
        return True

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self._mouse_report(event, event.button - 1 if event.button else 0):
            event.stop()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._mouse_report(event, event.button - 1 if event.button else 0, release=True):
            event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        emulator = self.emulator
        if emulator is None or not emulator.mouse_motion:
            return
        if event.button or emulator.mouse_any_motion:
            self._mouse_report(event, 32 + (event.button - 1 if event.button else 3))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        if not self._mouse_report(event, 64):
            self.scroll_history(3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        if not self._mouse_report(event, 65):
            self.scroll_history(-3)

    # -- scroll and copy mode ---------------------------------------------------------------------------
    def scroll_history(self, lines: int) -> None:
        """Move the view `lines` back (positive) or forward into the history."""
        if self.emulator is None:
            return
        limit = len(self._history_rows())
        self.scroll_offset = max(0, min(limit, self.scroll_offset + lines))
        self.refresh()

    def enter_scroll_mode(self, select: bool = False) -> None:
        """Keys now move through history; with `select`, copy mode starts at the bottom line."""
        if self.emulator is None:
            return
        self.scroll_mode = True
        self._scroll_cursor = max(0, self.terminal_size()[1] - 1)
        self._anchor = self._scroll_cursor
        self.selecting = select
        self.refresh()

    def exit_scroll_mode(self) -> None:
        """Back to the live screen; keys reach the program again."""
        self.scroll_mode = False
        self.selecting = False
        self.scroll_offset = 0
        self.refresh()

    def _scroll_key(self, key: str) -> None:
        height = self.terminal_size()[1]
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

    def _move_scroll_cursor(self, delta: int) -> None:
        height = self.terminal_size()[1]
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

    def view_line_text(self, y: int) -> str:
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
        if isinstance(line, str):
            return line.rstrip()
        return "".join(line[x].data for x in range(emulator.cols) if x in line).rstrip()

    def copy_selection(self) -> str:
        """Copy the selected lines to the clipboard (OSC 52), leave scroll mode, and return the text."""
        low, high = sorted((self._anchor, self._scroll_cursor))
        text = "\n".join(self.view_line_text(y) for y in range(low, high + 1))
        self.app.copy_to_clipboard(text)
        count = high - low + 1
        self.post_message(self.Notice(f"copied {count} line{'s' if count != 1 else ''}"))
        self.exit_scroll_mode()
        return text

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
