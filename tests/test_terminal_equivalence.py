"""The fast path leaves exactly the screen stock pyte leaves, on stock pyte's features."""

from __future__ import annotations

from typing import Any

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.terminal import TerminalEmulator
from runtime.terminal.line import Line, RunLine

from .test_terminal_strategies import EXTENDED_TOKEN, REWRITING, STOCK_TOKEN_REWRITING, chunked


def assert_same_screen(ours: TerminalEmulator, stock: pyte.Screen) -> None:
    screen = ours.screen
    assert (screen.columns, screen.lines) == (stock.columns, stock.lines)
    for y in range(stock.lines):
        mine = [screen.buffer[y][x] for x in range(stock.columns)]
        theirs = [stock.buffer[y][x] for x in range(stock.columns)]
        assert mine == theirs, f"row {y} differs"
    assert (screen.cursor.x, screen.cursor.y) == (stock.cursor.x, stock.cursor.y)
    assert screen.cursor.attrs == stock.cursor.attrs
    assert screen.mode == stock.mode
    assert screen.margins == stock.margins


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=chunked(STOCK_TOKEN_REWRITING), size=st.sampled_from([(10, 4), (20, 6), (80, 24), (7, 13)]))
def test_same_screen_as_stock_pyte(chunks: list[bytes], size: tuple[int, int]) -> None:
    cols, rows = size
    ours = TerminalEmulator(cols, rows)
    stock = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(stock)
    for chunk in chunks:
        ours.feed(chunk)
        stream.feed(chunk)
    assert_same_screen(ours, stock)


def test_long_ascii_runs_wrap_and_scroll_like_stock() -> None:
    data = ("".join(chr(32 + (i % 95)) for i in range(1000)) + "\r\n" + "x" * 333).encode()
    ours, stock = TerminalEmulator(17, 5), pyte.Screen(17, 5)
    ours.feed(data)
    pyte.ByteStream(stock).feed(data)
    assert_same_screen(ours, stock)


def test_no_autowrap_overwrites_last_column_like_stock() -> None:
    data = b"\x1b[?7l" + b"abcdefghijklmnop" + b"\r\n" + b"0123456789" * 3
    ours, stock = TerminalEmulator(8, 3), pyte.Screen(8, 3)
    ours.feed(data)
    pyte.ByteStream(stock).feed(data)
    assert_same_screen(ours, stock)
    assert ours.text() == "abcdefgp\n01234569"


@pytest.mark.parametrize("params", [
    "", "0", "1;0;4", "39;49", "105", "43;93", "38;5;300", "38;5", "38;2;1", "0;1;38;2;300;2;3",
    "38;2;1;2;3;48;5;17;7", "22;23;24;25;27;29", "5;7;9;38;5;0",
])
def test_sgr_edge_cases_like_stock(params: str) -> None:
    data = f"\x1b[1;31;44mx\x1b[{params}my".encode()
    ours, stock = TerminalEmulator(10, 2), pyte.Screen(10, 2)
    ours.feed(data)
    pyte.ByteStream(stock).feed(data)
    assert_same_screen(ours, stock)
    ours.feed(data)  # a second time through the caches
    pyte.ByteStream(stock).feed(data)
    assert_same_screen(ours, stock)


# -- rows as runs against rows as pyte's cells ------------------------------------------------------------------
# The screen keeps a row as runs of text until something needs its cells. With `line_class = Line` every row is
# pyte's dict of cells from the start: the proven model (compared with stock pyte above). The two must agree on
# everything, through features stock pyte lacks (scrollback, alternate screen, resize) as well.

RESIZE = st.tuples(st.integers(1, 30), st.integers(1, 12))
OPERATION = st.one_of(EXTENDED_TOKEN, EXTENDED_TOKEN, EXTENDED_TOKEN, REWRITING.map(str.encode), RESIZE)


def cells_only(emulator: TerminalEmulator) -> TerminalEmulator:
    """A fresh `emulator` whose rows are pyte's cells throughout."""
    emulator.screen.line_class = Line
    return emulator


