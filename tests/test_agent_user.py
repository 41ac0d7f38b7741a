"""Docker agents never run as root: as root, clauderon hands the worktree and agent home to
`[docker] run_as_user`; a private object store (umask 077) keeps that one session root, with why.
The agent's uid gets an account in its container so it has a name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.agents.user import agent_user, readable_by_all, with_agent_account

as_root = pytest.mark.skipif(os.getuid() != 0, reason="what happens when clauderon runs as root")


def tree(root: Path, mode: int) -> Path:
    (root / "pack").mkdir(parents=True)
    (root / "pack" / "p.pack").write_bytes(b"x")
    for path in (root, root / "pack"):
        path.chmod(mode | 0o100 if mode & 0o004 else mode)
    (root / "pack" / "p.pack").chmod(mode & 0o644)
    return root


@as_root
def test_root_hands_the_session_to_the_agent_uid(tmp_path: Path) -> None:
    worktree, home = tmp_path / "w", tmp_path / "a"
    (worktree / "src").mkdir(parents=True)
    (worktree / "src" / "app.py").write_text("x")
    home.mkdir()
    outside = tmp_path / "outside"
    outside.write_text("not the agent's")
    (worktree / "link").symlink_to(outside)
    objects = tree(tmp_path / "objects", 0o755)
    assert agent_user(worktree, home, [objects], 1234) == "1234:1234"
    for path in (worktree, worktree / "src" / "app.py", home):
        assert path.stat().st_uid == 1234
    assert os.lstat(worktree / "link").st_uid == 1234 and outside.stat().st_uid == 0  # links not followed


@as_root
def test_a_private_object_store_keeps_the_agent_root(tmp_path: Path) -> None:
    worktree, home = tmp_path / "w", tmp_path / "a"
    worktree.mkdir()
    home.mkdir()
    objects = tree(tmp_path / "objects", 0o755)
    (objects / "pack" / "p.pack").chmod(0o600)  # one object file written under umask 077
    assert not readable_by_all(objects)
    assert agent_user(worktree, home, [objects], 1234) == "0:0"
    assert worktree.stat().st_uid == 0


DEBIAN_PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
DEBIAN_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def test_the_agent_uid_gets_an_account_with_roots_shell() -> None:
    passwd, group = with_agent_account(DEBIAN_PASSWD, DEBIAN_GROUP, 1000, 1000, "/home/agent")
    assert passwd == DEBIAN_PASSWD + "agent:x:1000:1000:clauderon agent:/home/agent:/bin/bash\n"
    assert group == DEBIAN_GROUP + "agent:x:1000:\n"


def test_an_image_that_names_the_uid_keeps_its_account() -> None:
    assert with_agent_account(DEBIAN_PASSWD + "node:x:1000:1000::/home/node:/bin/sh\n", DEBIAN_GROUP,
                              1000, 1000, "/home/agent") is None


def test_a_taken_name_or_group_is_not_reused() -> None:
    passwd, group = with_agent_account(DEBIAN_PASSWD + "agent:x:1001:1001::/x:/bin/sh", "agent:x:1001:\nusers:x:1000:",
                                       1000, 1000, "/home/agent")
    assert passwd.endswith("agent1000:x:1000:1000:clauderon agent:/home/agent:/bin/bash\n")
    assert group == "agent:x:1001:\nusers:x:1000:"  # gid 1000 already has a group
