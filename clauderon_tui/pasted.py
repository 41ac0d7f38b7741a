"""What a paste into the chat input means: image files to attach, image data, or just text.

Terminals hand a paste over as text (bracketed paste): a file dragged onto the window becomes its path
(quoted, or with backslash-escaped spaces, or as a `file://` URI), and some tools copy an image as a
`data:image/...;base64,` URI. A paste that is only such things attaches them; anything else is text.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from runtime.uploads import MAX_UPLOAD_BYTES

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
MAX_PASTED_FILES = 8


@dataclass(frozen=True)
class PastedImages:
    """Image files named by path (read by the engine at send) and image bytes (uploaded first)."""

    paths: tuple[str, ...] = ()
    data: tuple[bytes, ...] = ()


def pasted_images(text: str) -> PastedImages | None:
    """The images a paste names, or None when it is text to insert (or names anything but images)."""
    text = text.strip()
    if not text or len(text) > MAX_UPLOAD_BYTES * 2:
        return None
    if text.startswith("data:image/"):
        data = _data_uri(text)
        return PastedImages(data=(data,)) if data is not None else None
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote: prose
        return None
    paths = [_image_path(word) for word in words]
    if not paths or len(paths) > MAX_PASTED_FILES or any(p is None for p in paths):
        return None
    return PastedImages(paths=tuple(str(p) for p in paths))


def _data_uri(text: str) -> bytes | None:
    header, _, payload = text.partition(",")
    if not header.endswith(";base64"):
        return None
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _image_path(word: str) -> Path | None:
    """An existing image file named by an absolute path, `~/...` or a `file://` URI; None otherwise."""
    if word.startswith("file://"):
        parts = urlsplit(word)
        if parts.netloc not in ("", "localhost"):
            return None
        word = unquote(parts.path)
    path = Path(word).expanduser()
    if not path.is_absolute() or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
        return None
    return path
