"""Copying a session branch to and from a sandbox that cannot mount the worktree (a pod): git bundles."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .worktrees import WorktreeManager


def bundle_branch(worktrees: WorktreeManager, session: Any) -> bytes:
    """A `git bundle` of the session branch, made in the host repository through gitsafe."""
    info = worktrees.info_of(session)
    context = worktrees.repo_context(info.repo_root)
    with tempfile.TemporaryDirectory(prefix="clauderon-bundle-") as tmp:
        path = Path(tmp) / "session.bundle"
        context.run(["bundle", "create", str(path), info.branch])
        return path.read_bytes()


def import_bundle(worktrees: WorktreeManager, session: Any, data: bytes) -> str:
    """Fetch the session branch from a bundle (a pod's commits) into the host repository; returns the
    new tip. A branch that moved on the host in the meantime is refused, not overwritten."""
    info = worktrees.info_of(session)
    context = worktrees.repo_context(info.repo_root)
    with tempfile.TemporaryDirectory(prefix="clauderon-bundle-") as tmp:
        path = Path(tmp) / "session.bundle"
        path.write_bytes(data)
        context.run(["bundle", "verify", "--quiet", str(path)])
        ref = f"refs/heads/{info.branch}"
        # The worktree has the branch checked out; update the ref only (the checkout follows on restart).
        context.run(["fetch", "--update-head-ok", str(path), f"{ref}:{ref}"])
        return context.run(["rev-parse", ref]).stdout.strip()
