"""Textual key names to the bytes a terminal program expects (xterm conventions).

Encoding starts from `event.key`, never `event.character`: Pilot reports `delete` with the character
`\\x7f`, and the kitty keyboard protocol reports `ctrl+a` with no character at all.
"""

from __future__ import annotations

import unicodedata

from textual.keys import ASCII_KEY_NAMES, KEY_NAME_REPLACEMENTS, REPLACED_KEYS, key_to_character

ESC = "\x1b"
CSI = ESC + "["
SS3 = ESC + "O"

# Cursor keys: final byte of `CSI X` (normal mode) / `SS3 X` (application cursor mode, DECCKM).
CURSOR_KEYS: dict[str, str] = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}

# Editing keys: the number in `CSI n ~`.
TILDE_KEYS: dict[str, int] = {"insert": 2, "delete": 3, "pageup": 5, "pagedown": 6}

# Function keys: F1-F4 are `SS3 P..S` (`CSI 1;m P..S` when modified), the rest `CSI n ~`.
FUNCTION_SS3: dict[str, str] = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
FUNCTION_TILDE: dict[str, int] = {
    "f5": 15, "f6": 17, "f7": 18, "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24,
}

# Keys that send one fixed string whatever the mode.
PLAIN_KEYS: dict[str, str] = {
    "enter": "\r",
    "tab": "\t",
    "shift+tab": CSI + "Z",
    "backspace": "\x7f",
    "ctrl+h": "\x08",
    "escape": ESC,
    "space": " ",
    "ctrl+@": "\x00",
    "ctrl+at": "\x00",
    "ctrl+space": "\x00",
    "ctrl+left_square_bracket": ESC,
    "ctrl+backslash": "\x1c",
    "ctrl+right_square_bracket": "\x1d",
    "ctrl+circumflex_accent": "\x1e",
    "ctrl+underscore": "\x1f",
    "ctrl+minus": "\x1f",
    "ctrl+question_mark": "\x7f",
    "newline": "\n",
}

# xterm modifier parameter: 1 + shift(1) + alt(2) + ctrl(4) + meta(8).
MODIFIER_BITS: dict[str, int] = {"shift": 1, "alt": 2, "meta": 2, "ctrl": 4, "super": 8}


def split_modifiers(key: str) -> tuple[frozenset[str], str]:
    """`"ctrl+shift+up"` -> (`{"ctrl", "shift"}`, `"up"`). A bare `+` key stays the base."""
    parts = key.split("+")
    base = parts[-1] or "plus"
    mods = frozenset(p for p in parts[:-1] if p)
    return mods, base


def _character(base: str) -> str | None:
    """The character a bare key name stands for (`slash` -> `/`, `exclamation_mark` -> `!`)."""
    if len(base) == 1:
        return base
    return key_to_character(REPLACED_KEYS.get(base, base))


def _modifier_param(mods: frozenset[str]) -> int:
    return 1 + sum(MODIFIER_BITS.get(m, 0) for m in mods)


def encode_key(key: str, character: str | None = None, *, application_cursor: bool = False) -> bytes | None:
    """The bytes for one Textual key event, or None when the key has no terminal meaning.

    `application_cursor` is DECCKM (`CSI ? 1 h`): unmodified arrows and home/end then send `SS3 X`.
    """
    if key in PLAIN_KEYS:
        return PLAIN_KEYS[key].encode()
    mods, base = split_modifiers(key)
    # Textual's legacy parser names shift+F1..F12 as f13..f24.
    if base.startswith("f") and base[1:].isdigit() and 13 <= int(base[1:]) <= 24:
        base = f"f{int(base[1:]) - 12}"
        mods = mods | {"shift"}
    param = _modifier_param(mods)
    if base in CURSOR_KEYS:
        final = CURSOR_KEYS[base]
        if param > 1:
            return f"{CSI}1;{param}{final}".encode()
        return ((SS3 if application_cursor else CSI) + final).encode()
    if base in TILDE_KEYS:
        number = TILDE_KEYS[base]
        return (f"{CSI}{number};{param}~" if param > 1 else f"{CSI}{number}~").encode()
    if base in FUNCTION_SS3:
        final = FUNCTION_SS3[base]
        return (f"{CSI}1;{param}{final}" if param > 1 else SS3 + final).encode()
    if base in FUNCTION_TILDE:
        number = FUNCTION_TILDE[base]
        return (f"{CSI}{number};{param}~" if param > 1 else f"{CSI}{number}~").encode()
    alt = bool(mods & {"alt", "meta"})
    if alt:
        # alt+x: ESC prefix before whatever x (with its other modifiers) sends.
        rest = "+".join(sorted(mods - {"alt", "meta"}) + [base])
        inner = encode_key(rest, None, application_cursor=application_cursor)
        return None if inner is None else ESC.encode() + inner
    if mods == {"ctrl"} or mods == {"ctrl", "shift"}:
        char = _character(base)
        if char is not None and char.isascii() and (char.isalpha() or char in "@[\\]^_ "):
            return bytes([ord(char.upper()) & 0x1F])
        if char == "?":
            return b"\x7f"
        return None
    if mods - {"shift"}:
        return None
    char = _character(base)
    if char is None and character is not None and len(character) == 1 and character.isprintable():
        char = character
    if char is None:
        return None
    if "shift" in mods and len(char) == 1:
        char = char.upper()
    return char.encode()


def character_key_name(character: str) -> str:
    """The key name Textual gives one non-alphanumeric character (`]` -> `right_square_bracket`): its Unicode
    name, or its ASCII control name, with Textual's replacements (`textual.keys` keeps its own helper private)."""
    try:
        name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        name = ASCII_KEY_NAMES.get(character, character)
    return KEY_NAME_REPLACEMENTS.get(name, name)


def textual_key_name(spec: str) -> str:
    """A setting such as `ctrl+]` as the name Textual gives that key (`ctrl+right_square_bracket`)."""
    mods, base = split_modifiers(spec.strip().lower())
    if len(base) == 1 and not base.isalnum():
        base = character_key_name(base)
    return "+".join([*(m for m in ("ctrl", "alt", "shift", "meta", "super") if m in mods), base])


def key_bytes_for_spec(spec: str) -> bytes:
    """What the prefix key sends when pressed twice (ctrl+] -> 0x1d)."""
    encoded = encode_key(textual_key_name(spec))
    if encoded is None:
        raise ValueError(f"prefix key {spec!r} has no terminal encoding")
    return encoded


def encode_mouse(button: int, x: int, y: int, *, release: bool = False, sgr: bool = True,
                 shift: bool = False, meta: bool = False, ctrl: bool = False) -> bytes | None:
    """A mouse report for 0-based cell (x, y): SGR 1006 (`CSI < b;x;y M/m`) or, without it, X10 (`CSI M`).

    `button` is 0/1/2 (left/middle/right), +32 for motion, 64/65 for the wheel. X10 cannot say which button
    was released, nor reach cells past 223: None then.
    """
    button += (4 if shift else 0) + (8 if meta else 0) + (16 if ctrl else 0)
    if sgr:
        return f"{CSI}<{button};{x + 1};{y + 1}{'m' if release else 'M'}".encode()
    if x + 1 >= 224 or y + 1 >= 224:
        return None
    return (CSI + "M").encode() + bytes([32 + (3 if release else button), 33 + x, 33 + y])
