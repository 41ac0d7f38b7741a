"""What the disk guard measures: a session's worktree and agent home as `du` sees them."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.engine.disk_guard import disk_use, reserve_size


async def test_a_hard_linked_file_counts_once_and_a_missing_root_is_nothing(tmp_path: Path) -> None:
    worktree, home = tmp_path / "worktree", tmp_path / "home"
    worktree.mkdir()
    home.mkdir()
    (worktree / "big").write_bytes(os.urandom(1 << 20))
    os.link(worktree / "big", worktree / "again")
    os.link(worktree / "big", home / "shared")
    (worktree / "link").symlink_to("/usr")  # never followed
    size = await disk_use(worktree, home, tmp_path / "gone")
    assert size is not None and (1 << 20) <= size < (1 << 20) + (256 << 10)
    assert await disk_use(tmp_path / "gone") == 0


def test_the_reserve_never_lifts_free_space_over_the_floor() -> None:
    assert reserve_size(1 << 30) == 64 << 20
    assert reserve_size(8 << 20) == 2 << 20
