"""Copying a session branch to and from a sandbox that cannot mount the worktree (a pod): git bundles."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from runtime.git import session_repo
from runtime.git.worktrees import WorktreeManager


@runtime_checkable
class BundleSource(Protocol):
    """A backend whose sandbox cannot mount the worktree (`copies_workspace`): it hands the branch back as a bundle."""

    async def fetch_bundle(self, backend_id: str, branch: str) -> bytes:
        """A git bundle of `branch` from the sandbox's checkout."""
        ...


def bundle_branch(worktrees: WorktreeManager, session: Any) -> bytes:
    """A `git bundle` of the session branch, made in the host repository through gitsafe."""
    info = worktrees.info_of(session)
    context = worktrees.repo_context(info.repo_root)
    with tempfile.TemporaryDirectory(prefix="clauderon-bundle-") as tmp:
        path = Path(tmp) / "session.bundle"
        context.run(["bundle", "create", str(path), info.branch])
        return path.read_bytes()


def import_bundle(worktrees: WorktreeManager, session: Any, data: bytes) -> str:
    """Bring the session branch back from a bundle (a pod's commits) into the host repository, checked
    the way every sandbox's bundle is (`session_repo.import_bundle`); returns the new tip. The host
    worktree has the branch checked out: only the ref moves (the checkout follows on restart)."""
    info = worktrees.info_of(session)
    repo = worktrees.repo_context(info.repo_root)
    return session_repo.import_bundle(repo, info.name, info.branch, data, checked_out_ok=True).tip
