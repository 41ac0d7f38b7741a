"""Confined, read-only access to a session's worktree for the workbench's Files view.

An agent writes its worktree, so anything in it may be a symbolic link planted to make the host read
one of its own files (`~/.ssh/id_ed25519`, the proxy's CA key). Every path is therefore walked one
component at a time from a directory file descriptor with `O_NOFOLLOW` (and `O_DIRECTORY` for every
directory on the way), never resolved by the kernel in one go: a link anywhere on the way is refused,
and a link as the last component is described (its target), never opened. `..` and absolute paths are
refused before anything is opened.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ClauderonError, NotFound
from runtime.git.safety import porcelain_entries

PAGE_BYTES = 64 * 1024
"""Default bytes per content page."""
MAX_PAGE_BYTES = 1024 * 1024
"""Most bytes one page may ask for."""
BINARY_SNIFF_BYTES = 8192
"""A NUL byte in this many leading bytes makes a file binary."""
MAX_ENTRIES = 5000
"""Most directory entries listed (the rest are counted, not shown)."""


class Refused(ClauderonError):
    """A path that leaves the worktree (or would, through a link); the API answers 403."""

    status = 403


@dataclass(frozen=True)
class Entry:
    """One directory entry: `kind` is dir, file, link, other or deleted (in git, gone from disk)."""

    name: str
    path: str
    kind: str
    size: int
    target: str | None = None

    def as_json(self, mark: str) -> dict[str, object]:
        """The entry as the API shows it, with its git status mark ("" when unchanged)."""
        out: dict[str, object] = {"name": self.name, "path": self.path, "kind": self.kind, "size": self.size,
                                  "status": mark}
        if self.target is not None:
            out["target"] = self.target
        return out


def clean_path(path: str) -> list[str]:
    """The components of a worktree-relative path; refuses absolute paths, `..` and NUL bytes."""
    if "\0" in path:
        raise Refused("path contains a NUL byte")
    if path.startswith("/") or path.startswith("\\"):
        raise Refused(f"{path!r} is absolute; give a path inside the worktree")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused(f"{path!r} leaves the worktree (..); give a path inside it")
    return parts


def link_points_inside(link_path: str, target: str) -> bool:
    """Whether a link at `link_path` (relative) to `target` stays inside the worktree, judged lexically."""
    if target.startswith("/"):
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(link_path), target))
    return joined != ".." and not joined.startswith("../")


@contextmanager
def _opened(root: Path, parts: list[str], *, directory: bool) -> Iterator[int]:
    """A file descriptor for `root/parts...`, never following a link on the way or at the end."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise NotFound(f"the worktree {root} cannot be opened ({exc.strerror}); is the session deleted?") from None
    shown = ""
    try:
        for index, part in enumerate(parts):
            shown = posixpath.join(shown, part)
            last = index == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            if not last or directory:
                flags |= os.O_DIRECTORY
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                raise _explain(fd, part, shown, exc, last) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _explain(dir_fd: int, part: str, shown: str, exc: OSError, last: bool) -> ClauderonError:
    if exc.errno == errno.ENOENT:
        return NotFound(f"{shown} does not exist in the worktree")
    try:
        info = os.lstat(part, dir_fd=dir_fd)
    except OSError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        target = os.readlink(part, dir_fd=dir_fd)
        if not link_points_inside(shown, target):
            return Refused(f"{shown} is a symbolic link pointing outside the worktree ({target}); it is not followed")
        return Refused(f"{shown} is a symbolic link ({target}); links are shown, not followed")
    if exc.errno == errno.ENOTDIR:
        return ClauderonError(f"{shown} is not a directory")
    if exc.errno == errno.EACCES:
        return Refused(f"{shown} cannot be read (permission denied)")
    return ClauderonError(f"cannot open {shown}: {exc.strerror}")


def list_directory(root: Path, path: str = "") -> tuple[str, list[Entry], int]:
    """(clean path, entries sorted dirs first, entries left out) of one worktree directory."""
    parts = clean_path(path)
    rel = "/".join(parts)
    entries: list[Entry] = []
    left_out = 0
    with _opened(root, parts, directory=True) as fd:
        for name in sorted(os.listdir(fd)):
            if len(entries) >= MAX_ENTRIES:
                left_out += 1
                continue
            child = posixpath.join(rel, name) if rel else name
            try:
                info = os.lstat(name, dir_fd=fd)
            except OSError:
                continue  # removed meanwhile
            if stat.S_ISLNK(info.st_mode):
                entries.append(Entry(name, child, "link", 0, os.readlink(name, dir_fd=fd)))
            elif stat.S_ISDIR(info.st_mode):
                entries.append(Entry(name, child, "dir", 0))
            elif stat.S_ISREG(info.st_mode):
                entries.append(Entry(name, child, "file", info.st_size))
            else:
                entries.append(Entry(name, child, "other", 0))
    entries.sort(key=lambda e: (e.kind != "dir", e.name))
    return rel, entries, left_out


