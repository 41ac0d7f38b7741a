"""SGR (select graphic rendition): parameter clean-up and a fast pure-function application.

Stock pyte applies SGR with a dict of keyword replacements and `Char._replace` per sequence,
which dominated ingest of coloured output. The effect of one parameter list never depends on
the current pen (only on whether screen-reverse mode is on, through the default cell), so it is
computed once per parameter list as a list of (field index, value) and applied by copying the
pen's fields. Semantics, quirks included, follow pyte 0.8.2's `Screen.select_graphic_rendition`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyte import graphics as g
from pyte.screens import Char

_FIELDS = {name: index for index, name in enumerate(Char._fields)}
_new_tuple = tuple.__new__

Delta = tuple[tuple[int, Any], ...]


def flatten_sgr_groups(params: str) -> list[int]:
    """SGR parameters with colon sub-parameters rewritten into the semicolon form pyte knows.

    ``38:2::r:g:b`` and ``38:2:r:g:b`` become ``38;2;r;g;b``, ``38:5:n`` becomes ``38;5;n``
    (likewise 48), ``4:0`` (no underline) becomes 24 and any other ``4:n`` underline style 4.
    Underline colour (58, either form) is dropped: pyte has nowhere to keep it, and left in,
    its numbers would be misread as attributes.
    """
    out: list[int] = []
    for group in params.split(";"):
        if ":" not in group:
            out.append(min(int(group or 0), 9999))
            continue
        parts = [int(p) if p else None for p in group.split(":")]
        head = parts[0] or 0
        if head in (38, 48):
            kind = parts[1] if len(parts) > 1 else None
            if kind == 2 and len(parts) >= 5:
                r, g, b = (min(v or 0, 255) for v in parts[-3:])
                out.extend((head, 2, r, g, b))
            elif kind == 5 and len(parts) >= 3:
                out.extend((head, 5, min(parts[2] or 0, 255)))
        elif head == 4:
            out.append(24 if (len(parts) > 1 and parts[1] == 0) else 4)
        elif head != 58:
            out.append(head)
    return out


def drop_underline_colour(attrs: tuple[int, ...]) -> list[int]:
    """SGR attributes without ``58;5;n`` / ``58;2;r;g;b`` (underline colour), walking the
    arguments of 38/48 so that a colour value of 58 is not mistaken for the attribute."""
    out: list[int] = []
    i = 0
    while i < len(attrs):
        attr = attrs[i]
        if attr in (38, 48, 58):
            kind = attrs[i + 1] if i + 1 < len(attrs) else None
            length = 5 if kind == 2 else 3 if kind == 5 else 2
            if attr != 58:
                out.extend(attrs[i:i + length])
            i += length
        else:
            out.append(attr)
            i += 1
    return out


def sgr_delta(attrs: Sequence[int], default_char: Char) -> Delta:
    """The fields SGR `attrs` sets, in order, as (index into Char, value)."""
    if not attrs or tuple(attrs) == (0,):
        return tuple(enumerate(default_char))
    replace: dict[str, Any] = {}
    pending = list(reversed(attrs))
    while pending:
        attr = pending.pop()
        if attr == 0:
            replace.update(default_char._asdict())
        elif attr in g.FG_ANSI:
            replace["fg"] = g.FG_ANSI[attr]
        elif attr in g.BG:
            replace["bg"] = g.BG_ANSI[attr]
        elif attr in g.TEXT:
            text = g.TEXT[attr]
            replace[text[1:]] = text.startswith("+")
        elif attr in g.FG_AIXTERM:
            replace["fg"] = g.FG_AIXTERM[attr]
        elif attr in g.BG_AIXTERM:
            replace["bg"] = g.BG_AIXTERM[attr]
        elif attr in (g.FG_256, g.BG_256):
            key = "fg" if attr == g.FG_256 else "bg"
            try:
                kind = pending.pop()
                if kind == 5:
                    replace[key] = g.FG_BG_256[pending.pop()]
                elif kind == 2:
                    replace[key] = f"{pending.pop():02x}{pending.pop():02x}{pending.pop():02x}"
            except IndexError:
                pass
    return tuple((_FIELDS[name], value) for name, value in replace.items())


def apply_delta(pen: Char, delta: Delta) -> Char:
    """`pen` with `delta` applied."""
    values = list(pen)
    for index, value in delta:
        values[index] = value
    return _new_tuple(Char, values)
