"""Workbench routes (files, file, diff, info) end to end over the real engine socket, local backend.

No Docker: the session is a local pty, and the tests plant what an agent could (links out of the
worktree, filters and textconv drivers in the admin dir and `.gitattributes`) straight on disk.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.engine.host import EngineHost
from runtime.errors import ClauderonError
from tests.conftest import run_git

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def session(host: EngineHost, git_repo: Path):  # noqa: F811
    client = EngineClient(host.home)
    created = await client.create_session({"repo": str(git_repo), "name": "wb", "backend": "local"}, wait=True)
    assert created.status == "running", created.error
    yield client, Path(created.worktree_path)
    await client.close()


async def test_listing_marks_and_paging(session, short_tmp: Path) -> None:
    client, tree = session
    (tree / "README.md").write_text("changed\n")  # M
    (tree / "src" / "new.py").write_text("x = 1\n")  # ? inside a tracked dir
    (tree / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    (tree / "big.txt").write_text("".join(f"line {n}\n" for n in range(20000)))
    os.symlink("README.md", tree / "inner-link")

    top = await client.list_files("wb")
    by_name = {e["name"]: e for e in top["entries"]}
    assert top["path"] == ""
    assert by_name["README.md"]["status"] == "M"
    assert by_name["src"]["kind"] == "dir" and by_name["src"]["status"] == "M"
    assert by_name["blob.bin"]["status"] == "?"
    assert by_name["inner-link"]["kind"] == "link" and by_name["inner-link"]["target"] == "README.md"
    assert [e["kind"] for e in top["entries"]][0] == "dir"  # directories first
    src = await client.list_files("wb", "src")
    assert {e["name"]: e["status"] for e in src["entries"]} == {"app.py": "", "new.py": "?"}

    os.remove(tree / "src" / "app.py")
    src = await client.list_files("wb", "src")
    assert {e["name"]: (e["kind"], e["status"]) for e in src["entries"]}["app.py"] == ("deleted", "D")

    page = await client.read_file("wb", "README.md")
    assert page == {"path": "README.md", "size": 8, "offset": 0, "next_offset": None, "binary": False,
                    "text": "changed\n"}
    binary = await client.read_file("wb", "blob.bin")
    assert binary["binary"] is True and binary["size"] == 300 and binary["text"] == ""

    first = await client.read_file("wb", "big.txt", 0, 1000)
    assert first["text"].endswith("\n") and first["next_offset"] == len(first["text"].encode())
    second = await client.read_file("wb", "big.txt", first["next_offset"], 1000)
    assert (first["text"] + second["text"]).startswith("line 0\nline 1\n")
    assert second["text"].splitlines()[0] == f"line {len(first['text'].splitlines())}"
    assert first["size"] == (tree / "big.txt").stat().st_size

    inner = await client.read_file("wb", "inner-link")
    assert inner["link"] == "README.md" and inner["text"] == ""  # shown as a link, not followed


async def test_paths_out_of_the_worktree_are_refused(session, short_tmp: Path) -> None:
    client, tree = session
    secret = short_tmp / "host-secret.txt"
    secret.write_text("TOP SECRET host file\n")
    os.symlink(secret, tree / "escape")
    os.symlink(short_tmp, tree / "escape-dir")
    os.symlink("../../..", tree / "src" / "up")

    for call, expected in [
        (client.read_file("wb", "../../etc/passwd"), "leaves the worktree"),
        (client.read_file("wb", "src/../../x"), "leaves the worktree"),
        (client.read_file("wb", "/etc/passwd"), "is absolute"),
        (client.read_file("wb", "escape"), "pointing outside the worktree"),
        (client.read_file("wb", "escape-dir/host-secret.txt"), "pointing outside the worktree"),
        (client.list_files("wb", "escape-dir"), "pointing outside the worktree"),
        (client.list_files("wb", "src/up"), "pointing outside the worktree"),
        (client.list_files("wb", ".."), "leaves the worktree"),
    ]:
        with pytest.raises(ClauderonError, match=expected) as err:
            await call
        assert err.value.status == 403
        assert "\n" not in str(err.value) and "TOP SECRET" not in str(err.value)
    with pytest.raises(ClauderonError, match="does not exist") as err:
        await client.read_file("wb", "nope.txt")
    assert err.value.status == 404


async def test_diff_counts_committed_and_uncommitted(session) -> None:
    client, tree = session
    (tree / "feature.py").write_text("a\nb\nc\n")
    (tree / "README.md").write_text("hello\nworld\n")
    run_git(tree, "add", ".")
    run_git(tree, "-c", "user.name=T", "-c", "user.email=t@t", "commit", "-q", "-m", "feature")
    (tree / "feature.py").write_text("a\nB\nc\nd\n")  # 2 added, 1 removed, uncommitted
    (tree / "notes.txt").write_text("one\ntwo\n")  # untracked

    diff = await client.diff("wb")
    committed = {f["path"]: f for f in diff["committed"]["files"]}
    assert {p: (f["status"], f["added"], f["removed"]) for p, f in committed.items()} == {
        "README.md": ("M", 1, 0), "feature.py": ("A", 3, 0)}
    assert committed["feature.py"]["patch"].startswith("diff --git a/feature.py b/feature.py")
    assert "+world" in committed["README.md"]["patch"]
    assert (diff["committed"]["added"], diff["committed"]["removed"]) == (4, 0)
    uncommitted = {f["path"]: (f["status"], f["added"], f["removed"]) for f in diff["uncommitted"]["files"]}
    assert uncommitted == {"feature.py": ("M", 2, 1), "notes.txt": ("?", 2, 0)}
    assert diff["base"] == "main" and len(diff["merge_base"]) == 40


async def test_planted_filters_and_textconv_never_run_on_the_host(session, short_tmp: Path, git_repo: Path) -> None:
    """The agent plants drivers where it can write; the diff route must not run any of them."""
    client, tree = session
    marker = short_tmp / "PWNED"
    evil = short_tmp / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    evil.chmod(0o755)
    admin = git_repo / ".git" / "worktrees" / "wb"
    assert admin.is_dir()
    (tree / ".gitattributes").write_text("* filter=evil diff=evil\n")
    (tree / "README.md").write_text("planted change\n")
    (admin / "config.worktree").write_text(
        f"[filter \"evil\"]\n\tclean = {evil}\n\tsmudge = {evil}\n[diff \"evil\"]\n\ttextconv = {evil}\n"
        f"\tcommand = {evil}\n[diff]\n\texternal = {evil}\n[core]\n\tfsmonitor = {evil}\n\tpager = {evil}\n")
    # Worst case for the host: worktree config switched on (the agent cannot, its common dir is read-only).
    run_git(git_repo, "config", "extensions.worktreeConfig", "true")
    # And a second git directory, planted, that the worktree's .git file is repointed at.
    planted = short_tmp / "planted-gitdir"
    subprocess.run(["cp", "-a", str(admin), str(planted)], check=True)
    (planted / "commondir").write_text(f"{git_repo / '.git'}\n")
    (planted / "config.worktree").write_text(f"[core]\n\tfsmonitor = {evil}\n[diff]\n\texternal = {evil}\n")
    (tree / ".git").write_text(f"gitdir: {planted}\n")

    # The plant is live: git left to discover the repository itself does run it.
    control = subprocess.run(["git", "-c", "core.fsmonitor=false", "diff", "--ext-diff"], cwd=tree,
                             capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")})
    assert marker.exists(), f"the planted driver should run under plain git (the control): {control.stderr}"
    marker.unlink()

    diff = await client.diff("wb")
    listing = await client.list_files("wb")
    assert not marker.exists()
    changed = {f["path"]: (f["added"], f["removed"]) for f in diff["uncommitted"]["files"]}
    assert changed["README.md"] == (1, 1)
    assert {e["name"]: e["status"] for e in listing["entries"]}["README.md"] == "M"


async def test_info_for_a_local_session(session) -> None:
    client, _ = session
    info = await client.session_info("wb")
    assert info["session"]["name"] == "wb" and "proxy_password_hash" not in info["session"]
    assert info["container"] is None and info["stats"] is None
    assert "only sampled for docker sessions" in info["reason"]
    assert info["audit"] == []