def page_request(path: str, offset: int, limit: int) -> list[str]:
    """The checked parts of a file path asked for a page, wherever the file is read (host or pod)."""
    parts = clean_path(path)
    if not parts:
        raise ClauderonError("give the path of a file, not the worktree itself")
    if offset < 0 or not 1 <= limit <= MAX_PAGE_BYTES:
        raise ClauderonError(f"offset must be 0 or more and limit between 1 and {MAX_PAGE_BYTES}")
    return parts


def read_page(root: Path, path: str, offset: int = 0, limit: int = PAGE_BYTES) -> dict[str, object]:
    """One page of a worktree file: text (cut at a line end when more follows), or `binary: true`.

    A link as the last component is described, not opened: `link` holds its target when it stays inside
    the worktree, and one pointing out is refused.
    """
    parts = page_request(path, offset, limit)
    rel = "/".join(parts)
    with _opened(root, parts[:-1], directory=True) as parent:
        try:
            info = os.lstat(parts[-1], dir_fd=parent)
        except FileNotFoundError:
            raise NotFound(f"{rel} does not exist in the worktree") from None
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(parts[-1], dir_fd=parent)
            if not link_points_inside(rel, target):
                raise Refused(f"{rel} is a symbolic link pointing outside the worktree ({target}); it is not followed")
            return {"path": rel, "size": 0, "offset": 0, "next_offset": None, "binary": False, "text": "",
                    "link": target}
        if stat.S_ISDIR(info.st_mode):
            raise ClauderonError(f"{rel} is a directory; list it instead")
        if not stat.S_ISREG(info.st_mode):
            raise ClauderonError(f"{rel} is not a regular file")
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=parent)
        try:
            size = os.fstat(fd).st_size
            head = os.pread(fd, BINARY_SNIFF_BYTES, 0)
            if b"\0" in head:
                return binary_page(rel, size)
            data = os.pread(fd, limit, offset)
        finally:
            os.close(fd)
    return text_page(rel, size, offset, data)


def binary_page(rel: str, size: int) -> dict[str, Any]:
    """The `file` answer for a binary file: it says so, with no content."""
    return {"path": rel, "size": size, "offset": 0, "next_offset": None, "binary": True, "text": ""}


def text_page(rel: str, size: int, offset: int, data: bytes) -> dict[str, Any]:
    """The `file` answer for `data` read at `offset`: a page that stops short of the end is cut after its
    last newline, and `next_offset` says where the next one starts."""
    end = offset + len(data)
    if end < size:
        cut = data.rfind(b"\n")
        if cut >= 0:
            data = data[:cut + 1]
            end = offset + len(data)
    return {"path": rel, "size": size, "offset": offset, "next_offset": end if end < size else None,
            "binary": False, "text": data.decode("utf-8", errors="replace")}


def status_marks(porcelain: str) -> dict[str, str]:
    """Path -> one-letter mark (M, A, D, R, ?) from `git status --porcelain=v1 -z` output."""
    marks: dict[str, str] = {}
    for code, path in porcelain_entries(porcelain):
        if code == "??":
            mark = "?"
        elif "D" in code:
            mark = "D"
        elif "A" in code:
            mark = "A"
        elif code[0] in "RC":
            mark = "R"
        else:
            mark = "M"
        marks[path.rstrip("/")] = mark
    return marks


def marks_for(rel: str, entries: list[Entry], marks: dict[str, str]) -> list[dict[str, object]]:
    """The entries as JSON with their marks, plus deleted files of this directory; a directory is marked
    M when anything under it changed."""
    prefix = f"{rel}/" if rel else ""
    names = {e.name for e in entries}
    out = []
    for entry in entries:
        mark = marks.get(entry.path, "")
        if entry.kind == "dir" and not mark:
            mark = "M" if any(p.startswith(entry.path + "/") for p in marks) else ""
        out.append(entry.as_json(mark))
    for path, mark in sorted(marks.items()):
        if mark == "D" and path.startswith(prefix) and "/" not in path[len(prefix):]:
            name = path[len(prefix):]
            if name not in names:
                out.append(Entry(name, path, "deleted", 0).as_json("D"))
    return out
