"""Agent-controlled strings (hook payloads, transcript text, titles, audit fields) as safe display text.

They are data: shown literally, never interpreted as Textual/Rich markup (callers pass `markup=False` or
build `Text` objects) and never able to drive a terminal. This strips escape sequences whole (CSI, OSC,
DCS, APC, SOS/PM, and their 8-bit forms) and every remaining control character except newline and tab.
"""

from __future__ import annotations

import re

_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"                          # CSI ... final
    r"|\x9b[0-?]*[ -/]*[@-~]"                           # 8-bit CSI
    r"|(?:\x1b[\]P_X^]|[\x90\x9d\x9e\x9f\x98])"         # OSC, DCS, APC, SOS, PM (7- and 8-bit) ...
    r"[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"            # ... up to their terminator, if any
    r"|\x1b[ -/]*[0-~]?"                                # any other ESC sequence
)
_CONTROLS = dict.fromkeys(c for c in [*range(0x20), 0x7f, *range(0x80, 0xa0)] if c not in (0x0a, 0x09))


def display_text(text: object, *, limit: int | None = None, single_line: bool = False) -> str:
    """`text` without escape sequences or control characters (newlines kept unless `single_line`)."""
    clean = _SEQUENCES.sub("", str(text)).translate(_CONTROLS)
    if single_line:
        clean = " ".join(clean.split())
    return clean if limit is None else clean[:limit]
