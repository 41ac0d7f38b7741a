"""The escape-sequence parser: pyte's `Stream` with a fast path for whole CSI sequences.

Stock pyte feeds every byte of an escape sequence through a generator, one `send()` per
character, and it cannot parse colon sub-parameters (``38:2::r:g:b``), nor tell secondary DA
(``CSI > c``) from primary DA. Here a regular expression recognises a complete CSI sequence in
one step and dispatches it directly; anything else (OSC, charset designations, CSI sequences
with intermediates or embedded controls) still goes through pyte's generator, so behaviour on
everything stock pyte understands is unchanged.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

import pyte

log = logging.getLogger(__name__)

# A complete CSI sequence with an optional private prefix and (colon-)numeric parameters.
_CSI = re.compile(r"\x1b\[([?<=>]?)([0-9;:]*)([\x40-\x7e])")
# What might still become such a sequence once more bytes arrive.
_CSI_PARTIAL = re.compile(r"\x1b(?:\[[?<=>]?[0-9;:]*)?\Z")
# Longest partial sequence carried over to the next feed; longer garbage goes to pyte's parser.
_MAX_CARRY = 64
_ESC = "\x1b"


def flatten_sgr_groups(params: str) -> list[int]:
    """SGR parameters with colon sub-parameters rewritten into the semicolon form pyte knows.

    ``38:2::r:g:b`` and ``38:2:r:g:b`` become ``38;2;r;g;b``, ``38:5:n`` becomes ``38;5;n``
    (likewise 48), ``4:0`` (no underline) becomes 24 and any other ``4:n`` underline style 4.
    Underline colour (58, either form) is dropped: pyte has nowhere to keep it, and left in,
    its numbers would be misread as attributes.
    """
    out: list[int] = []
    groups = params.split(";")
    i = 0
    while i < len(groups):
        group = groups[i]
        i += 1
        if ":" not in group:
            value = min(int(group or 0), 9999)
            if value == 58:  # Semicolon underline colour: skip its arguments too.
                kind = int(groups[i] or 0) if i < len(groups) else 0
                i += 1 + (3 if kind == 2 else 1 if kind == 5 else 0)
                continue
            out.append(value)
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


class TerminalParser(pyte.Stream):
    """Parses decoded text and calls the screen's event methods.

    Dispatch of CSI sequences recognised by the fast path:

    * no prefix: the stock pyte handler for the final character;
    * ``?``: the same handler with ``private=True`` (as pyte does);
    * ``>``: only ``c`` (secondary device attributes) is acted upon;
    * ``<`` and ``=``: ignored (kitty keyboard protocol and friends), where stock pyte would
      print the rest of the sequence as text.
    """

    def __init__(self, screen: Any) -> None:
        super().__init__(screen)
        self._carry = ""
        self._csi_handlers: dict[str, Callable[..., None]] = {
            final: getattr(screen, name) for final, name in self.csi.items()
        }

    def feed(self, data: str) -> None:
        """Consume decoded text, dispatching events to the screen."""
        if self._carry:
            data = self._carry + data
            self._carry = ""
        listener = self.listener
        assert listener is not None
        draw = listener.draw
        match_text = self._text_pattern.match
        match_csi = _CSI.match
        taking_plain_text = self._taking_plain_text
        length = len(data)
        offset = 0
        while offset < length:
            if taking_plain_text:
                match = match_text(data, offset)
                if match:
                    start, offset = match.span()
                    draw(data[start:offset])
                    continue
                if data[offset] == _ESC:
                    csi = match_csi(data, offset)
                    if csi:
                        offset = csi.end()
                        self._dispatch_csi(*csi.groups())
                        continue
                    if length - offset <= _MAX_CARRY and _CSI_PARTIAL.match(data, offset):
                        self._carry = data[offset:]
                        break
            taking_plain_text = self._send(data[offset])
            offset += 1
        self._taking_plain_text = taking_plain_text

    def _send(self, char: str) -> bool | None:
        try:
            return self._send_to_parser(char)
        except Exception:  # a handler rejected its arguments; pyte has already reset the parser
            log.debug("terminal: ignored a malformed control sequence", exc_info=True)
            return True  # pyte re-initialised its parser, which starts in the ground state.

    def _dispatch_csi(self, prefix: str, params: str, final: str) -> None:
        listener: Any = self.listener
        try:
            if prefix == "":
                if ":" in params:
                    if final != "m":
                        return  # Sub-parameters mean nothing to any other sequence we know.
                    listener.select_graphic_rendition(*flatten_sgr_groups(params))
                    return
                args = [min(int(p or 0), 9999) for p in params.split(";")]
                handler = self._csi_handlers.get(final)
                if handler is not None:
                    handler(*args)
                else:
                    listener.debug(*args)
            elif prefix == "?":
                if ":" in params:
                    return
                args = [min(int(p or 0), 9999) for p in params.split(";")]
                handler = self._csi_handlers.get(final)
                if handler is not None:
                    handler(*args, private=True)
            elif prefix == ">" and final == "c":
                listener.report_secondary_device_attributes()
        except Exception:
            log.debug("terminal: ignored CSI %r%r%r", prefix, params, final, exc_info=True)
