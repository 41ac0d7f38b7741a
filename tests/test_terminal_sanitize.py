"""The allowlist between a session's output and the user's real terminal (`clauderon attach`)."""

from __future__ import annotations

import pytest

from runtime.terminal.sanitize import MAX_STRING, OutputFilter

ESC = "\x1b"


def run(data: bytes, *, allow_clipboard: bool = False, split: int | None = None) -> bytes:
    out = OutputFilter(allow_clipboard=allow_clipboard)
    if split is None:
        return out.feed(data)
    return out.feed(data[:split]) + out.feed(data[split:])


ALLOWED = [
    b"plain text \xc3\xa9\xe4\xb8\xad\r\n\t\x07",
    b"\x1b[31mred\x1b[0m \x1b[38;5;208mx\x1b[38;2;1;2;3my\x1b[38:2::1:2:3mz\x1b[1;4;7m",
    b"\x1b[H\x1b[10;20H\x1b[5A\x1b[2B\x1b[3C\x1b[4D\x1b[7G\x1b[3d\x1b[2;3f",
    b"\x1b[2J\x1b[K\x1b[1K\x1b[3X\x1b[2P\x1b[4@\x1b[2L\x1b[3M\x1b[2S\x1b[T",
    b"\x1b[5;20r\x1b[r\x1b7\x1b8\x1b[s\x1b[u\x1bM\x1bD\x1bE\x1bH\x1b[g\x1b[3g",
    b"\x1b[?1049h\x1b[?1049l\x1b[?25l\x1b[?25h\x1b[?1h\x1b=\x1b>\x1b[?2004h\x1b[?1000;1006h\x1b[?7l",
    b"\x1b(B\x1b)0\x0e\x0f\x1b[4h\x1b[4l\x1b[2 q\x1b[!p\x1b[?2J",
]

REFUSED = {
    "osc52-clipboard": b"\x1b]52;c;Y3VybCBldmlsfHNo\x07",
    "osc52-st": b"\x1b]52;c;Y3VybCBldmlsfHNo\x1b\\",
    "osc52-query": b"\x1b]52;c;?\x07",
    "osc10-query": b"\x1b]10;?\x07",
    "osc11-query": b"\x1b]11;?\x1b\\",
    "osc4-set": b"\x1b]4;1;rgb:ff/00/00\x07",
    "osc1-icon": b"\x1b]1;icon\x07",
    "osc8-link": b"\x1b]8;;https://evil.example\x07",
    "window-report": b"\x1b[21t",
    "window-size": b"\x1b[14t",
    "decrqss": b"\x1bP$qm\x1b\\",
    "dcs-tmux": b"\x1bPtmux;\x1b\x1b]52;c;Y3VybA==\x07\x1b\\",
    "apc": b"\x1b_Gf=100;AAAA\x1b\\",
    "sos": b"\x1bXsomething\x1b\\",
    "pm": b"\x1b^privacy\x1b\\",
    "dsr": b"\x1b[6n\x1b[5n",
    "da": b"\x1b[c\x1b[0c\x1b[>c\x1b[=c",
    "decrqm": b"\x1b[?2004$p",
    "xtversion": b"\x1b[>q",
    "kitty-keys": b"\x1b[>1u\x1b[?u",
    "column-mode": b"\x1b[?3h",
    "c1-csi": "\x9b6n".encode(),
    "c1-osc": "\x9d52;c;eA==\x9c".encode(),
    "c1-dcs": "\x90$qm\x9c".encode(),
}


@pytest.mark.parametrize("data", ALLOWED)
def test_what_a_full_screen_program_needs_passes_byte_for_byte(data: bytes) -> None:
    assert run(data) == data


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_sequences_off_the_list_never_reach_the_terminal(name: str) -> None:
    data = b"a" + REFUSED[name] + b"b"
    for split in range(len(data) + 1):
        assert run(data, split=split) == b"ab", (name, split)


def test_titles_pass_only_as_sanitized_text_behind_a_prefix() -> None:
    data = "\x1b]2;evil\x1b[2J\x9btitle".encode() + b"x" * 200 + b"\x07" + b"\x1b]0;second\x1b\\"
    out = run(data).decode()
    assert out.startswith(f"{ESC}]2;clauderon: evil[2Jtitle")
    assert out.count(ESC) == 2 and "\x9b" not in out
    assert f"{ESC}]2;clauderon: second\x07" in out
    first = out.split("\x07")[0]
    assert len(first) <= len(f"{ESC}]2;clauderon: ") + 80


def test_clipboard_writes_only_when_the_user_allows_them() -> None:
    data = b"\x1b]52;c;Y3VybA==\x07"
    assert run(data) == b""
    assert run(data, allow_clipboard=True) == data
    assert run(b"\x1b]52;c;?\x07", allow_clipboard=True) == b""  # a read-back query never


def test_unlisted_modes_are_dropped_from_a_mixed_list() -> None:
    assert run(b"\x1b[?1049;3;1006h") == b"\x1b[?1049;1006h"
    assert run(b"\x1b[?3h") == b""


def test_an_unterminated_string_is_dropped_not_swallowing_the_stream_forever() -> None:
    out = OutputFilter()
    start = out.feed(b"a\x1bPq" + b"#" * (MAX_STRING + 10))
    assert start.startswith(b"a") and len(start) < 20  # the payload went, only what followed the bound shows
    assert out.feed(b"visible") == b"visible"


def test_split_utf8_and_sequences_across_every_chunk_boundary() -> None:
    data = "é中\x1b[31m€\x1b]2;t\x07z".encode()
    expected = run(data)
    for split in range(len(data) + 1):
        assert run(data, split=split) == expected
