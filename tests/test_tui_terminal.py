"""The terminal widget: paste, mouse, resize, bounded feeding, scroll and copy modes."""

from __future__ import annotations

from rich.color import Color
from textual.events import Paste

from clauderon_tui.consoles import FEED_CHUNK, ConsoleChannel
from clauderon_tui.widgets.terminal import TerminalView
from clauderon_tui.widgets.terminal_rows import RowPainter, terminal_colour
from runtime.terminal import TerminalEmulator
from tests.fake_engine import fake_app, wait_until
from themes import terminal_palette

SIZE = (120, 36)
PREFIX = "ctrl+right_square_bracket"


async def _focused_terminal(pilot, name: str = "fix-login-bug"):
    app = pilot.app
    await wait_until(pilot, lambda: app.sessions and app.selected_id, "snapshot")
    app.show_session(app.client._find(name).id)
    await pilot.pause()
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.terminal.channel is not None and app.terminal.channel.state == "live",
                     "the console")
    console = app.client.console_for(name)
    console.echo = False
    return app.terminal, console


async def _program_prints(pilot, terminal: TerminalView, console, data: bytes) -> None:
    """Make the program print, and wait until the view has read and fed all of it."""
    console.feed_output(data)
    await wait_until(pilot, lambda: console._output.empty() and not terminal.channel.pending
                     and terminal._pump_timer is None, "output to be fed")


async def test_paste_plain_and_bracketed() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        terminal.post_message(Paste("one\ntwo"))
        await wait_until(pilot, lambda: bytes(console.received) == b"one\rtwo", "plain paste")
        await _program_prints(pilot, terminal, console, b"\x1b[?2004h")
        await wait_until(pilot, lambda: terminal.emulator.bracketed_paste, "bracketed mode")
        console.received.clear()
        terminal.post_message(Paste("x y"))
        await wait_until(pilot, lambda: bytes(console.received) == b"\x1b[200~x y\x1b[201~", "bracketed paste")


async def test_application_cursor_mode_changes_arrows() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        await pilot.press("up")
        await _program_prints(pilot, terminal, console, b"\x1b[?1h")
        await wait_until(pilot, lambda: terminal.emulator.app_cursor_keys, "DECCKM")
        await pilot.press("up")
        assert bytes(console.received) == b"\x1b[A\x1bOA"


async def test_mouse_passes_through_only_when_enabled() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        await pilot.click(TerminalView, offset=(4, 2))
        assert bytes(console.received) == b""
        await _program_prints(pilot, terminal, console, b"\x1b[?1000h\x1b[?1006h")
        await wait_until(pilot, lambda: terminal.emulator.mouse_tracking == 1000, "mouse mode")
        await pilot.click(TerminalView, offset=(4, 2))
        assert bytes(console.received) == b"\x1b[<0;5;3M\x1b[<0;5;3m"


async def test_resize_reaches_console_debounced() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        # The console was opened at the view's size: nothing to resize yet.
        assert (console.cols, console.rows) == terminal.terminal_size()
        await pilot.pause(0.2)
        count = len(console.resizes)
        await pilot.resize_terminal(100, 30)
        await pilot.resize_terminal(90, 28)
        await wait_until(pilot, lambda: console.resizes and console.resizes[-1] == terminal.terminal_size(),
                         "the new size")
        cols, rows = console.resizes[-1]
        assert (terminal.emulator.cols, terminal.emulator.rows) == (cols, rows)
        assert cols <= 90 and rows < 28  # at 90 columns the session bar stands in for the sidebar
        assert len(console.resizes) > count


async def test_flood_is_fed_in_bounded_chunks() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        channel = terminal.channel
        fed: list[int] = []
        original = channel.emulator.feed

        def spy(data: bytes) -> None:
            fed.append(len(data))
            original(data)

        channel.emulator.feed = spy  # type: ignore[method-assign]
        flood = b"".join(b"line %06d ----------------------------------------\r\n" % i for i in range(6000))
        console.feed_output(flood)
        await wait_until(pilot, lambda: sum(fed) == len(flood), "the flood to be fed", tries=2000)
        assert max(fed) <= FEED_CHUNK
        assert len(fed) >= len(flood) // FEED_CHUNK
        assert "line 005999" in terminal.emulator.text()


async def test_scroll_mode_walks_history_and_exits() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        await _program_prints(pilot, terminal, console,
                              b"".join(b"row %d\r\n" % i for i in range(200)))
        await pilot.press(PREFIX, "left_square_bracket")
        assert terminal.scroll_mode
        assert "SCROLL" in str(app.query_one("#pane-title").render())
        await pilot.press("pageup", "pageup")
        assert terminal.history_offset > 0
        await pilot.press("g")
        assert terminal.history_offset == terminal.emulator.history_size
        assert terminal.view_line_text(0) == "row 0"
        await pilot.press("G")
        assert terminal.history_offset == 0
        await pilot.press("pageup", "q")
        assert not terminal.scroll_mode and terminal.history_offset == 0
        assert bytes(console.received) == b""
        await pilot.press("x")
        assert bytes(console.received) == b"x"


async def test_copy_mode_copies_selected_lines() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        await _program_prints(pilot, terminal, console,
                              b"".join(b"row %d\r\n" % i for i in range(100)))
        await pilot.press(PREFIX, "y")
        assert terminal.scroll_mode and terminal.selecting
        rows = terminal.size.height
        # Bottom line is empty (the cursor's line); go up three lines to the last three rows printed.
        for _ in range(3):
            await pilot.press("up")
        await pilot.press("y")
        assert not terminal.scroll_mode
        assert app.clipboard == "row 97\nrow 98\nrow 99\n"
        assert rows > 4
        assert bytes(console.received) == b""


