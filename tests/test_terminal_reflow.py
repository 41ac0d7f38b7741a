"""Reflow on resize: soft-wrapped lines rejoin and wrap again, so no character is lost across any sequence of
resizes (runtime/terminal/reflow.py). The check is its own property, not equivalence with stock pyte (which cuts
rows at the new width for good)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.terminal.emulator import TerminalEmulator
from runtime.terminal.stream import ScreenReplica

NARROW = st.text(st.sampled_from("abcdefghij XYZ.-_:"), max_size=90)
MIXED = st.text(st.sampled_from("abc xyz\u4e00\u4e01\uac00\U0001f600e\u0301"), max_size=60)
SIZES = st.lists(st.tuples(st.integers(2, 100), st.integers(1, 12)), min_size=1, max_size=8)
COLOURS = ("", "\x1b[31m", "\x1b[1;44m", "\x1b[0m", "\x1b[38;5;200m")


def logical_lines(emulator: TerminalEmulator) -> list[str]:
    """Every logical line of the scrollback and the main screen: wrapped rows joined (a wrapped row's blanks
    are text; the end of a line is right-stripped), trailing empty lines dropped."""
    columns = emulator.cols
    rows = [(row.text(), row.wrapped) for row in emulator.history_rows()]
    buffer = emulator.screen.buffer
    rows += [(buffer[y].text(columns), buffer[y].wrapped) for y in range(emulator.rows)]
    lines: list[str] = []
    current = ""
    for text, wrapped in rows:
        if wrapped:
            current += text
        else:
            lines.append((current + text).rstrip(" "))
            current = ""
    if current:
        lines.append(current.rstrip(" "))
    while lines and not lines[-1]:
        lines.pop()
    return lines


def fed(lines: list[str], colour: int = 0, cols: int = 40, rows: int = 6) -> TerminalEmulator:
    emulator = TerminalEmulator(cols, rows, scrollback=10_000)
    for index, line in enumerate(lines):
        emulator.feed((COLOURS[(index + colour) % len(COLOURS)] + line + "\r\n").encode())
    return emulator


def non_blank(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=150, deadline=None)
@given(st.lists(NARROW, min_size=1, max_size=12), SIZES, st.integers(0, 4), st.integers(0, 8))
def test_narrow_text_survives_any_sequence_of_resizes(lines: list[str], sizes: list[tuple[int, int]],
                                                      colour: int, handoff: int) -> None:
    """... and a handoff at any point (a viewer's copy rebuilt from a snapshot) changes nothing."""
    emulator = fed(lines, colour)
    expected = [line.rstrip(" ") for line in lines]
    while expected and not expected[-1]:
        expected.pop()
    for step, (cols, rows) in enumerate(sizes):
        if step == handoff:
            snapshot = emulator.snapshot(scrollback_lines=10_000)
            emulator = ScreenReplica(snapshot, emulator.cols, emulator.rows, scrollback=10_000).emulator
            assert logical_lines(emulator) == expected, "after the handoff"
        emulator.resize(cols, rows)
        assert logical_lines(emulator) == expected, f"after {cols}x{rows}"


@settings(max_examples=150, deadline=None)
@given(st.lists(MIXED, min_size=1, max_size=10), SIZES)
def test_wide_and_combining_characters_survive_any_sequence_of_resizes(lines: list[str],
                                                                       sizes: list[tuple[int, int]]) -> None:
    emulator = fed(lines)
    expected = [non_blank(line) for line in logical_lines(emulator)]
    for cols, rows in sizes:
        emulator.resize(cols, rows)
        got = [non_blank(line) for line in logical_lines(emulator)]
        assert got == expected, f"after {cols}x{rows}"


@settings(max_examples=100, deadline=None)
@given(NARROW, SIZES, st.text(st.sampled_from("qrstuv"), min_size=1, max_size=30))
def test_the_cursor_moves_with_its_text(prompt: str, sizes: list[tuple[int, int]], typed: str) -> None:
    """A half-typed command line (no newline yet) stays one line: what is typed after the resizes joins it."""
    emulator = TerminalEmulator(30, 5, scrollback=1000)
    emulator.feed(b"first line\r\n" + prompt.encode())
    for cols, rows in sizes:
        emulator.resize(cols, rows)
    emulator.feed(typed.encode())
    assert logical_lines(emulator)[-1] == (prompt + typed).rstrip(" ")


def test_narrowing_then_widening_gives_back_the_whole_line() -> None:
    """The case the issue measured: at 36 columns the scrollback was cut for good."""
    line = "the quick brown fox jumps over the lazy dog " * 3
    emulator = fed(["$ cat notes", line.strip(), "$"], cols=160, rows=10)
    for _ in range(20):
        emulator.feed(b"filler\r\n")
    emulator.resize(36, 10)
    emulator.resize(160, 10)
    assert line.strip() in logical_lines(emulator)
    assert any(row.text().rstrip() == line.strip() for row in emulator.history_rows())


def test_a_replica_reflows_like_the_engine_and_a_snapshot_keeps_wrapped_lines() -> None:
    """The app's copy of a screen resizes with the same chunks, and a handoff (a snapshot fed to a fresh
    emulator) keeps soft wraps, so the next resize rejoins them there too."""
    engine = fed(["x" * 70, "second line"], cols=30, rows=4)
    cols, rows, snapshot = engine.cols, engine.rows, engine.snapshot(scrollback_lines=1000)
    replica = ScreenReplica(snapshot, cols, rows, scrollback=1000)
    assert logical_lines(replica.emulator) == logical_lines(engine)
    for size in ((80, 4), (12, 6), (100, 3)):
        engine.resize(*size)
        replica.emulator.resize(*size)
        assert logical_lines(replica.emulator) == logical_lines(engine) == ["x" * 70, "second line"]


def test_colours_stay_with_their_characters() -> None:
    emulator = TerminalEmulator(10, 3, scrollback=100)
    emulator.feed(b"\x1b[31mredredred\x1b[32mgreengreen\x1b[0m\r\n")
    emulator.resize(25, 3)
    row = emulator.history_rows()[-1] if emulator.history_size else emulator.screen.buffer[0]
    cells = row.chars(25) if emulator.history_size else emulator.screen.buffer[0].chars(25)
    assert "".join(cell.data for cell in cells[:19]) == "redredredgreengreen"
    assert {cell.fg for cell in cells[:9]} == {"red"} and {cell.fg for cell in cells[9:19]} == {"green"}


def test_the_alternate_screen_is_cut_and_the_main_screen_underneath_reflows() -> None:
    emulator = TerminalEmulator(20, 4, scrollback=100)
    emulator.feed(b"y" * 30 + b"\r\n$ vim")
    emulator.feed(b"\x1b[?1049h\x1b[H" + b"z" * 20)
    emulator.resize(10, 4)
    emulator.resize(40, 4)
    assert emulator.row_text(0) == "z" * 10  # a full-screen program redraws on SIGWINCH
    emulator.feed(b"\x1b[?1049l")
    assert logical_lines(emulator) == ["y" * 30, "$ vim"]


def test_a_prompts_trailing_space_survives_a_resize_before_typing() -> None:
    """A trailing blank before the cursor is not trimmed away by the reflow (hypothesis found ':::::::::q')."""
    emulator = TerminalEmulator(30, 5, scrollback=1000)
    emulator.feed(b"first line\r\n::::::::: ")
    emulator.resize(2, 1)
    emulator.feed(b"q")
    assert logical_lines(emulator)[-1] == "::::::::: q"
    emulator.resize(30, 5)
    assert logical_lines(emulator)[-1] == "::::::::: q"
