"""Translate pyte colour values into names `rich.color.Color.parse` accepts.

pyte stores a cell colour as one of: ``"default"``; an ANSI name with pyte's own spelling
(``brown`` for yellow, ``brightbrown``, and the typo ``bfightmagenta`` for bright magenta
backgrounds); or six hex digits *without* ``#`` (both 256-colour and truecolour SGR end up
this way). Renderers should not need to know any of that.
"""

from __future__ import annotations

from functools import lru_cache

# pyte name -> (rich name, ANSI index). pyte's quirky spellings map to the standard colours.
_NAMED: dict[str, tuple[str, int]] = {
    "black": ("black", 0),
    "red": ("red", 1),
    "green": ("green", 2),
    "brown": ("yellow", 3),
    "yellow": ("yellow", 3),
    "blue": ("blue", 4),
    "magenta": ("magenta", 5),
    "cyan": ("cyan", 6),
    "white": ("white", 7),
    "brightblack": ("bright_black", 8),
    "brightred": ("bright_red", 9),
    "brightgreen": ("bright_green", 10),
    "brightbrown": ("bright_yellow", 11),
    "brightyellow": ("bright_yellow", 11),
    "brightblue": ("bright_blue", 12),
    "brightmagenta": ("bright_magenta", 13),
    "bfightmagenta": ("bright_magenta", 13),  # pyte's typo for SGR 105.
    "brightcyan": ("bright_cyan", 14),
    "brightwhite": ("bright_white", 15),
}

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _is_hex6(value: str) -> bool:
    return len(value) == 6 and all(c in _HEX_DIGITS for c in value)


@lru_cache(maxsize=1024)
def color_to_rich(value: str) -> str | None:
    """A colour string for `rich.color.Color.parse`, or None for the terminal default.

    None means "use the widget's default foreground/background" (pyte's ``"default"``), and is
    also returned for anything unrecognised so a renderer never crashes on odd input.
    """
    if not value or value == "default":
        return None
    named = _NAMED.get(value)
    if named is not None:
        return named[0]
    if value.startswith("#") and _is_hex6(value[1:]):
        return value.lower()
    if _is_hex6(value):
        return "#" + value.lower()
    return None


def color_ansi_index(value: str) -> int | None:
    """The 0-15 ANSI palette index of a named pyte colour (for theme palettes), else None."""
    named = _NAMED.get(value)
    return named[1] if named is not None else None


def color_to_rgb(value: str) -> tuple[int, int, int] | None:
    """(r, g, b) for a hex pyte colour (256-colour or truecolour), else None."""
    if value.startswith("#"):
        value = value[1:]
    if not _is_hex6(value):
        return None
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
