"""`OutputFilter`: what of a session's output may reach the user's real terminal (an allowlist).

`clauderon attach` writes the agent's output to the terminal the person works in, and a terminal obeys
more than colours: OSC 52 writes its clipboard (an agent put `curl evil|sh` there), OSC 0/2 rename the
window, DCS / tmux passthrough reach the terminal behind tmux, and queries (DSR, DA, DECRQSS, window
reports, colour queries) make it type answers into the session's input. So only what a full-screen
program needs to draw passes: text, SGR, cursor movement and positioning, erasing, insert/delete,
scroll regions and scrolling, tab stops, charset designations, keypad modes and the DEC private modes
listed below. Titles pass as sanitized text behind a `clauderon: ` prefix; clipboard writes only when
the user turned `[tui] allow_clipboard` on. Everything else is dropped whole, split across chunks or not,
and a string sequence that never ends is dropped after `MAX_STRING` characters.
"""

from __future__ import annotations

import codecs

MAX_SEQUENCE = 256
"""Longest control sequence (CSI) kept; longer ones are dropped."""
MAX_STRING = 65536
"""Longest string sequence (OSC, DCS, APC, SOS, PM) read before it is dropped unterminated."""
MAX_TITLE = 80

# DEC private modes (`CSI ? Pm h/l`) a full-screen program may set: cursor keys, column mode is not
# here (it resizes the window), origin, autowrap, cursor blink and visibility, alternate screens,
# mouse reporting and its encodings, focus events, bracketed paste, synchronized output.
PRIVATE_MODES = frozenset({1, 6, 7, 12, 25, 47, 1000, 1002, 1003, 1004, 1006, 1015, 1047, 1048, 1049, 2004, 2026})
ANSI_MODES = frozenset({4, 20})  # insert mode, newline mode

# CSI finals allowed without a private prefix or intermediate: SGR, cursor motion and positioning,
# erase, insert/delete, scrolling, tab stops, save/restore cursor. (`n` DSR, `c` DA, `t` window
# reports, `x` DECREQTPARM and anything else are dropped.)
PLAIN_FINALS = frozenset("mABCDEFGHfdea`JKXP@LMSTrsugIZb")
_SAFE_C0 = frozenset("\b\t\n\r\x07\x0e\x0f")
_C1_STRINGS = {"\x90": "P", "\x98": "X", "\x9d": "]", "\x9e": "^", "\x9f": "_"}


def _printable(text: str) -> str:
    return "".join(c for c in text if c >= " " and c != "\x7f" and not "\x80" <= c <= "\x9f")


