"""The escape-sequence parser: pyte's `Stream` with a fast path for whole CSI sequences.

Stock pyte feeds every byte of an escape sequence through a generator, one `send()` per
character, and it cannot parse colon sub-parameters (``38:2::r:g:b``), nor tell secondary DA
(``CSI > c``) from primary DA. Here regular expressions recognise a complete CSI sequence, OSC
or DCS/APC string in one step and dispatch it directly (an incomplete one at the end of a feed
is carried over to the next); anything else (charset designations, CSI sequences with
intermediates or embedded controls) still goes through pyte's generator, so behaviour on
everything stock pyte understands is unchanged.

Coloured output is text interleaved with SGR sequences: one match takes all of it (up to the next
control character or other sequence), and one split separates the text runs from the colour changes,
so the Python loop runs once per run rather than once per token. CR, LF, tab and backspace in plain
text are dispatched directly, as pyte's generator would in its ground state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pyte

log = logging.getLogger(__name__)

# A complete CSI sequence with an optional private prefix and (colon-)numeric parameters.
_CSI = re.compile(r"\x1b\[([?<=>]?)([0-9;:]*)([\x40-\x7e])")
# SGR without sub-parameters; split on it, styled text alternates text runs and SGR parameters.
_PLAIN_SGR = r"\x1b\[[0-9;]*m"
_SGR_SPLIT = re.compile(r"\x1b\[([0-9;]*)m")
# Controls handled alike in plain text and in pyte's ground state (none of them can raise).
_CONTROLS = {"\r": "carriage_return", "\n": "linefeed", "\x0b": "linefeed", "\x0c": "linefeed", "\t": "tab",
             "\x08": "backspace"}
# What might still become such a sequence once more bytes arrive.
_CSI_PARTIAL = re.compile(r"\x1b(?:\[[?<=>]?[0-9;:]*)?\Z")
# DCS, SOS, PM and APC strings (XTGETTCAP/DECRQSS queries, kitty graphics, tmux passthrough): pyte would
# print their contents as text. They are swallowed whole up to ST (ESC \\) or BEL; an ESC not followed by
# `\\` is content (tmux passthrough doubles every ESC it carries).
_STRING = re.compile(r"\x1b[P_^X](?:[^\x1b\x07]|\x1b[^\\])*(?:\x1b\\|\x07)")
# OSC with its whole number parsed (pyte reads only its first digit, so OSC 10/11 colour
# queries would set the icon name). 0/1/2 set the title and icon name; others are ignored.
_OSC = re.compile(r"\x1b\]([0-9]*);?([^\x07\x1b]*)(?:\x07|\x1b\\)")
_STRING_PARTIAL = re.compile(r"\x1b(?:\][^\x1b\x07]*|[P_^X](?:[^\x1b\x07]|\x1b[^\\])*)\x1b?\Z")
# Longest partial sequence carried over to the next feed; longer garbage goes to pyte's parser.
_MAX_CARRY = 64
_MAX_STRING_CARRY = 65536
# Longest unfinished sequence (say an OSC title) remembered for `pending_text`.
_MAX_PENDING = 4096
_ESC = "\x1b"


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
        self._pending: list[str] = []
        # Text with plain SGR sequences (group 1), a complete CSI sequence (groups 2-4) or a run of
        # controls (group 5), in one match.
        self._token_pattern = re.compile(
            "((?:" + self._text_pattern.pattern + "|" + _PLAIN_SGR + ")+)|" + _CSI.pattern
            + "|([" + "".join(_CONTROLS) + "]+)")
        self._csi_handlers: dict[str, Callable[..., None]] = {
            final: getattr(screen, name) for final, name in self.csi.items()
        }
        self._controls: dict[str, Callable[[], None]] = {
            char: getattr(screen, name) for char, name in _CONTROLS.items()
        }

    def feed(self, data: str) -> None:
        """Consume decoded text, dispatching events to the screen."""
        if self._carry:
            data = self._carry + data
            self._carry = ""
        screen: Any = self.listener
        assert screen is not None
        draw = screen.draw
        match_token = self._token_pattern.match
        controls = self._controls
        taking_plain_text = self._taking_plain_text
        length = len(data)
        offset = 0
        while offset < length:
            if taking_plain_text:
                match = match_token(data, offset)
                if match:
                    start, offset = match.span()
                    kind = match.lastindex
                    if kind == 1:
                        text = data[start:offset]
                        if _ESC in text:
                            screen.draw_styled(_SGR_SPLIT.split(text))
                        else:
                            draw(text)
                    elif kind == 5:
                        for char in data[start:offset]:
                            controls[char]()
                    else:
                        self._dispatch_csi(*match.group(2, 3, 4))
                    continue
                if data[offset] == _ESC:
                    string = _STRING.match(data, offset)
                    if string:
                        offset = string.end()
                        continue
                    osc = _OSC.match(data, offset)
                    if osc:
                        offset = osc.end()
                        self._osc(*osc.groups())
                        continue
                    left = length - offset
                    if (left <= _MAX_CARRY and _CSI_PARTIAL.match(data, offset)) or (
                            left <= _MAX_STRING_CARRY and _STRING_PARTIAL.match(data, offset)):
                        self._carry = data[offset:]
                        break
            char = data[offset]
            taking_plain_text = self._send(char)
            if taking_plain_text:
                self._pending.clear()
            elif len(self._pending) < _MAX_PENDING:
                self._pending.append(char)
            offset += 1
        self._taking_plain_text = taking_plain_text

    def pending_text(self) -> str:
        """The start of an escape sequence received but not yet complete.

        Replayed after a snapshot so that a fresh parser is in the same state as this one.
        """
        return "".join(self._pending) + self._carry

    def _send(self, char: str) -> bool | None:
        try:
            return self._send_to_parser(char)
        except Exception:  # a handler rejected its arguments; pyte has already reset the parser
            log.debug("terminal: ignored a malformed control sequence", exc_info=True)
            return True  # pyte re-initialised its parser, which starts in the ground state.

    def _osc(self, code: str, text: str) -> None:
        screen: Any = self.listener
        if code in ("0", "1"):
            screen.set_icon_name(text)
        if code in ("0", "2"):
            screen.set_title(text)

    def _sgr(self, screen: Any, params: str) -> None:
        screen.cursor.attrs = screen.pen_after(screen.cursor.attrs, params)

    def _dispatch_csi(self, prefix: str, params: str, final: str) -> None:
        listener: Any = self.listener
        try:
            if prefix == "":
                if final == "m":
                    self._sgr(listener, params)
                    return
                if ":" in params:
                    return  # Sub-parameters mean nothing to any other sequence we know.
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
