"""A snapshot fed to a fresh emulator rebuilds the screen, history, cursor and modes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.terminal import TerminalEmulator

from .test_terminal_strategies import EXTENDED_TOKEN, chunked

LEAVE_ALT = b"\x1b[?1049l"


def rows_of(emulator: TerminalEmulator) -> list[list]:
    screen = emulator.screen
    return [[screen.buffer[y][x] for x in range(screen.columns)] for y in range(screen.lines)]


def state_of(emulator: TerminalEmulator) -> dict:
    screen = emulator.screen
    return {
        "rows": rows_of(emulator),
        "cursor": (screen.cursor.x, screen.cursor.y, screen.cursor.attrs),
        "modes": set(screen.mode),
        "margins": screen.margins,
        "alt": emulator.alt_screen,
        "title": emulator.title,
        "visible": emulator.cursor_visible,
    }


def assert_rebuilt(a: TerminalEmulator, scrollback: int = 200) -> TerminalEmulator:
    b = TerminalEmulator(a.cols, a.rows)
    b.feed(a.snapshot(scrollback))
    assert state_of(b) == state_of(a)
    assert b.history_lines() == a.history_lines()[-scrollback:] if scrollback else b.history_lines() == []
    # Leaving the alternate screen must reveal the same main screen underneath.
    a.feed(LEAVE_ALT)
    b.feed(LEAVE_ALT)
    assert state_of(b) == state_of(a)
    return b


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=chunked(EXTENDED_TOKEN), size=st.sampled_from([(10, 4), (20, 6), (80, 24), (7, 13)]),
       scrollback=st.sampled_from([0, 3, 200]),
       resize=st.none() | st.tuples(st.integers(0, 6), st.integers(3, 30), st.integers(2, 12)))
def test_snapshot_rebuilds_random_screens(chunks: list[bytes], size: tuple[int, int], scrollback: int,
                                          resize: tuple[int, int, int] | None) -> None:
    a = TerminalEmulator(*size)
    for index, chunk in enumerate(chunks):
        if resize is not None and index == resize[0]:
            a.resize(resize[1], resize[2])
        a.feed(chunk)
    assert_rebuilt(a, scrollback)


def test_snapshot_mid_escape_sequence_continues_it() -> None:
    a = TerminalEmulator(20, 3)
    a.feed(b"x\x1b]2;half a ti")
    b = TerminalEmulator(20, 3)
    b.feed(a.snapshot())
    for emulator in (a, b):
        emulator.feed(b"tle\x07\x1b[3")
        emulator.feed(b"1mred")
    assert b.title == a.title == "half a title"
    assert state_of(b) == state_of(a)


def test_snapshot_keeps_colours_and_attributes() -> None:
    a = TerminalEmulator(40, 5)
    a.feed(b"\x1b[1;3;4;5;7;9;38;5;202;48;2;1;2;3mX\x1b[0;38:2::9:8:7;44mY\x1b[0;93;105mZ")
    b = assert_rebuilt(a)
    x, y, z = (b.buffer[0][i] for i in range(3))
    assert (x.bold, x.italics, x.underscore, x.blink, x.reverse, x.strikethrough) == (True,) * 6
    assert (x.bg, y.fg, y.bg, z.fg, z.bg) == ("010203", "090807", "blue", "brightbrown", "bfightmagenta")


def test_snapshot_rebuilds_orphaned_wide_char_halves() -> None:
    # Overwriting a wide char's left half leaves pyte's "" right half behind; combining marks
    # after a wide char land in that half. Both must survive, including in the last column.
    a = TerminalEmulator(6, 3)
    a.feed("一\x1b[1GA\r\n中\u0301\x1b[31m\x1b[5G文\x1b[5Gb\r\n\x1b[4G一\x1b[4Gz\x1b[6G\u0301".encode())
    assert_rebuilt(a)


@pytest.mark.parametrize("row", ["\x1b[5G一\u0301", "\x1b[5G一\u0301\x1b[6G\u0308", "\x1b[4G\x1b[31m一\x1b[32m\u0301"])
def test_snapshot_rebuilds_marks_on_last_wide_char(row: str) -> None:
    a = TerminalEmulator(6, 2)
    a.feed(row.encode())
    assert_rebuilt(a)


def test_snapshot_rebuilds_alt_screen_over_main() -> None:
    a = TerminalEmulator(20, 5)
    a.feed(b"main line\r\n\x1b[32mgreen\x1b[?1049h\x1b[HALT \x1b[1mbold\x1b[?2004h\x1b[?1002h\x1b[?1006h\x1b[?25l")
    b = TerminalEmulator(20, 5)
    b.feed(a.snapshot())
    assert b.alt_screen and b.text() == "ALT bold" and b.bracketed_paste and b.mouse_sgr
    assert b.mouse_tracking == 1002 and not b.cursor_visible
    b.feed(LEAVE_ALT)
    assert b.text() == "main line\ngreen"
    assert (b.cursor.x, b.cursor.y) == (5, 1)


def test_snapshot_pending_wrap_continues_on_next_line() -> None:
    a = TerminalEmulator(5, 3)
    a.feed(b"abcde")
    b = TerminalEmulator(5, 3)
    b.feed(a.snapshot())
    a.feed(b"f")
    b.feed(b"f")
    assert b.text() == a.text() == "abcde\nf"