def rendered(spans: list[tuple[str, Any]]) -> list[tuple[str, tuple[Any, ...]]]:
    """Spans as shown: text with the style part of its pen, neighbours of one style joined."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    for text, pen in spans:
        if out and out[-1][1] == pen[1:]:
            out[-1] = (out[-1][0] + text, out[-1][1])
        elif text:
            out.append((text, pen[1:]))
    return out


def full_state(emulator: TerminalEmulator) -> dict[str, Any]:
    screen = emulator.screen
    cols = screen.columns
    main = screen.alt.main_buffer if screen.alt is not None else screen.buffer
    return {
        "size": (cols, screen.lines),
        "rows": [screen.buffer[y].chars(cols) for y in range(screen.lines)],
        "wrapped": [screen.buffer[y].wrapped for y in range(screen.lines)],
        "main rows": [main[y].chars(cols) for y in range(screen.lines)],
        "main wrapped": [main[y].wrapped for y in range(screen.lines)],
        "history": emulator.history_lines(),
        "history wrapped": [line.wrapped for line in screen.history],
        "history spans": [rendered(line.spans(cols)) for line in screen.history],
        "spans": [rendered(screen.buffer[y].spans(cols)) for y in range(screen.lines)],
        "cursor": (screen.cursor.x, screen.cursor.y, screen.cursor.attrs),
        "mode": set(screen.mode),
        "margins": screen.margins,
        "text": emulator.text(),
        "snapshot": emulator.snapshot(),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(OPERATION, min_size=10, max_size=120),
       size=st.sampled_from([(10, 4), (20, 6), (80, 24), (7, 13), (1, 3), (2, 2)]))
def test_runs_leave_the_same_screen_as_cells(operations: list[bytes | tuple[int, int]],
                                             size: tuple[int, int]) -> None:
    runs, cells = TerminalEmulator(*size, scrollback=50), cells_only(TerminalEmulator(*size, scrollback=50))
    for operation in operations:
        for emulator in (runs, cells):
            if isinstance(operation, tuple):
                emulator.resize(*operation)
            else:
                emulator.feed(operation)
    ours, reference = full_state(runs), full_state(cells)
    for key in reference:
        assert ours[key] == reference[key], key


def test_coloured_log_output_stays_in_runs_and_scrolls_as_runs() -> None:
    emulator = TerminalEmulator(30, 4)
    for n in range(20):
        emulator.feed(f"\x1b[2m{n:04d}\x1b[0m \x1b[31merror\x1b[0m \x1b[1;38;5;42m→ ok ✓\x1b[0m\x1b[K\r\n".encode())
    emulator.feed(b"x" * 70)  # wraps twice
    assert all(type(emulator.screen.buffer[y]) is RunLine for y in range(4))
    assert [emulator.screen.buffer[y].wrapped for y in range(4)] == [False, True, True, False]
    history = list(emulator.screen.history)
    assert isinstance(history[0].cells, str)  # packed straight from the runs
    spans = history[-1].spans(30)
    assert [text for text, _ in spans] == ["0018 ", "error", " ", "→ ok ✓", " " * 13]  # one pen, one run
    assert [(pen.fg, pen.bold) for _, pen in spans][:3] == [("default", False), ("red", False), ("default", False)]
    assert spans[3][1].bold and spans[3][1].fg != "default"


def test_addressing_a_cell_inside_a_run_expands_only_that_row() -> None:
    emulator = TerminalEmulator(20, 3)
    emulator.feed(b"hello world\r\nsecond\x1b[1;3H\x1b[2@")  # ICH inside row 0's run
    assert type(emulator.screen.buffer[0]) is Line and type(emulator.screen.buffer[1]) is RunLine
    assert emulator.row_text(0) == "he  llo world"
    emulator.feed(b"\x1b[2;3H\xe4\xb8\xad")  # a wide character inside row 1's run
    assert type(emulator.screen.buffer[1]) is Line
    assert emulator.row_text(1) == "se\u4e2dnd"


@pytest.mark.parametrize("operations", [
    [b"ab\x1b[10Gx", (5, 3)],  # a narrower screen cuts inside a never-written gap
    [b"abc\x1b[6Gx\x1b[2Gyyyyyyy", (4, 3), (12, 3)],  # overwrite across a gap, then cut and widen
    [b"abcde\x1b[1K", (8, 3)],  # EL 1 at the pending-wrap column writes a cell past the margin
    [b"\x1b[31mred\x1b[0m plain\x1b[3G\x1b[2X\x1b[1P\x1b[K"],  # ECH, DCH and EL inside runs
    [b"one\x1b[5Gtwo\x1b[?5h\x1b[2J\x1b[?5lx"],  # screen-reverse touches written cells only
    [b"\x1b[?7labcdefgh\x1b[?7h\x1b[1;5Hq"],  # no autowrap: the last column is overwritten
])
def test_runs_match_cells_on_edge_cases(operations: list[bytes | tuple[int, int]]) -> None:
    runs, cells = TerminalEmulator(5, 3), cells_only(TerminalEmulator(5, 3))
    for operation in operations:
        for emulator in (runs, cells):
            if isinstance(operation, tuple):
                emulator.resize(*operation)
            else:
                emulator.feed(operation)
    assert full_state(runs) == full_state(cells)


def test_colour_change_alone_does_not_create_a_row_like_stock() -> None:
    # pyte's DL keeps a row whose successor was never created: a bare SGR must not create one.
    data = b"0000000\x1b[E\x1b[L\x1b[m\x1b[H0000000000\x1b[M00000000"
    ours, stock = TerminalEmulator(10, 4), pyte.Screen(10, 4)
    ours.feed(data)
    pyte.ByteStream(stock).feed(data)
    assert_same_screen(ours, stock)


@pytest.mark.parametrize("data", [
    # A scroll region over rows never created (index() shifts them in place, reading each row before its slot is
    # written), then lines deleted, whose result depends on which rows exist.
    b"\x1b[2;5r\x1b[5;1Hab\n\n\ncd\x1b[3;1H\x1b[M\x1b[r\x1b[Hx",
    b"\x1b[3;6r\x1b[6;1H" + b"\x1b[31mr\x1b[0m\n" * 9 + b"\x1b[1;1H\x1b[2M",
    b"top\r\n\x1b[1;3r\x1b[3;1H" + b"line\r\n" * 5 + b"\x1b[r\x1b[6;1Hend",
])
def test_region_scrolls_over_missing_rows_like_stock(data: bytes) -> None:
    ours, stock = TerminalEmulator(10, 6), pyte.Screen(10, 6)
    ours.feed(data)
    pyte.ByteStream(stock).feed(data)
    assert_same_screen(ours, stock)


def test_a_coloured_token_with_a_wide_run_draws_every_run_like_stock() -> None:
    # draw_styled checks the whole token for narrow text once; one wide run sends every run of it the slow way.
    data = "\x1b[32mok \x1b[33m宽字\x1b[0m plain \x1b[1mbold\x1b[0m tail".encode() * 7
    ours, stock = TerminalEmulator(13, 5), pyte.Screen(13, 5)
    ours.feed(data)
    pyte.ByteStream(stock).feed(data)
    assert_same_screen(ours, stock)


def test_screens_sharing_sgr_transitions_keep_their_own_pens() -> None:
    # One transition table serves every screen of the process; screen-reverse mode keys its own table.
    data = b"\x1b[31mred\x1b[1mbold\x1b[0mplain\x1b[38;5;100mx\x1b[m"
    normal, reverse = TerminalEmulator(20, 2), TerminalEmulator(20, 2)
    reverse.feed(b"\x1b[?5h")
    stocks = pyte.Screen(20, 2), pyte.Screen(20, 2)
    pyte.ByteStream(stocks[1]).feed(b"\x1b[?5h")
    for ours, stock in zip((normal, reverse, normal), (stocks[0], stocks[1], stocks[0]), strict=True):
        ours.feed(data)
        pyte.ByteStream(stock).feed(data)
        assert_same_screen(ours, stock)
