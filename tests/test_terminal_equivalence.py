"""The fast path leaves exactly the screen stock pyte leaves, on stock pyte's features."""

from __future__ import annotations

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.terminal import TerminalEmulator

from .test_terminal_strategies import STOCK_TOKEN, chunked


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
@given(chunks=chunked(STOCK_TOKEN), size=st.sampled_from([(10, 4), (20, 6), (80, 24), (7, 13)]))
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
