"""WorktreeManager and the agent home, against real throwaway git repositories."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from runtime.agents.home import FALLBACK_EMAIL, FALLBACK_NAME, host_git_identity, prepare_agent_home, write_agent_file
from runtime.errors import ClauderonError
from runtime.git.include import copy_worktree_includes
from runtime.git.worktrees import BranchExists, WorktreeManager
from runtime.home import Home
from runtime.settings import Settings
from tests.conftest import run_git


@pytest.fixture
def home(short_tmp: Path) -> Home:
    return Home.open(short_tmp / "home")


@pytest.fixture
def manager(home: Home) -> WorktreeManager:
    return WorktreeManager(home)


def _worktree_list(repo: Path) -> str:
    return run_git(repo, "worktree", "list", "--porcelain")


def _commit(where: Path, name: str, text: str = "x\n") -> None:
    (where / name).write_text(text)
    run_git(where, "add", name)
    run_git(where, "commit", "-q", "-m", f"add {name}")


# ---- resolve_repo and branches ------------------------------------------------------------------


def test_resolve_repo_root_and_subdir(manager: WorktreeManager, git_repo: Path) -> None:
    assert manager.resolve_repo(str(git_repo)) == (git_repo.resolve(), "")
    assert manager.resolve_repo(str(git_repo / "src")) == (git_repo.resolve(), "src")


@pytest.mark.parametrize("kind, expected", [
    ("missing", "does not exist"), ("file", "is not a directory"), ("plain", "not inside a git repository"),
    ("bare", "bare repository"), ("empty", "no commits yet"), ("gitdir", "inside a .git directory"),
])
def test_resolve_repo_refusals_are_one_clear_line(manager: WorktreeManager, short_tmp: Path, git_repo: Path,
                                                  kind: str, expected: str) -> None:
    target = short_tmp / kind
    if kind == "file":
        target.write_text("x")
    elif kind == "plain":
        target.mkdir()
    elif kind == "bare":
        subprocess.run(["git", "init", "-q", "--bare", str(target)], check=True)
    elif kind == "empty":
        subprocess.run(["git", "init", "-q", str(target)], check=True)
    elif kind == "gitdir":
        target = git_repo / ".git" / "refs"
    with pytest.raises(ClauderonError) as err:
        manager.resolve_repo(str(target))
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_branches_and_current_branch(manager: WorktreeManager, git_repo: Path) -> None:
    run_git(git_repo, "branch", "feature/x")
    assert manager.branches(git_repo) == ["feature/x", "main"]
    assert manager.current_branch(git_repo) == "main"
    assert manager.branch_exists(git_repo, "feature/x") and not manager.branch_exists(git_repo, "nope")
    run_git(git_repo, "checkout", "-q", "--detach")
    assert manager.current_branch(git_repo) == ""


# ---- create -------------------------------------------------------------------------------------------


def test_create_checks_out_new_branch_from_current(manager: WorktreeManager, home: Home, git_repo: Path) -> None:
    run_git(git_repo, "checkout", "-q", "-b", "dev")
    _commit(git_repo, "dev.txt")
    info = manager.create(str(git_repo / "src"), "fix-it")
    assert info.branch == "clauderon/fix-it" and info.base_branch == "dev" and info.subdir == "src"
    assert info.worktree_path == home.worktree("fix-it") and (info.worktree_path / "dev.txt").is_file()
    assert info.git_common_dir == (git_repo / ".git").resolve()
    assert info.git_worktree_dir == info.git_common_dir / "worktrees" / "fix-it"
    assert (info.git_worktree_dir / "HEAD").read_text().strip() == "ref: refs/heads/clauderon/fix-it"
    assert str(info.worktree_path) in _worktree_list(git_repo)


def test_create_reads_admin_dir_git_chose(manager: WorktreeManager, git_repo: Path) -> None:
    (git_repo / ".git" / "worktrees" / "taken").mkdir(parents=True)
    info = manager.create(str(git_repo), "taken")
    assert info.git_worktree_dir.name != "taken"
    assert (info.git_worktree_dir / "gitdir").read_text().strip() == str(info.worktree_path / ".git")


def test_create_from_explicit_base_and_detached(manager: WorktreeManager, git_repo: Path) -> None:
    run_git(git_repo, "branch", "release")
    run_git(git_repo, "checkout", "-q", "--detach")
    with pytest.raises(ClauderonError, match="detached HEAD; pass a base branch .*main"):
        manager.create(str(git_repo), "a")
    assert manager.create(str(git_repo), "a", base_branch="release").base_branch == "release"


def test_missing_base_lists_branches(manager: WorktreeManager, git_repo: Path) -> None:
    with pytest.raises(ClauderonError, match=r"base branch 'nope' does not exist .*existing branches: main"):
        manager.create(str(git_repo), "a", base_branch="nope")
    assert not manager.branch_exists(git_repo, "clauderon/a")


def test_existing_branch_needs_reuse(manager: WorktreeManager, git_repo: Path) -> None:
    run_git(git_repo, "branch", "clauderon/again")
    with pytest.raises(BranchExists, match="--reuse-branch"):
        manager.create(str(git_repo), "again")
    assert not manager.home.worktree("again").exists()
    info = manager.create(str(git_repo), "again", reuse_branch=True)
    assert (info.git_worktree_dir / "HEAD").read_text().strip() == "ref: refs/heads/clauderon/again"


def test_existing_path_is_refused(manager: WorktreeManager, home: Home, git_repo: Path) -> None:
    home.worktree("busy").mkdir(parents=True)
    with pytest.raises(ClauderonError, match="already exists"):
        manager.create(str(git_repo), "busy")
    assert not manager.branch_exists(git_repo, "clauderon/busy")


@pytest.mark.parametrize("reuse", [False, True])
def test_failed_create_rolls_back(manager: WorktreeManager, git_repo: Path, reuse: bool) -> None:
    (git_repo / ".worktreeinclude").write_text("../secret\n")
    if reuse:
        run_git(git_repo, "branch", "clauderon/rb")
    with pytest.raises(ClauderonError, match="leaves the repository"):
        manager.create(str(git_repo), "rb", reuse_branch=reuse)
    assert not manager.home.worktree("rb").exists()
    assert str(manager.home.worktree("rb")) not in _worktree_list(git_repo)  # not the bare letters: tmp names hold them
    assert manager.branch_exists(git_repo, "clauderon/rb") is reuse  # only a branch this call made goes


# ---- .worktreeinclude -----------------------------------------------------------------------------


def test_worktreeinclude_copies_untracked_files_safely(manager: WorktreeManager, git_repo: Path,
                                                       short_tmp: Path) -> None:
    outside = short_tmp / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    (git_repo / ".gitignore").write_text(".env.local\nkeys/\nconf/\nleak\n")
    run_git(git_repo, "checkout", "-q", "-b", "evil")  # a base whose `conf` is a symlink out of the repo
    os.symlink(outside, git_repo / "conf")
    run_git(git_repo, "add", "-f", "conf", ".gitignore")
    run_git(git_repo, "commit", "-q", "-m", "evil")
    run_git(git_repo, "checkout", "-q", "main")
    (git_repo / "conf").mkdir()
    (git_repo / "conf" / "app.secret").write_text("app\n")
    (git_repo / ".env.local").write_text("TOKEN=1\n")
    (git_repo / "keys" / "deep").mkdir(parents=True)
    (git_repo / "keys" / "deep" / "a.key").write_text("k\n")
    os.symlink(outside / "secret", git_repo / "leak")
    (git_repo / ".worktreeinclude").write_text(
        "# local settings\n.env.local\n\n**/*.key\nleak\nREADME.md\nmissing\n")
    (git_repo / "README.md").write_text("local edit\n")
    info = manager.create(str(git_repo), "inc")
    wt = info.worktree_path
    assert (wt / ".env.local").read_text() == "TOKEN=1\n"
    assert (wt / "keys" / "deep" / "a.key").read_text() == "k\n"
    assert not (wt / "leak").exists()  # symlink out of the repo is not followed
    assert (wt / "README.md").read_text() == "hello\n"  # the checkout's file is kept
    # Through a base whose `conf` is a symlink to outside, the copy must not write outside.
    (git_repo / ".worktreeinclude").write_text("conf/app.secret\n")
    evil = manager.create(str(git_repo), "evil", base_branch="evil")
    assert (evil.worktree_path / "conf").is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_worktreeinclude_refuses_parent_paths(git_repo: Path, short_tmp: Path) -> None:
    (git_repo / ".worktreeinclude").write_text("ok\nsub/../../x\n")
    target = short_tmp / "t"
    target.mkdir()
    with pytest.raises(ClauderonError, match=r"line 2: 'sub/../../x' leaves the repository"):
        copy_worktree_includes(git_repo, target)


# ---- dirty, ahead, remove ---------------------------------------------------------------------------


def test_dirty_detection(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "d")
    wt = info.worktree_path
    assert manager.dirty_paths(info) == []
    (wt / ".gitignore").write_text("*.log\n")
    assert manager.dirty_paths(info) == [".gitignore"]
    run_git(wt, "add", ".gitignore")
    run_git(wt, "commit", "-q", "-m", "ignore logs")
    (wt / "debug.log").write_text("ignored\n")
    assert manager.dirty_paths(info) == []
    (wt / "README.md").write_text("changed\n")
    assert manager.dirty_paths(info) == ["README.md"]


def test_remove_clean_worktree_deletes_branch(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "clean")
    result = manager.remove(info)
    assert result.worktree_removed and result.branch_deleted and not result.branch_kept
    assert not info.worktree_path.exists() and not info.git_worktree_dir.exists()
    assert not manager.branch_exists(git_repo, "clauderon/clean")


def test_remove_keeps_branch_with_commits(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "work")
    _commit(info.worktree_path, "feature.py")
    assert manager.commits_ahead(info) == 1
    result = manager.remove(info)
    assert result.worktree_removed and result.branch_kept and not result.branch_deleted
    assert result.commits_ahead == 1 and "1 commit(s) not in main" in result.reason
    assert manager.branch_exists(git_repo, "clauderon/work")


def test_remove_refuses_dirty_unless_forced(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "dirty")
    (info.worktree_path / "notes.txt").write_text("wip\n")
    with pytest.raises(ClauderonError, match=r"uncommitted changes \(notes.txt\).*--force"):
        manager.remove(info)
    assert info.worktree_path.exists()
    assert manager.remove(info, force=True).worktree_removed
    assert not info.worktree_path.exists() and not manager.branch_exists(git_repo, "clauderon/dirty")


def test_unsaved_paths_counts_ignored_work_but_not_copies_or_rebuildables(manager: WorktreeManager,
                                                                         git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("out/\nnode_modules/\n.env.local\n*.log\n")
    (git_repo / ".env.local").write_text("X=1\n")
    (git_repo / ".worktreeinclude").write_text(".env.local\n")
    run_git(git_repo, "add", ".gitignore", ".worktreeinclude")
    run_git(git_repo, "commit", "-qm", "rules")
    info = manager.create(str(git_repo), "ign")
    assert info.included == (".env.local",)
    tree = info.worktree_path
    (tree / "node_modules" / "x").mkdir(parents=True)
    (tree / "node_modules" / "x" / "i.js").write_text("1\n")
    disposable = Settings().worktree.disposable
    assert manager.unsaved_paths(info, info.included, disposable) == []
    (tree / "out").mkdir()
    (tree / "out" / "result.bin").write_text("r\n")
    (tree / "run.log").write_text("log\n")
    (tree / "notes.txt").write_text("wip\n")
    assert manager.unsaved_paths(info, info.included, disposable) == ["notes.txt", "out/", "run.log"]
    # Not recorded as copied, or not rebuildable by this configuration: counted.
    assert manager.unsaved_paths(info, (), disposable) == ["notes.txt", ".env.local", "out/", "run.log"]
    assert "node_modules/" in manager.unsaved_paths(info, info.included, ["target"])


def test_own_repository_create_and_remove_run_no_git_in_it(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "own", own_repository=True)
    tree = info.worktree_path
    assert (tree / ".git").is_dir() and (tree / "README.md").exists()
    assert manager.branch_exists(git_repo, "clauderon/own")  # the user's repository has the branch
    assert run_git(git_repo, "worktree", "list").count("\n") == 1  # and no linked worktree
    mounts = manager.container_mounts(info)
    assert [(m.path, m.readonly) for m in mounts] == [
        ("/workspace", False), (str((git_repo / ".git" / "objects").resolve()), True)]
    with pytest.raises(ClauderonError, match="read inside its sandbox"):
        info.context()
    # The agent plants a hook and fsmonitor in its own repository: removing runs none of it.
    marker = tree.parent / "ran"
    (tree / ".git" / "config").write_text(f"[core]\n\tfsmonitor = touch {marker}\n")
    result = manager.remove({"name": "own", "repo_path": str(git_repo), "base_branch": "main",
                             "own_repository": True})
    assert result.worktree_removed and result.branch_deleted and not marker.exists()


def test_an_older_linked_worktree_moves_to_its_own_repository_keeping_all_work(manager: WorktreeManager,
                                                                            git_repo: Path) -> None:
    info = manager.create(str(git_repo), "old")  # the model before: a linked worktree
    admin = info.git_worktree_dir
    _commit(info.worktree_path, "feature.py")
    tree = info.worktree_path
    (tree / "README.md").write_text("edited, not committed\n")
    (tree / "scratch.txt").write_text("untracked\n")
    moved = manager.move_to_own_repository({"name": "old", "repo_path": str(git_repo), "base_branch": "main"})
    assert moved.own_repository and (tree / ".git").is_dir() and not admin.exists()
    assert (tree / "README.md").read_text() == "edited, not committed\n" and (tree / "scratch.txt").exists()
    assert run_git(tree, "log", "--format=%s", "-1").strip() == "add feature.py"
    assert sorted(run_git(tree, "status", "--porcelain").splitlines()) == [" M README.md", "?? scratch.txt"]
    assert run_git(git_repo, "worktree", "list").count("\n") == 1
    assert manager.branch_exists(git_repo, "clauderon/old")


def test_remove_with_missing_dir_and_session_fields(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "gone")
    shutil.rmtree(info.worktree_path)
    session = SimpleNamespace(name="gone", repo_path=str(git_repo / "src"), base_branch="main",
                              branch="clauderon/gone", worktree_path=str(info.worktree_path), subdir="src")
    result = manager.remove(session)
    assert not result.worktree_removed and result.branch_deleted
    assert "gone" not in _worktree_list(git_repo)


def test_remove_keeps_branch_when_base_vanished(manager: WorktreeManager, git_repo: Path) -> None:
    run_git(git_repo, "branch", "tmp-base")
    info = manager.create(str(git_repo), "orphan", base_branch="tmp-base")
    run_git(git_repo, "branch", "-D", "tmp-base")
    result = manager.remove({"name": "orphan", "repo_path": str(git_repo), "base_branch": "tmp-base"})
    assert result.branch_kept and "no longer exists" in result.reason
    assert result.worktree_removed and not info.worktree_path.exists()


def test_remove_when_repository_vanished(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "lost")
    shutil.rmtree(git_repo)
    with pytest.raises(ClauderonError, match="no longer exists.*--force"):
        manager.remove(info)
    result = manager.remove(info, force=True)
    assert result.worktree_removed and not info.worktree_path.exists()


# ---- container mounts -----------------------------------------------------------------------------------


def test_container_mounts_layout(manager: WorktreeManager, git_repo: Path) -> None:
    info = manager.create(str(git_repo), "m")
    shutil.rmtree(info.git_common_dir / "logs")
    mounts = manager.container_mounts(info)
    common, admin = str(info.git_common_dir), str(info.git_worktree_dir)
    assert [(m.path, m.readonly) for m in mounts] == [
        ("/workspace", False), (common, True), (f"{common}/objects", False), (f"{common}/refs", False),
        (f"{common}/logs", False), (admin, False), (f"{admin}/commondir", True), (f"{admin}/gitdir", True),
        (f"{admin}/config.worktree", True), ("/workspace/.git", True)]
    assert all(Path(m.host).exists() for m in mounts)
    assert mounts[0].host == str(info.worktree_path)


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare with user+mount namespaces to realise bind mounts")
def test_git_commits_inside_realised_mounts(manager: WorktreeManager, home: Home, git_repo: Path,
                                            short_tmp: Path) -> None:
    """The mount list realised as real bind mounts (no Docker): the agent can commit, not plant."""
    run_git(git_repo, "config", "--remove-section", "user")  # so the agent home's identity is the one used
    info = manager.create(str(git_repo), "agent")
    agent_home = prepare_agent_home(home, "s1", git_user_name="Agent", git_user_email="agent@example.test")
    workspace = short_tmp / "workspace"
    workspace.mkdir()
    # Docker takes each source from the host's view, untouched by mounts already made in the
    # container; staging every source first reproduces that (a bind mount copies its source's
    # read-only flag, so binding `<common>/objects` after `<common>` went read-only would not).
    lines, stage = ["set -u"], short_tmp / "stage"
    stage.mkdir()
    mounts = manager.container_mounts(info)
    for i, m in enumerate(mounts):
        (stage / str(i)).mkdir() if Path(m.host).is_dir() else (stage / str(i)).touch()
        lines.append(f"mount --bind '{m.host}' '{stage / str(i)}' || exit 2")
    for i, m in enumerate(mounts):
        target = str(workspace) + m.path[len("/workspace"):] if m.path.startswith("/workspace") else m.path
        lines.append(f"mount --bind '{stage / str(i)}' '{target}' || exit 3")
        if m.readonly:
            lines.append(f"mount -o remount,bind,ro '{target}' || exit 4")
    common, admin = info.git_common_dir, info.git_worktree_dir
    lines += [
        f"cd '{workspace}' && echo agent >> README.md && git add README.md && git commit -qm agent || exit 10",
        "git status --porcelain >/dev/null || exit 11",
        f"touch '{common}/hooks/post-checkout' 2>/dev/null && exit 20",
        f"echo '[core] fsmonitor=x' >> '{common}/config' 2>/dev/null && exit 21",
        f"echo /tmp > '{admin}/commondir' 2>/dev/null && exit 22",
        f"echo '[core] fsmonitor=x' > '{admin}/config.worktree' 2>/dev/null && exit 23",
        f"echo 'gitdir: /tmp' > '{workspace}/.git' 2>/dev/null && exit 24",
        f"touch '{common}/packed-refs' 2>/dev/null && exit 25",
        "exit 0",
    ]
    script = short_tmp / "agent.sh"
    script.write_text("\n".join(lines) + "\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(agent_home)}
    proc = subprocess.run(["unshare", "-rm", "sh", str(script)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert manager.commits_ahead(info) == 1
    author = run_git(git_repo, "log", "-1", "--format=%an <%ae>", "clauderon/agent").strip()
    assert author == "Agent <agent@example.test>"
    assert not (common / "hooks" / "post-checkout").exists()


# ---- agent home ---------------------------------------------------------------------------------------------


def test_prepare_agent_home(home: Home, git_repo: Path) -> None:
    path = prepare_agent_home(home, "abc123", git_user_name=None, git_user_email=None, repo_path=git_repo)
    assert path == home.agent_home("abc123") and stat.S_IMODE(path.stat().st_mode) == 0o700
    env = {"PATH": os.environ["PATH"], "HOME": str(path), "GIT_CONFIG_NOSYSTEM": "1"}

    def get(*args: str) -> str:
        return subprocess.run(["git", "config", "--global", *args], env=env, capture_output=True,
                              text=True, check=True).stdout.strip()

    assert get("user.name") == "Test User" and get("user.email") == "test@example.test"
    assert get("safe.directory") == "*"
    assert get("--get-all", 'url.https://github.com/.insteadof').splitlines() == [
        "git@github.com:", "ssh://git@github.com/"]
    rewritten = subprocess.run(["git", "ls-remote", "--get-url", "git@github.com:o/r.git"], env=env, cwd=path,
                               capture_output=True, text=True).stdout.strip()
    assert rewritten == "https://github.com/o/r.git"


def test_agent_home_fallback_identity_and_quoting(home: Home) -> None:
    path = prepare_agent_home(home, "s2", git_user_name='Ann "the" \\ Dev\nX', git_user_email=None)
    env = {"PATH": os.environ["PATH"], "HOME": str(path), "GIT_CONFIG_NOSYSTEM": "1"}
    name = subprocess.run(["git", "config", "--global", "user.name"], env=env, capture_output=True, text=True).stdout
    email = subprocess.run(["git", "config", "--global", "user.email"], env=env, capture_output=True, text=True).stdout
    assert name.strip() == 'Ann "the" \\ Dev X' and email.strip() == FALLBACK_EMAIL
    assert FALLBACK_NAME == "clauderon"


def test_agent_home_rejects_bad_ids_and_escapes(home: Home, short_tmp: Path) -> None:
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(ClauderonError):
            prepare_agent_home(home, bad, git_user_name=None, git_user_email=None)
    path = prepare_agent_home(home, "s3", git_user_name="a", git_user_email="b@c")
    with pytest.raises(ClauderonError):
        write_agent_file(path, "../escape", "x")
    os.symlink(short_tmp, path / ".claude")
    with pytest.raises(ClauderonError, match="symlink"):
        write_agent_file(path, ".claude/settings.json", "{}")
    os.symlink(short_tmp / "target", path / "planted")
    write_agent_file(path, "planted", "data")  # replaces the link instead of writing through it
    assert not (short_tmp / "target").exists() and (path / "planted").read_text() == "data"
    assert stat.S_IMODE((path / "planted").stat().st_mode) == 0o600


def test_host_git_identity_falls_back_to_global(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_home = short_tmp / "user"
    (fake_home / "plain").mkdir(parents=True)
    (fake_home / ".gitconfig").write_text("[user]\n\tname = Global Person\n\temail = g@example.test\n")
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # inherited GIT_* must not hide the user's config
    assert host_git_identity(fake_home / "plain") == ("Global Person", "g@example.test")
    assert host_git_identity(short_tmp / "missing") == (None, None)
