"""TerminalEmulator behaviour beyond stock pyte: decoding, queries, modes, scrollback, dirty rows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.color import Color

from runtime.terminal import TerminalEmulator, color_ansi_index, color_to_rich


def make(cols: int = 20, rows: int = 5) -> tuple[TerminalEmulator, list[bytes]]:
    replies: list[bytes] = []
    return TerminalEmulator(cols, rows, on_reply=replies.append), replies


def test_utf8_split_across_feeds_and_invalid_bytes() -> None:
    term, _ = make()
    data = "héllo 一😀".encode()
    for i in range(len(data)):
        term.feed(data[i:i + 1])
    term.feed(b" \xff\xfe!")
    assert term.text() == "héllo 一😀 \ufffd\ufffd!"


def test_escape_sequence_split_across_feeds() -> None:
    term, _ = make()
    for byte in b"\x1b[31mred\x1b[38:2::1:2:3mx\x1b]2;my title\x07":
        term.feed(bytes([byte]))
    assert term.buffer[0][0].fg == "red"
    assert term.buffer[0][3].fg == "010203"
    assert term.text() == "redx"
    assert term.title == "my title"


@pytest.mark.parametrize("query, answer", [
    (b"\x1b[6n", b"\x1b[2;4R"),
    (b"\x1b[5n", b"\x1b[0n"),
    (b"\x1b[c", b"\x1b[?62;22c"),
    (b"\x1b[0c", b"\x1b[?62;22c"),
    (b"\x1b[>c", b"\x1b[>1;10;0c"),
])
def test_queries_answered_once(query: bytes, answer: bytes) -> None:
    term, replies = make()
    term.feed(b"ab\r\nabc" + query)
    assert replies == [answer]


def test_unknown_queries_ignored_and_text_continues() -> None:
    term, replies = make()
    term.feed(b"\x1b[?u\x1b[>0q\x1b]11;?\x07\x1b[>1u\x1b[<u\x1b[=5c\x1b[?6n\x1b[>4;1mok")
    assert replies == []
    assert term.text() == "ok"
    assert not term.buffer[0][0].bold and not term.buffer[0][0].underscore


def test_dcs_and_apc_strings_are_swallowed_even_when_split() -> None:
    term, replies = make()
    data = b"a\x1bP+q544e\x1b\\b\x1b_Gf=100;AAAA\x1b\\c\x1bP$qm\x07d"
    term.feed(data[:5])
    term.feed(data[5:20])
    term.feed(data[20:])
    assert term.text() == "abcd" and replies == []


def test_osc_titles_hyperlinks_and_colour_queries() -> None:
    term, replies = make()
    term.feed(b"\x1b]2;first\x1b\\\x1b]8;;https://example.test\x07link\x1b]8;;\x07 \x1b]11;?\x07")
    term.feed(b"\x1b]1;icon\x07\x1b]0;both \xe2\x9c")
    assert term.title == "first" and term.screen.icon_name == "icon"
    term.feed(b"\x93\x07")
    assert term.title == term.screen.icon_name == "both \u2713"
    assert term.text() == "link" and replies == []


def test_cursor_report_clamps_pending_wrap_column() -> None:
    term, replies = make(5, 3)
    term.feed(b"abcde\x1b[6n")
    assert replies == [b"\x1b[1;5R"]


def test_replies_suppressed_and_viewer_copies_silent() -> None:
    term, replies = make()
    with term.replies_suppressed():
        term.feed(b"\x1b[6n\x1b[c")
    assert replies == []
    term.feed(b"\x1b[5n")
    assert replies == [b"\x1b[0n"]
    viewer = TerminalEmulator(20, 5)  # on_reply=None
    viewer.feed(b"\x1b[6n\x1b[c")  # must not raise, nothing to answer to


@pytest.mark.parametrize("sgr, fg, bg", [
    (b"38;2;10;20;30", "0a141e", "default"),
    (b"38:2::10:20:30", "0a141e", "default"),
    (b"38:2:10:20:30", "0a141e", "default"),
    (b"48:2:1:255:0:16", "default", "ff0010"),
    (b"38:5:196", "ff0000", "default"),
    (b"38;5;196;48:5:21", "ff0000", "0000ff"),
    (b"4:3;31", "red", "default"),
    (b"58:2::1:2:3;32", "green", "default"),
    (b"58;2;1;2;3;33", "brown", "default"),
])
def test_colour_forms(sgr: bytes, fg: str, bg: str) -> None:
    term, _ = make()
    term.feed(b"\x1b[" + sgr + b"mX")
    cell = term.buffer[0][0]
    assert (cell.fg, cell.bg) == (fg, bg)
    assert cell.bold is False  # sub-parameters must not leak in as attributes


def test_mode_properties() -> None:
    term, _ = make()
    assert (term.bracketed_paste, term.mouse_tracking, term.mouse_sgr, term.app_cursor_keys,
            term.alt_screen, term.cursor_visible) == (False, None, False, False, False, True)
    term.feed(b"\x1b[?2004h\x1b[?1000h\x1b[?1003h\x1b[?1006h\x1b[?1h\x1b[?1049h\x1b[?25l\x1b]0;t\x07")
    assert (term.bracketed_paste, term.mouse_tracking, term.mouse_sgr, term.app_cursor_keys,
            term.alt_screen, term.cursor_visible, term.title) == (True, 1003, True, True, True, False, "t")
    term.feed(b"\x1b[?2004l\x1b[?1003l\x1b[?1006l\x1b[?1l\x1b[?1049l\x1b[?25h")
    assert (term.bracketed_paste, term.mouse_tracking, term.mouse_sgr, term.app_cursor_keys,
            term.alt_screen, term.cursor_visible) == (False, 1000, False, False, False, True)


@pytest.mark.parametrize("mode", [1049, 1047, 47])
def test_alt_screen_restores_main(mode: int) -> None:
    term, _ = make()
    term.feed(b"one\r\ntwo")
    term.feed(b"\x1b[?%dh" % mode)
    assert term.alt_screen and term.text() == ""
    term.feed(b"\x1b[Hfull screen app\r\n" * 8)
    assert term.history_size == 0  # the alternate screen does not feed scrollback
    term.feed(b"\x1b[?%dl" % mode)
    assert not term.alt_screen and term.text() == "one\ntwo"
    if mode == 1049:
        assert (term.cursor.x, term.cursor.y) == (3, 1)


def test_scrollback_keeps_attributes_and_is_bounded() -> None:
    term = TerminalEmulator(10, 3, scrollback=5)
    term.feed(b"\x1b[32m" + b"".join(b"line%d\r\n" % i for i in range(10)))
    history = term.history_lines()
    assert len(history) == 5
    assert "".join(c.data for c in history[0]).rstrip() == "line3"
    assert history[-1][0].fg == "green" and len(history[-1]) == 10
    assert term.text() == "line8\nline9"
    term.feed(b"\x1b[3J")
    assert term.history_size == 0


def test_scroll_region_does_not_feed_scrollback() -> None:
    term = TerminalEmulator(10, 5)
    term.feed(b"\x1b[2;4r\x1b[4;1H" + b"x\n" * 6)
    assert term.history_size == 0


def test_dirty_rows_include_cursor_moves() -> None:
    term = TerminalEmulator(10, 6)
    assert term.take_dirty() == set(range(6))  # a new screen needs a full first paint
    term.feed(b"hi")
    assert term.take_dirty() == {0}
    assert term.take_dirty() == {0}  # the row the cursor is on is always worth repainting
    term.feed(b"\x1b[5;3H")
    assert term.take_dirty() == {0, 4}
    term.feed(b"\x1b[2;4r\x1b[4;1H\n")  # scroll inside the region only
    assert term.take_dirty() == {1, 2, 3, 4}  # region rows 1-3, and row 4 the cursor left


def test_resize_keeps_cursor_row_and_pushes_history() -> None:
    term = TerminalEmulator(10, 5)
    term.feed(b"a\r\nb\r\nc\r\nd\r\ne")
    term.resize(8, 3)
    assert term.text() == "c\nd\ne"
    assert (term.cursor.x, term.cursor.y) == (1, 2)
    assert ["".join(c.data for c in row).rstrip() for row in term.history_lines()] == ["a", "b"]
    term.resize(12, 6)
    assert (term.cols, term.rows) == (12, 6)
    term.feed(b"\r\n" + b"z" * 12)
    assert term.text() == "c\nd\ne\nzzzzzzzzzzzz"


def test_resize_while_in_alt_screen_keeps_main_screen() -> None:
    term = TerminalEmulator(10, 5)
    term.feed(b"a\r\nb\r\nc\r\nd\r\nlong line!\x1b[?1049hALT")
    term.resize(4, 3)
    term.feed(b"\x1b[?1049l")
    assert term.text() == "long\n lin\ne!"  # the main screen underneath reflowed (nothing cut)
    assert [row.text().rstrip() for row in term.history_rows()] == ["a", "b", "c", "d"]


def test_text_strips_trailing_space_and_blank_lines() -> None:
    term = TerminalEmulator(10, 5)
    term.feed(b"  a  \r\n\r\nb\x1b[31m   \r\n")
    assert term.text() == "  a\n\nb"


@pytest.mark.parametrize("value, expected", [
    ("default", None), ("brown", "yellow"), ("bfightmagenta", "bright_magenta"),
    ("brightbrown", "bright_yellow"), ("ff00aa", "#ff00aa"), ("#ABCDEF", "#abcdef"), ("bogus", None),
])
def test_color_to_rich(value: str, expected: str | None) -> None:
    assert color_to_rich(value) == expected
    if expected is not None:
        Color.parse(expected)


def test_every_pyte_colour_name_parses() -> None:
    from pyte import graphics as g

    names = {*g.FG_ANSI.values(), *g.BG_ANSI.values(), *g.FG_AIXTERM.values(), *g.BG_AIXTERM.values(),
             *g.FG_BG_256}
    for name in names - {"default"}:
        Color.parse(color_to_rich(name))
    assert color_ansi_index("bfightmagenta") == 13


_PIECES = st.sampled_from([b"\x1b", b"[", b"?", b">", b"<", b"1049", b"47", b"h", b"l", b";", b":", b"m",
                           b"]", b"\x07", b"P", b"\\", b"2", b"0", b"9999", b"J", b"K", b"r", b"@", b"P",
                           b"\n", b"\r", b"\t", b"\x9b", b"\xc2\x9b", b"\xe4\xb8\x80", b"\xcc\x81", b"x",
                           b"\x18", b"#8", b"(0", b"c", b"n", b"6", b"5", b"3"])


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.one_of(st.binary(max_size=40), st.lists(_PIECES, max_size=30).map(b"".join)),
                       max_size=30),
       size=st.sampled_from([(1, 1), (2, 3), (10, 4), (80, 24)]))
def test_arbitrary_bytes_never_raise(chunks: list[bytes], size: tuple[int, int]) -> None:
    term, replies = make(*size)
    for chunk in chunks:
        term.feed(chunk)
    term.text()
    term.take_dirty()
    rebuilt = TerminalEmulator(*size)
    rebuilt.feed(term.snapshot())
    assert (rebuilt.cols, rebuilt.rows) == size
    assert all(isinstance(reply, bytes) for reply in replies)


@pytest.mark.parametrize("sequence", [
    b"\x1bPq#0;2;0;0;0#1!14@\x1b\\",                       # sixel DCS
    b"\x1bP$qm\x1b\\",                                      # DECRQSS
    b"\x1bPtmux;\x1b\x1b]52;c;Y3VybA==\x07\x1b\\",          # tmux passthrough: doubled ESC, a BEL inside
    b"\x1b_Gf=100;AAAA\x1b\\",                              # APC (kitty graphics)
    b"\x1bXstart of string\x1b\\", b"\x1b^privacy message\x1b\\",  # SOS, PM
    b"\x1b]52;c;Y3VybCBldmlsfHNo\x07", b"\x1b]2;a title\x1b\\", b"\x1b]11;?\x07",
], ids=["sixel", "decrqss", "tmux", "apc", "sos", "pm", "osc52", "osc2", "osc11"])
def test_string_sequences_never_leak_into_the_screen_text(sequence: bytes) -> None:
    data = b"a" + sequence + b"b"
    for split in range(len(data) + 1):
        term = TerminalEmulator(40, 3)
        term.feed(data[:split])
        term.feed(data[split:])
        assert term.text() == "ab", (split, term.text())


def test_sgr_number_too_long_to_parse_is_ignored() -> None:
    term = TerminalEmulator(10, 2)
    term.feed(b"\x1b[31mA\x1b[" + b"9" * 5000 + b"mB\x1b[" + b"1" * 5000 + b":2mC")
    assert term.text() == "ABC"
    assert [term.buffer[0][x].fg for x in range(3)] == ["red"] * 3