class OutputFilter:
    """Feed output chunks in order; each call returns what may be written to the real terminal now."""

    def __init__(self, *, allow_clipboard: bool = False) -> None:
        self.allow_clipboard = allow_clipboard
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._state = "ground"
        self._seq: list[str] = []  # the sequence being read (without its introducer)
        self._kind = ""  # for strings: "]" OSC, "P" DCS, "X" SOS, "^" PM, "_" APC
        self._length = 0
        self._string_esc = False  # an ESC inside a string: `\` ends it (ST)

    def feed(self, data: bytes) -> bytes:
        out: list[str] = []
        for char in self._decoder.decode(data):
            self._step(char, out)
        return "".join(out).encode("utf-8")

    # -- the state machine ----------------------------------------------------------------------

    def _step(self, c: str, out: list[str]) -> None:
        state = self._state
        if state == "ground":
            if c >= " " and c != "\x7f" and not "\x80" <= c <= "\x9f":
                out.append(c)
            elif c == "\x1b":
                self._state, self._seq = "escape", []
            elif c in _SAFE_C0:
                out.append(c)
            elif c == "\x9b":
                self._begin_csi()
            elif c in _C1_STRINGS:
                self._begin_string(_C1_STRINGS[c])
            return
        if state == "escape":
            self._escape(c, out)
        elif state == "csi":
            self._csi(c, out)
        elif state == "charset":
            if " " <= c <= "~":
                out.append("\x1b" + self._seq[0] + c)
            self._state = "ground"
        else:
            self._string(c, out)

    def _escape(self, c: str, out: list[str]) -> None:
        self._state = "ground"
        if c == "[":
            self._begin_csi()
        elif c in "]PX^_":
            self._begin_string(c)
        elif c in "()*+":
            self._state, self._seq = "charset", [c]
        elif c in "78DEHM=>c":  # save/restore cursor, index, next line, tab set, reverse index, keypad, reset
            out.append("\x1b" + c)
        elif c == "\x1b":
            self._state, self._seq = "escape", []
        # anything else (DECALN `#8`, 8-bit controls mode, ...) is dropped

    def _begin_csi(self) -> None:
        self._state, self._seq, self._length = "csi", [], 0

    def _begin_string(self, kind: str) -> None:
        self._state, self._kind, self._seq, self._length, self._string_esc = "string", kind, [], 0, False

    def _csi(self, c: str, out: list[str]) -> None:
        if "\x40" <= c <= "\x7e":
            self._state = "ground"
            if self._length <= MAX_SEQUENCE:
                allowed = self._allowed_csi("".join(self._seq), c)
                if allowed:
                    out.append(allowed)
            return
        if c == "\x1b":  # a sequence interrupted by another: drop the first
            self._state, self._seq = "escape", []
            return
        if c < " " or c > "\x7e":
            if c in "\b\t\n\r":
                out.append(c)  # C0 controls inside a CSI act at once (as in a real terminal)
            return
        self._length += 1
        if self._length <= MAX_SEQUENCE:
            self._seq.append(c)

    def _allowed_csi(self, body: str, final: str) -> str | None:
        """The CSI to write for `body` + `final`, or None to drop it."""
        prefix = body[:1] if body[:1] in "?<=>" else ""
        params = body[len(prefix):]
        intermediates = "".join(ch for ch in params if " " <= ch <= "/")
        params = params.rstrip(" !\"#$%&'()*+,-./")
        if any(not (ch.isdigit() or ch in ";:") for ch in params):
            return None
        if final in "hl" and not intermediates:
            modes = PRIVATE_MODES if prefix == "?" else ANSI_MODES if not prefix else frozenset()
            kept = [p for p in params.split(";") if p.isdigit() and int(p) in modes]
            return f"\x1b[{prefix}{';'.join(kept)}{final}" if kept else None
        if prefix == "?" and final in "JK" and not intermediates:
            return f"\x1b[?{params}{final}"  # selective erase
        if prefix or (intermediates and (intermediates, final) not in ((" ", "q"), ("!", "p"))):
            return None
        if not intermediates and final not in PLAIN_FINALS:
            return None
        return f"\x1b[{params}{intermediates}{final}"

    def _string(self, c: str, out: list[str]) -> None:
        if self._string_esc:
            self._string_esc = False
            if c == "\\":
                self._end_string(out)
                return
            self._seq.append("\x1b")
        if c == "\x1b":
            self._string_esc = True
            return
        if c == "\x9c" or (c == "\x07" and self._kind == "]"):
            self._end_string(out)
            return
        self._length += 1
        if self._length > MAX_STRING:  # never terminated: drop it and read on as text
            self._state, self._seq = "ground", []
            return
        if self._kind == "]" and self._length <= MAX_SEQUENCE * 64:
            self._seq.append(c)

    def _end_string(self, out: list[str]) -> None:
        self._state = "ground"
        if self._kind != "]":
            return  # DCS (tmux passthrough, DECRQSS), SOS, PM, APC: never
        code, _, text = "".join(self._seq).partition(";")
        if code in ("0", "2"):
            title = _printable(text)[:MAX_TITLE]
            out.append(f"\x1b]2;clauderon: {title}\x07")
        elif code == "52" and self.allow_clipboard:
            target, _, payload = text.partition(";")
            if payload != "?" and all(ch.isalnum() or ch in "+/=" for ch in payload) and \
                    all(ch in "cpqs01234567" for ch in target):
                out.append(f"\x1b]52;{target};{payload}\x07")
        # every other OSC (icon names, colour queries and sets, hyperlinks, notifications) is dropped
