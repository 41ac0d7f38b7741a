"""Images attached to a chat message: copied into the session's agent home, where the agent can read them.

The source is a path on the machine running the engine, named by the person (or a browser tab) sending
the message. It is opened without following a symlink (`O_NOFOLLOW`), must be a regular file no larger
than `MAX_UPLOAD_BYTES` and must look like an image. The copy goes to `uploads/` in the agent home (mounted
at `/home/agent` in a container), never into the worktree, so uploads do not land in the repository.
The agent owns its home, so `uploads/` itself is opened with `O_NOFOLLOW | O_DIRECTORY` and the copy is
created relative to that directory (`O_EXCL`): a symlink the agent planted there is never written through.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.agents.home import CONTAINER_HOME
from runtime.errors import ClauderonError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""The largest image a message may carry (the Anthropic API's own limit per image is lower)."""
UPLOADS_DIR = "uploads"
_CHUNK = 1024 * 1024
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


class UploadRefused(ClauderonError):
    """The file named for upload cannot be attached (not a regular file, a symlink, too big, not an image)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=400)


@dataclass(frozen=True)
class Upload:
    """One stored attachment: where it is on the host and where the agent sees it."""

    host_path: Path
    agent_path: str
    size: int


def image_kind(head: bytes) -> str | None:
    """`png`, `jpeg`, `gif` or `webp` from a file's first bytes, else None."""
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).stem).strip(".-")
    return stem[:60] or "image"


def open_upload_source(source: str | Path) -> tuple[int, os.stat_result]:
    """Open a file named for upload (never through a symlink; regular files only); returns (fd, stat)."""
    path = Path(source).expanduser()
    if not path.is_absolute():
        raise UploadRefused(f"image path {str(source)!r} must be absolute (it is read on the engine's machine)")
    try:
        # O_NONBLOCK: a FIFO planted under the name would otherwise block the open.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if os.path.islink(path):
            raise UploadRefused(f"{path} is a symbolic link; attach the file it points to instead") from None
        raise UploadRefused(f"cannot read {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UploadRefused(f"{path} is not a regular file")
    if info.st_size > MAX_UPLOAD_BYTES:
        os.close(fd)
        limit_mb = MAX_UPLOAD_BYTES // (1024 * 1024)
        raise UploadRefused(f"{path} is {info.st_size} bytes; images up to {limit_mb} MB can be attached")
    return fd, info


def check_image_source(source: str | Path) -> None:
    """Refuse (one line) what `store_upload` would refuse, before anything is made for it."""
    fd, _ = open_upload_source(source)
    with os.fdopen(fd, "rb") as src:
        if image_kind(src.read(16)) is None:
            raise UploadRefused(f"{source} is not a PNG, JPEG, GIF or WebP image")


def store_upload(source: str | Path, agent_home: Path, *, sandboxed: bool = True) -> Upload:
    """Copy one image into `<agent_home>/uploads/` and say where the agent finds it.

    `sandboxed`: the agent runs in a container with its home at `/home/agent` (otherwise, a local
    session, it sees the host path). Raises `UploadRefused` with a message a person can act on.
    """
    fd, info = open_upload_source(source)
    with os.fdopen(fd, "rb") as src:
        head = src.read(16)
        kind = image_kind(head)
        if kind is None:
            raise UploadRefused(f"{source} is not a PNG, JPEG, GIF or WebP image")
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}-{_safe_stem(str(source))}.{kind}"
        dir_fd = _uploads_dir(agent_home)
        try:
            out_fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=dir_fd)
            _give_to_agent(out_fd, dir_fd)
            written = 0
            try:
                with os.fdopen(out_fd, "wb") as out:
                    out.write(head)
                    written = len(head)
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > MAX_UPLOAD_BYTES:  # it grew while being copied
                            raise UploadRefused(f"{source} grew past {MAX_UPLOAD_BYTES} bytes while being copied")
                        out.write(chunk)
            except BaseException:
                os.unlink(name, dir_fd=dir_fd)
                raise
        finally:
            os.close(dir_fd)
    host_path = agent_home / UPLOADS_DIR / name
    agent_path = f"{CONTAINER_HOME}/{UPLOADS_DIR}/{name}" if sandboxed else str(host_path)
    return Upload(host_path, agent_path, written)


INCOMING_DAYS = 1.0
"""Uploads not sent within this many days are removed at the next upload."""


def save_incoming(incoming: Path, data: bytes, filename: str) -> dict[str, object]:
    """Keep uploaded image bytes (a browser's file or paste) in `incoming` (0700, each file 0600) until a chat
    message attaches them by path; `{"path", "name", "size", "kind"}`. Refuses what is not an image or too big
    with one line; prunes uploads older than `INCOMING_DAYS`."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"{filename or 'the upload'} is {len(data)} bytes; images up to "
                            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB can be attached")
    kind = image_kind(data[:16])
    if kind is None:
        raise UploadRefused(f"{filename or 'the upload'} is not a PNG, JPEG, GIF or WebP image")
    incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - INCOMING_DAYS * 86400
    for old in incoming.iterdir():
        with contextlib.suppress(OSError):
            if old.lstat().st_mtime < cutoff:
                old.unlink()
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}-{_safe_stem(filename or 'pasted')}.{kind}"
    path = incoming / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return {"path": str(path), "name": filename or name, "size": len(data), "kind": kind}


class RecentUploads:
    """The last uploads the engine announced, stamped with when: an event stream that connects (a browser tab's
    app starting) gets them in its snapshot, so an image picked before the app listened is not lost."""

    KEEP_S = 120.0

    def __init__(self) -> None:
        self._uploads: deque[dict[str, Any]] = deque(maxlen=16)

    def add(self, saved: dict[str, Any]) -> dict[str, Any]:
        stamped = {**saved, "at": time.time()}
        self._uploads.append(stamped)
        return stamped

    def recent(self) -> list[dict[str, Any]]:
        cutoff = time.time() - self.KEEP_S
        return [upload for upload in self._uploads if upload["at"] >= cutoff]


def _give_to_agent(fd: int, owner_fd: int) -> None:
    """An agent that is not root (clauderon running as root hands the agent home to another uid) must be
    able to read what is put in its home: it gets the home's owner."""
    owner = os.fstat(owner_fd)
    if os.getuid() == 0 and os.fstat(fd).st_uid != owner.st_uid:
        os.fchown(fd, owner.st_uid, owner.st_gid)


def _uploads_dir(agent_home: Path) -> int:
    """A descriptor of `<agent_home>/uploads`, created 0700 when missing, refused when it is a symlink."""
    home_fd = os.open(agent_home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(UPLOADS_DIR, 0o700, dir_fd=home_fd)
        try:
            uploads = os.open(UPLOADS_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=home_fd)
            _give_to_agent(uploads, home_fd)
            return uploads
        except OSError:
            raise UploadRefused(f"{agent_home / UPLOADS_DIR} is not a directory (a symlink?); delete it so "
                                "clauderon can store uploads there") from None
    finally:
        os.close(home_fd)


__all__ = ["MAX_UPLOAD_BYTES", "Upload", "UploadRefused", "check_image_source", "image_kind", "open_upload_source",
           "save_incoming", "store_upload"]