async def test_console_error_is_shown_in_the_pane() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "snapshot")
        original = app.client.console

        async def refuse(ref, cols, rows):
            from runtime.errors import EngineUnavailable
            raise EngineUnavailable("engine is restarting; try again in a moment")

        app.client.console = refuse  # type: ignore[method-assign]
        app.show_session("id-fix-login")
        await wait_until(pilot, lambda: "restarting" in app.pane.message, "the error message")
        assert app.terminal.channel is None
        app.client.console = original  # type: ignore[method-assign]


def test_palette_colours_and_true_colour() -> None:
    palette = terminal_palette("clauderon-dark")
    assert terminal_colour("red", palette) == Color.parse(palette[1])
    assert terminal_colour("brown", palette) == Color.parse(palette[3])
    assert terminal_colour("bfightmagenta", palette) == Color.parse(palette[13])
    assert terminal_colour("ff8000", palette) == Color.parse("#ff8000")
    assert terminal_colour("default", palette) is None


def test_rows_painted_from_runs_match_rows_painted_from_cells() -> None:
    emulator = TerminalEmulator(12, 3)
    emulator.feed("\x1b[31mred\x1b[0m \x1b[1mbold ✓\x1b[0m\r\n中文 e\u0301x\x1b[5Gy\r\n".encode())
    emulator.feed(b"\x1b[44mwrap around here\x1b[0m")
    painter = RowPainter(terminal_palette("clauderon-dark"))
    rows = [emulator.screen.buffer[y] for y in range(3)] + emulator.history_rows()
    for row in rows:  # runs, a row expanded to cells, history packed from runs
        assert list(painter.strip(row, 12)) == list(painter.strip(row.chars(12), 12))


async def test_channel_feeds_in_background_when_not_shown() -> None:
    from tests.fake_engine import FakeEngineClient, sample_sessions

    client = FakeEngineClient(sample_sessions(), echo=False)
    channel = ConsoleChannel("id-fix-login", 1000)
    await channel.open(client, 40, 10)
    console = client.consoles["id-fix-login"]
    console.feed_output(b"background output")
    import asyncio
    for _ in range(50):
        await asyncio.sleep(0)
        if "background output" in channel.emulator.text():
            break
    assert "background output" in channel.emulator.text()
    await channel.close()
    assert console.closed


async def test_console_end_reconnects_while_running() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        first = terminal.channel
        await console.close()
        await wait_until(pilot, lambda: terminal.channel is not None and terminal.channel is not first
                         and terminal.channel.state == "live", "a new console")
        new_console = app.client.console_for("fix-login-bug")
        assert new_console is not console
        await pilot.press("z")
        assert bytes(new_console.received) == b"z"


async def test_resync_rebuilds_the_screen_from_the_snapshot() -> None:
    from runtime.api.client import RESYNC

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        await _program_prints(pilot, terminal, console, b"stale text")
        await wait_until(pilot, lambda: "stale text" in terminal.emulator.text(), "stale text")
        console.snapshot = b"\x1b[2J\x1b[Hfresh screen"
        console.feed_output(RESYNC)
        await wait_until(pilot, lambda: "fresh screen" in terminal.emulator.text(), "the resync")
        assert "stale text" not in terminal.emulator.text()


async def test_theme_change_repaints_with_its_palette() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        await _program_prints(pilot, terminal, console, b"\x1b[31mred\x1b[0m")
        before = terminal.render_line(0)
        app.theme = "textual-light"
        await pilot.pause()
        after = terminal.render_line(0)
        assert before.text == after.text
        assert before != after  # colour 1 and the background come from the new theme


async def test_resize_by_another_viewer_is_followed_in_stream_order() -> None:
    from runtime.api.client import RESIZED

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        console.cols, console.rows = 50, 12
        await _program_prints(pilot, terminal, console, b"before" + b"x" * 60)
        console.feed_output(RESIZED)
        await wait_until(pilot, lambda: (terminal.emulator.cols, terminal.emulator.rows) == (50, 12), "the resize")
        # Text printed before the resize was laid out at the old width (one row of 66 characters).
        assert terminal.emulator.text().splitlines()[0].startswith("beforexxx")


def test_output_queue_takes_from_the_front_in_order() -> None:
    from clauderon_tui.consoles import OutputQueue

    queue = OutputQueue(b"abc")
    queue += b"defg"
    queue += b""
    assert len(queue) == 7
    assert queue.take(2) == b"ab"
    assert queue.take(3) == b"cde"
    assert len(queue) == 2 and bool(queue)
    assert queue.take(10) == b"fg"
    assert not queue and queue.take(5) == b""


async def test_mouse_drag_without_mouse_tracking_keeps_the_app_running() -> None:
    # The view's history position once shadowed Textual's `Widget.scroll_offset` (an Offset) with an int, and
    # Textual's text selection, adding the two on a drag, raised TypeError and took the whole app down.
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        terminal, console = await _focused_terminal(pilot)
        await _program_prints(pilot, terminal, console, b"hello world\r\nsecond line\r\n")
        await pilot.mouse_down(terminal, offset=(2, 1))
        await pilot.hover(terminal, offset=(8, 3))
        await pilot.mouse_up(terminal, offset=(8, 3))
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert bytes(console.received) == b""
