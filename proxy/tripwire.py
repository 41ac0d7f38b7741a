"""Finding a real credential value in what a sandbox sends, in the encodings an exfiltrating agent would try.

Only the host holds real values, so a request carrying one (in any form) means something inside a
container got a secret it must not have; it is refused before anything is injected. Where a form can be
decoded cheaply, the haystack is decoded (percent-encoding, `+` for space, JSON `\\u` escapes, every
layer of a `Content-Encoding` stack); where it cannot, the needle is encoded instead (base64 and
base64url of each value, at each of the three alignments a value can take inside a longer encoded run).
Headers are searched by name and value, and the values of a repeated header also joined, so one value
split across two headers is found too.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from typing import cast
from urllib.parse import unquote_to_bytes

from mitmproxy.net import encoding

DECODABLE = frozenset({"gzip", "deflate", "br", "zstd", "identity", "x-gzip"})
MAX_LAYERS = 4
"""Content-Encoding layers undone at most; a longer stack is refused (nothing sends one honestly)."""

SECOND_LAYER_MAX = 1024 * 1024
"""Inputs larger than this are decoded one layer deep only (each layer is a copy)."""
_JSON_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})|\\(/)")


class Undecodable(ValueError):
    """A body whose content encoding cannot be undone, so it cannot be searched: refused."""


def base64_forms(value: bytes) -> list[bytes]:
    """The runs of base64 and base64url text that encode `value` wherever it starts in a longer string:
    for each alignment (0, 1 or 2 bytes before it in its 3-byte group), the characters that depend on
    the value's bytes alone."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + value)
        start, end = -(-8 * shift // 6), 8 * (shift + len(value)) // 6  # whole characters inside the value
        core = encoded[start:end]
        forms += [core, core.translate(bytes.maketrans(b"+/", b"-_"))]
    return forms


def compile_needles(values: Iterable[str]) -> re.Pattern[bytes] | None:
    """One pattern matching any real value, raw or in a base64 form."""
    needles: set[bytes] = set()
    for value in values:
        raw = value.encode()
        needles.add(raw)
        needles.update(form for form in base64_forms(raw) if len(form) >= 8)
    if not needles:
        return None
    return re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))


def decoded_forms(data: bytes) -> Iterator[bytes]:
    """`data` as sent, then with percent-encoding undone (also `+` as space, as forms send it) and with
    JSON string escapes undone, then each of those once more (two layers), skipping what cannot apply."""
    seen = {data}
    yield data
    frontier = [data]
    for round_ in range(2):
        following = []
        for item in frontier:
            if round_ and len(item) > SECOND_LAYER_MAX:
                continue
            forms = []
            if b"%" in item or b"+" in item:
                forms += [unquote_to_bytes(item), unquote_to_bytes(item.replace(b"+", b" "))]
            if b"\\" in item:
                forms.append(_unescape_json(item))
            for form in forms:
                if form not in seen:
                    seen.add(form)
                    following.append(form)
                    yield form
        frontier = following


def _unescape_json(data: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        if match.group(2):
            return b"/"
        return chr(int(match.group(1), 16)).encode("utf-8", "surrogatepass")

    return _JSON_ESCAPE.sub(one, data)


def header_haystacks(fields: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """Each header's name and value, and the values of a repeated header joined (a value split in two)."""
    hay: list[bytes] = []
    by_name: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        hay += [name, value]
        by_name.setdefault(name.lower(), []).append(value)
    hay += [b"".join(values) for values in by_name.values() if len(values) > 1]
    return hay


def undo_content_encoding(body: bytes, header: str) -> bytes:
    """`body` with every layer of a `Content-Encoding` stack (`gzip, gzip`) undone, last applied first.
    Raises `Undecodable` for an encoding it does not know, a layer that does not decode, or too many."""
    layers = [c.strip().lower() for c in header.split(",") if c.strip()]
    if len(layers) > MAX_LAYERS:
        raise Undecodable(f"{len(layers)} content encodings; at most {MAX_LAYERS} are undone")
    for layer in reversed(layers):
        if layer not in DECODABLE:
            raise Undecodable(f"unknown content encoding {layer!r}")
        if layer == "identity":
            continue
        try:
            # Content encodings (gzip, deflate, br, zstd) decode bytes to bytes; only text codecs give str.
            body = cast(bytes, encoding.decode(body, "gzip" if layer == "x-gzip" else layer))
        except ValueError as exc:
            raise Undecodable(f"the body does not decode as {layer}: {exc}") from None
    return body


def carries_secret(pattern: re.Pattern[bytes], haystacks: Iterable[bytes]) -> bool:
    """Whether any haystack, in any of its decoded forms, holds a needle of `pattern`."""
    return any(pattern.search(form) for hay in haystacks if hay for form in decoded_forms(hay))


__all__ = ["Undecodable", "base64_forms", "carries_secret", "compile_needles", "decoded_forms",
           "header_haystacks", "undo_content_encoding"]


LONGEST_ENCODING = 18
"""Bytes one secret byte can take in the forms `decoded_forms` undoes: a JSON `\\u00XX` escape (6 bytes)
whose every byte is percent-encoded again (3 each)."""


class Refused(Exception):
    """A streamed request body refused part-way: the upstream connection is cut, the client gets `status`."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class BodyScanner:
    """A request body's stream callable (mitmproxy `Request.stream`): each chunk is searched together with
    the bytes held back from the chunk before, and only what no secret can still begin in is passed on.

    Holding back as many bytes as the longest encoded form of a secret means any form that ends in a new
    chunk began in what is held, so it is found before one byte of it has gone upstream, wherever the
    stream was split. Memory stays one chunk plus the hold, however long the body."""

    def __init__(self, pattern: re.Pattern[bytes] | None, longest_value: int, limit: int) -> None:
        self.pattern, self.limit = pattern, limit
        self.hold = LONGEST_ENCODING * longest_value if pattern else 0
        self.received = 0
        self._held = b""

    def __call__(self, chunk: bytes) -> bytes:
        if not chunk:  # the end of the body: what was held has been searched already
            rest, self._held = self._held, b""
            return rest
        self.received += len(chunk)
        if self.received > self.limit:
            raise Refused(413, "body_too_large", "the request body is over [proxy] max_body_bytes; raise it in "
                          "proxy.toml if this upload is meant (the request was cut before it completed)")
        window = self._held + chunk
        if self.pattern is not None and carries_secret(self.pattern, [window]):
            raise Refused(403, "tripwire", "request refused: it contains a real credential value")
        cut = max(0, len(window) - self.hold)
        self._held = window[cut:]
        return window[:cut]
