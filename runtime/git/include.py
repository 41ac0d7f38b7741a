"""`.worktreeinclude`: untracked files (like `.env.local`) a repository asks to have copied into every
new worktree. Copies never follow links out of the repository and never escape it."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from runtime.errors import ClauderonError

log = logging.getLogger(__name__)


IncludeCheck = Callable[[str, Path], None]
"""Called with (repository-relative path, host file) before a file is copied; raises to refuse it."""


def copy_worktree_includes(repo_root: Path, worktree: Path, check: IncludeCheck | None = None) -> list[str]:
    """Copy what the repository's `.worktreeinclude` names (typically untracked `.env.local`) into the worktree.

    One path or glob per line (`*`, `?`, `**`; a pattern without `/` matches at any depth), `#` starts
    a comment. Nothing outside the repository is read (no `..`, no symlink leading out, nothing in
    `.git`), nothing outside the worktree is written, and files the checkout already has are kept.
    `check` sees each file before it is copied (the engine refuses one holding a real credential).
    Returns the repository-relative paths copied.
    """
    spec = repo_root / ".worktreeinclude"
    if spec.is_symlink() or not spec.is_file():
        return []
    root = repo_root.resolve()
    copied: list[str] = []
    for number, raw in enumerate(spec.read_text(errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern = line.strip("/")
        if ".." in PurePosixPath(pattern).parts:
            raise ClauderonError(f"{spec} line {number}: {line!r} leaves the repository; list paths inside it")
        for rel in _matches(root, pattern, anchored="/" in pattern):
            _copy_entry(root, worktree, rel, copied, check)
    return copied


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out + r"\Z")


def _matches(root: Path, pattern: str, *, anchored: bool) -> list[PurePosixPath]:
    if not any(ch in pattern for ch in "*?") and anchored:
        return [PurePosixPath(pattern)]
    regex, found = _glob_regex(pattern), []
    for dirpath, dirnames, filenames in os.walk(root):  # never descends into symlinked directories
        base = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for entry in [*dirnames, *filenames]:
            rel = base / entry if str(base) != "." else PurePosixPath(entry)
            if regex.match(rel.as_posix() if anchored else entry):
                found.append(rel)
    return found


def _copy_entry(root: Path, worktree: Path, rel: PurePosixPath, copied: list[str], check: IncludeCheck | None) -> None:
    src = root / rel
    if not (src.exists() or src.is_symlink()):
        return
    real = src.resolve()
    if not real.is_relative_to(root) or ".git" in real.relative_to(root).parts:
        log.warning(".worktreeinclude: skipping %s, it leads outside the repository", rel)
        return
    dest, parent = worktree / rel, worktree
    for part in rel.parent.parts:  # a committed symlink in the worktree must not redirect the copy
        parent = parent / part
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            log.warning(".worktreeinclude: skipping %s, %s in the worktree is not a plain directory", rel, parent)
            return
        parent.mkdir(exist_ok=True)
    if real.is_dir():
        if src.is_symlink():  # a symlinked directory could loop back on itself; copy real ones only
            log.warning(".worktreeinclude: skipping symlinked directory %s", rel)
        elif not dest.is_symlink():
            dest.mkdir(exist_ok=True)
            for child in sorted(os.listdir(real)):
                if child != ".git":
                    _copy_entry(root, worktree, rel / child, copied, check)
    elif real.is_file() and not (dest.exists() or dest.is_symlink()):
        if check is not None:
            check(rel.as_posix(), real)
        shutil.copy2(real, dest)
        copied.append(rel.as_posix())
