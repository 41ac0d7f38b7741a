"""What the benchmarks share: a throwaway repository to make sessions from, and percentiles."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}


def make_repo(base: Path) -> Path:
    """`base/repo`: a repository with one empty commit on `main`."""
    repo = base / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=GIT_ENV)
    return repo


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seed_home(root: Path, count: int) -> None:
    """A CLAUDERON_HOME with `count` stopped/archived docker sessions (no containers needed)."""
    from runtime.home import Home
    from runtime.models import Session, Status
    from runtime.store import Store

    home = Home.open(root)
    home.config_file.write_text('[engine]\non_exit = "stop"\n[titles]\nenabled = false\n')
    store = Store(home)
    now = time.time()
    for i in range(count):
        name = f"bench-{i:03d}"
        store.put(Session(name=name, repo_path="/tmp/nowhere", base_branch="main", branch=f"clauderon/{name}",
                          worktree_path=str(home.worktree(name)), backend="docker", agent="claude",
                          status=Status.ARCHIVED if i % 4 == 3 else Status.STOPPED,
                          created_at=now - i * 60, updated_at=now - i * 60))
