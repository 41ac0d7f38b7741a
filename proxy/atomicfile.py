"""`atomic_write`: the one way clauderon replaces a file on disk (records, settings, secrets, state files).

It lives in `proxy` only because `proxy` is the lowest layer: `runtime` and the app already depend on
this package's exports, `proxy` may import neither of them, and the top-level layout has no room for a
shared package. Nothing in it is about proxying; callers use it through `proxy.atomic_write`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path | str, data: str | bytes, *, mode: int) -> None:
    """Replace `path` with `data` so that a crash leaves either the old file or the new one, never half.

    The bytes go to a fresh temporary file in the same directory (created exclusively, so a symlink
    planted at any name is never written through), which gets exactly `mode` whatever the umask, is
    fsynced, renamed over `path` (a symlink at `path` is replaced, not followed) and the directory is
    fsynced so the rename itself survives a crash. On any failure the temporary file is removed and
    `path` is left as it was.
    """
    target = Path(path)
    content = data.encode() if isinstance(data, str) else data
    # mkstemp opens with O_CREAT | O_EXCL and mode 0600: nobody else can read the file before chmod.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_directory(target.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new name in `directory` durable (its entry is only on disk once this returns)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
