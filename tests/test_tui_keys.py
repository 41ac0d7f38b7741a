"""Key encoding tables: Textual key names to the bytes xterm sends."""

from __future__ import annotations

import pytest

from clauderon_tui.keys import character_key_name, encode_key, encode_mouse, key_bytes_for_spec, textual_key_name

CASES = [
    # arrows, normal and with modifiers
    ("up", b"\x1b[A"), ("down", b"\x1b[B"), ("right", b"\x1b[C"), ("left", b"\x1b[D"),
    ("shift+up", b"\x1b[1;2A"), ("alt+left", b"\x1b[1;3D"), ("ctrl+right", b"\x1b[1;5C"),
    ("ctrl+shift+down", b"\x1b[1;6B"),
    ("home", b"\x1b[H"), ("end", b"\x1b[F"), ("ctrl+home", b"\x1b[1;5H"),
    ("insert", b"\x1b[2~"), ("delete", b"\x1b[3~"), ("pageup", b"\x1b[5~"), ("pagedown", b"\x1b[6~"),
    ("shift+delete", b"\x1b[3;2~"), ("ctrl+pageup", b"\x1b[5;5~"),
    # function keys
    ("f1", b"\x1bOP"), ("f2", b"\x1bOQ"), ("f3", b"\x1bOR"), ("f4", b"\x1bOS"),
    ("f5", b"\x1b[15~"), ("f6", b"\x1b[17~"), ("f7", b"\x1b[18~"), ("f8", b"\x1b[19~"),
    ("f9", b"\x1b[20~"), ("f10", b"\x1b[21~"), ("f11", b"\x1b[23~"), ("f12", b"\x1b[24~"),
    ("ctrl+f1", b"\x1b[1;5P"), ("shift+f5", b"\x1b[15;2~"), ("f13", b"\x1b[1;2P"), ("f24", b"\x1b[24;2~"),
    ("ctrl+f12", b"\x1b[24;5~"),
    # control characters
    ("ctrl+a", b"\x01"), ("ctrl+c", b"\x03"), ("ctrl+p", b"\x10"), ("ctrl+q", b"\x11"), ("ctrl+z", b"\x1a"),
    ("ctrl+@", b"\x00"), ("ctrl+space", b"\x00"), ("ctrl+right_square_bracket", b"\x1d"),
    ("ctrl+backslash", b"\x1c"), ("ctrl+underscore", b"\x1f"),
    # alt prefix
    ("alt+x", b"\x1bx"), ("alt+ctrl+a", b"\x1b\x01"), ("alt+enter", b"\x1b\r"),
    # editing keys
    ("enter", b"\r"), ("tab", b"\t"), ("shift+tab", b"\x1b[Z"), ("backspace", b"\x7f"), ("escape", b"\x1b"),
    ("space", b" "),
    # printable characters
    ("a", b"a"), ("A", b"A"), ("exclamation_mark", b"!"), ("left_square_bracket", b"["), ("slash", b"/"),
    ("question_mark", b"?"), ("full_stop", b"."), ("5", b"5"), ("plus", b"+"), ("minus", b"-"),
    ("underscore", b"_"), ("backslash", b"\\"), ("at", b"@"),
]


@pytest.mark.parametrize(("key", "expected"), CASES)
def test_key_encoding(key: str, expected: bytes) -> None:
    assert encode_key(key) == expected


@pytest.mark.parametrize(("key", "expected"), [
    ("up", b"\x1bOA"), ("down", b"\x1bOB"), ("right", b"\x1bOC"), ("left", b"\x1bOD"),
    ("home", b"\x1bOH"), ("end", b"\x1bOF"),
    ("ctrl+up", b"\x1b[1;5A"),  # modified arrows ignore DECCKM
    ("pageup", b"\x1b[5~"),
])
def test_application_cursor_mode(key: str, expected: bytes) -> None:
    assert encode_key(key, application_cursor=True) == expected


def test_delete_is_not_its_character() -> None:
    # Pilot reports `delete` with the character DEL; the key name decides.
    assert encode_key("delete", "\x7f") == b"\x1b[3~"


def test_printable_from_character_when_key_name_is_unknown() -> None:
    assert encode_key("é", "é") == "é".encode()
    assert encode_key("eacute_unknown_name", "é") == "é".encode()


def test_keys_without_terminal_meaning() -> None:
    assert encode_key("ctrl+f25") is None
    assert encode_key("super+a") is None


@pytest.mark.parametrize(("spec", "name", "sent"), [
    ("ctrl+]", "ctrl+right_square_bracket", b"\x1d"),
    ("ctrl+a", "ctrl+a", b"\x01"),
    ("ctrl+b", "ctrl+b", b"\x02"),
    ("ctrl+\\", "ctrl+backslash", b"\x1c"),
])
def test_prefix_key_spec(spec: str, name: str, sent: bytes) -> None:
    assert textual_key_name(spec) == name
    assert key_bytes_for_spec(spec) == sent


def test_character_key_names_are_textuals() -> None:
    # The app names keys as Textual's key events do without calling Textual's private helper; this test is
    # where the two are held together, for every punctuation character a prefix key could use.
    import string

    from textual.keys import _character_to_key

    for character in string.punctuation:
        assert character_key_name(character) == _character_to_key(character), character
    assert character_key_name("]") == "right_square_bracket" and character_key_name("+") == "plus"


@pytest.mark.parametrize(("args", "kwargs", "expected"), [
    ((0, 4, 2), {}, b"\x1b[<0;5;3M"),
    ((0, 4, 2), {"release": True}, b"\x1b[<0;5;3m"),
    ((2, 0, 0), {"ctrl": True}, b"\x1b[<18;1;1M"),
    ((64, 9, 9), {}, b"\x1b[<64;10;10M"),
    ((0, 4, 2), {"sgr": False}, b"\x1b[M %#"),
    ((0, 4, 2), {"sgr": False, "release": True}, b"\x1b[M#%#"),
    ((0, 300, 2), {"sgr": False}, None),
])
def test_mouse_encoding(args, kwargs, expected) -> None:
    assert encode_mouse(*args, **kwargs) == expected
