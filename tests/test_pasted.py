"""What a paste into the chat input means: image paths (as terminals paste a dropped file), image data, or text."""

from __future__ import annotations

import base64
from pathlib import Path

from clauderon_tui.pasted import PastedImages, pasted_images

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def test_dropped_files_are_attached_in_every_form_a_terminal_pastes(tmp_path: Path) -> None:
    a = tmp_path / "a shot.png"
    b = tmp_path / "b.JPG"
    a.write_bytes(PNG)
    b.write_bytes(PNG)
    escaped = str(a).replace(" ", "\\ ")
    assert pasted_images(f"{escaped} {b}") == PastedImages(paths=(str(a), str(b)))
    assert pasted_images(f"'{a}'\n") == PastedImages(paths=(str(a),))
    assert pasted_images("file://" + str(a).replace(" ", "%20")) == PastedImages(paths=(str(a),))


def test_image_data_is_decoded() -> None:
    assert pasted_images("data:image/png;base64," + base64.b64encode(PNG).decode()) == PastedImages(data=(PNG,))
    assert pasted_images("data:image/png;base64,not base64!") is None


def test_anything_else_is_text(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("x")
    missing = tmp_path / "gone.png"
    image = tmp_path / "i.png"
    image.write_bytes(PNG)
    for paste in ("fix the bug", str(text), str(missing), "relative.png", f"{image} and more words",
                  "file://otherhost/i.png", "it's", ""):
        assert pasted_images(paste) is None, paste
