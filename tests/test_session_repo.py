"""A sandboxed session's repository of its own, with real git on the host: made by borrowing the user's
objects, and its commits imported by bundle (only its branch, every object checked, size-capped,
rewrites followed with the old tip kept)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import runtime.git.session_repo as session_repo
from runtime.errors import ClauderonError
from runtime.git.safety import GitContext
from runtime.git.session_repo import borrowed_object_dirs, create_session_repo, import_bundle
from tests.conftest import run_git


def user_repo(repo: Path) -> GitContext:
    return GitContext(repo / ".git", repo / ".git", repo)


def sandbox_clone(git_repo: Path, tmp: Path, name: str = "s") -> Path:
    """The session's own repository, as `create_session_repo` makes it for the engine."""
    run_git(git_repo, "branch", f"clauderon/{name}")
    path = tmp / f"sandbox-{name}"
    start = run_git(git_repo, "rev-parse", "main").strip()
    create_session_repo(path, f"clauderon/{name}", start, borrowed_object_dirs(git_repo / ".git"))
    run_git(path, "config", "user.name", "Agent")
    run_git(path, "config", "user.email", "agent@example.test")
    return path


def bundle_of(path: Path, *refs: str) -> bytes:
    return subprocess.run(["git", "-C", str(path), "bundle", "create", "-", *refs], check=True,
                          capture_output=True).stdout


def commit(path: Path, name: str, text: str) -> str:
    (path / name).write_text(text)
    run_git(path, "add", name)
    run_git(path, "commit", "-qm", f"add {name}")
    return run_git(path, "rev-parse", "HEAD").strip()


def test_the_session_repository_borrows_the_users_objects_and_copies_none(git_repo: Path, short_tmp: Path) -> None:
    for i in range(20):
        commit(git_repo, f"f{i}.txt", f"{i}\n")
    path = sandbox_clone(git_repo, short_tmp)
    assert (path / ".git").is_dir() and (path / "f19.txt").read_text() == "19\n"
    assert run_git(path, "symbolic-ref", "HEAD").strip() == "refs/heads/clauderon/s"
    assert len(run_git(path, "log", "--oneline").splitlines()) == 21
    alternates = (path / ".git" / "objects" / "info" / "alternates").read_text().split()
    assert alternates == [str((git_repo / ".git" / "objects").resolve())]
    own = run_git(path, "count-objects", "-v")
    assert "count: 0" in own and "in-pack: 0" in own  # nothing copied
    assert run_git(path, "remote").strip() == ""  # no path back to the user's repository


def test_a_new_commit_comes_back_on_the_session_branch_only(git_repo: Path, short_tmp: Path) -> None:
    path = sandbox_clone(git_repo, short_tmp)
    main_before = run_git(git_repo, "rev-parse", "main").strip()
    tip = commit(path, "work.txt", "agent work\n")
    # The agent also moves main and a tag in its own repository and bundles them along.
    run_git(path, "branch", "-f", "main", tip)
    run_git(path, "tag", "evil", tip)
    data = bundle_of(path, "refs/heads/clauderon/s", "refs/heads/main", "refs/tags/evil")
    imported = import_bundle(user_repo(git_repo), "s", "clauderon/s", data)
    assert imported.tip == tip and imported.kept_as is None
    assert run_git(git_repo, "rev-parse", "clauderon/s").strip() == tip
    assert run_git(git_repo, "rev-parse", "main").strip() == main_before
    assert run_git(git_repo, "tag", "--list").strip() == ""
    again = import_bundle(user_repo(git_repo), "s", "clauderon/s", data)
    assert again.previous is None and again.tip == tip  # nothing moved


def test_a_rewritten_history_is_followed_and_the_old_tips_kept(git_repo: Path, short_tmp: Path) -> None:
    path = sandbox_clone(git_repo, short_tmp)
    base = run_git(git_repo, "rev-parse", "main").strip()
    tips = []
    for round_ in range(7):
        run_git(path, "reset", "-q", "--hard", base)  # the agent throws its history away each round
        tips.append(commit(path, "work.txt", f"attempt {round_}\n"))
        imported = import_bundle(user_repo(git_repo), "s", "clauderon/s", bundle_of(path, "refs/heads/clauderon/s"))
        assert imported.tip == tips[-1]
    kept = run_git(git_repo, "for-each-ref", "--format=%(refname) %(objectname)",
                   "refs/clauderon/previous/s/").split("\n")
    kept = [line.split() for line in kept if line]
    assert [ref.rsplit("/", 1)[1] for ref, _ in kept] == ["2", "3", "4", "5", "6"]  # the last five
    assert [sha for _, sha in kept] == tips[1:6]
    assert run_git(git_repo, "fsck", "--no-progress").strip() == ""


def test_a_bundle_with_a_corrupt_object_is_refused(git_repo: Path, short_tmp: Path) -> None:
    path = sandbox_clone(git_repo, short_tmp)
    tree = run_git(path, "rev-parse", "HEAD^{tree}").strip()
    parent = run_git(path, "rev-parse", "HEAD").strip()
    # A commit git would never write: its author date is not a number (fsck: badDate).
    raw = (f"tree {tree}\nparent {parent}\nauthor A <a@example.test> soon +0000\n"
           "committer A <a@example.test> 1 +0000\n\nx\n")
    bad = subprocess.run(["git", "-C", str(path), "hash-object", "--literally", "-t", "commit", "-w", "--stdin"],
                         input=raw, text=True, capture_output=True, check=True).stdout.strip()
    run_git(path, "update-ref", "refs/heads/clauderon/s", bad)
    before = run_git(git_repo, "rev-parse", "clauderon/s").strip()
    with pytest.raises(ClauderonError, match="could not bring clauderon/s back"):
        import_bundle(user_repo(git_repo), "s", "clauderon/s", bundle_of(path, "refs/heads/clauderon/s"))
    assert run_git(git_repo, "rev-parse", "clauderon/s").strip() == before
    assert subprocess.run(["git", "-C", str(git_repo), "cat-file", "-e", bad]).returncode != 0


def test_a_bundle_over_the_cap_or_without_the_branch_is_refused(git_repo: Path, short_tmp: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = sandbox_clone(git_repo, short_tmp)
    commit(path, "big.bin", "x" * 50_000)
    data = bundle_of(path, "refs/heads/clauderon/s")
    monkeypatch.setattr(session_repo, "MAX_BUNDLE_BYTES", len(data) - 1)
    with pytest.raises(ClauderonError, match="MiB a session may bring back"):
        import_bundle(user_repo(git_repo), "s", "clauderon/s", data)
    monkeypatch.setattr(session_repo, "MAX_BUNDLE_BYTES", 1 << 30)
    with pytest.raises(ClauderonError, match="does not carry clauderon/s"):
        run_git(path, "branch", "other")
        import_bundle(user_repo(git_repo), "s", "clauderon/s", bundle_of(path, "refs/heads/other"))
    with pytest.raises(ClauderonError, match="cannot be used"):
        import_bundle(user_repo(git_repo), "s", "clauderon/s", b"# v2 git bundle\nnot a bundle\n")
