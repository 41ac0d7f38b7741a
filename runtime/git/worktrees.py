"""Git worktrees for sessions: one branch `clauderon/<name>` checked out under the home's `worktrees/`.

Every git command goes through `gitsafe`, because after a session ran, the worktree and parts of the
repository's `.git` hold content an agent wrote.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ClauderonError, Conflict
from runtime.git.include import IncludeCheck, copy_worktree_includes
from runtime.git.safety import GitContext, discover, last_line, porcelain_entries
from runtime.git.session_repo import SANDBOX_WORKSPACE as CONTAINER_WORKSPACE
from runtime.git.session_repo import adopt_checkout, borrowed_object_dirs, create_session_repo, session_repo_mounts
from runtime.home import Home
from runtime.models import Mount
from runtime.names import validate_name

log = logging.getLogger(__name__)

BRANCH_PREFIX = "clauderon/"


def ignored_is_work(path: str, included: Sequence[str], disposable: Sequence[str]) -> bool:
    """Whether an ignored path (a directory when it ends in `/`) is work a delete would lose: not in a
    rebuildable directory (`[worktree] disposable`), and not what `.worktreeinclude` copied in."""
    bare = path.rstrip("/")
    if any(part in disposable for part in bare.split("/")):
        return False
    return not any(c == bare or c.startswith(bare + "/") for c in included)


class BranchExists(Conflict):
    """The session's branch is already there; `reuse_branch=True` checks it out instead."""


@dataclass(frozen=True)
class WorktreeInfo:
    """Where a session's worktree lives and which repository and branches it belongs to."""

    name: str
    repo_root: Path  # the repository's top level (the checkout the user pointed at)
    subdir: str  # where in the repository the user pointed, relative; "" at the root
    base_branch: str
    branch: str  # clauderon/<name>
    worktree_path: Path  # <home>/worktrees/<name>
    git_common_dir: Path  # the main repository's .git, absolute
    git_worktree_dir: Path  # the worktree's admin dir, <common>/worktrees/<admin> (shared model only)
    own_repository: bool = False  # a repository of the session's own (sandboxed sessions), see session_repo
    included: tuple[str, ...] = ()  # what `.worktreeinclude` copied in at create

    def context(self) -> GitContext:
        """The git context of the worktree itself (a linked worktree of the user's repository).

        A session's own repository has none on the host: it is agent territory, read inside the sandbox."""
        if self.own_repository:
            raise ClauderonError(f"{self.worktree_path} is the session's own repository; "
                                 "it is read inside its sandbox, never by git on the host")
        return GitContext(self.git_worktree_dir, self.git_common_dir, self.worktree_path)


@dataclass(frozen=True)
class RemoveResult:
    """What `remove` did. `reason` says why the branch was kept (empty when it was deleted)."""

    worktree_removed: bool
    branch_deleted: bool
    branch_kept: bool
    reason: str = ""
    commits_ahead: int = 0


@dataclass(frozen=True)
class _Repo:
    root: Path
    git_dir: Path
    common_dir: Path

    def context(self) -> GitContext:
        """The user's own checkout, with every location named (branch and worktree bookkeeping too)."""
        return GitContext(self.git_dir, self.common_dir, self.root)


class WorktreeManager:
    """Creates, inspects and removes session worktrees inside one clauderon home."""

    def __init__(self, home: Home) -> None:
        self.home = home

    # ---- repositories -------------------------------------------------------------------------

    def resolve_repo(self, path: str | Path) -> tuple[Path, str]:
        """(repository root, subdirectory relative to it) for a path inside a repository with commits."""
        repo, subdir = self._open(path)
        return repo.root, subdir

    def current_branch(self, repo_root: str | Path) -> str:
        """The branch checked out in the repository, or "" on a detached HEAD."""
        proc = self._open(repo_root)[0].context().run(["symbolic-ref", "--quiet", "HEAD"], check=False)
        ref = proc.stdout.strip()
        return ref.removeprefix("refs/heads/") if proc.returncode == 0 and ref.startswith("refs/heads/") else ""

    def repo_context(self, repo_root: str | Path) -> GitContext:
        """The git context of the user's own checkout (every location named)."""
        return self._open(repo_root)[0].context()

    def branches(self, repo_root: str | Path) -> list[str]:
        """Local branch names, sorted."""
        return self._branches(self._open(repo_root)[0])

    def branch_exists(self, repo_root: str | Path, branch: str) -> bool:
        """Whether `refs/heads/<branch>` exists."""
        return self._has_ref(self._open(repo_root)[0], f"refs/heads/{branch}")

    # ---- create ---------------------------------------------------------------------------------

    def create(self, repo_path: str | Path, name: str, base_branch: str | None = None,
               reuse_branch: bool = False, own_repository: bool = False,
               include_check: IncludeCheck | None = None) -> WorktreeInfo:
        """Check out a new branch `clauderon/<name>` from `base_branch` at `<home>/worktrees/<name>`.

        The checkout is a linked worktree of the user's repository, or with `own_repository` (sandboxed
        sessions) a repository of its own that borrows the user's objects read-only (`session_repo`);
        either way the user's repository gets the branch. `reuse_branch=True` checks out an existing
        `clauderon/<name>` instead of refusing with `BranchExists`. `include_check` may refuse a file
        `.worktreeinclude` names. Anything half-made is undone when a step fails.
        """
        validate_name(name)
        repo, subdir = self._open(repo_path)
        branch = BRANCH_PREFIX + name
        base = base_branch or self.current_branch(repo.root)
        if not base:
            raise ClauderonError(
                f"{repo.root} is on a detached HEAD; pass a base branch ({self._some_branches(repo)})")
        base_ref = self._base_ref(repo, base)
        path = self.home.worktree(name)
        if path.exists() or path.is_symlink():
            raise Conflict(f"worktree path {path} already exists; pick another session name or remove that directory")
        existed = self._has_ref(repo, f"refs/heads/{branch}")
        if existed and not reuse_branch:
            raise BranchExists(
                f"branch {branch} already exists in {repo.root}; reuse it with --reuse-branch "
                f"or delete it with `git branch -D {branch}`")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if own_repository:
                if not existed:
                    repo.context().run(["branch", "--quiet", "--no-track", branch, base_ref])
                start = repo.context().run(["rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}"]).stdout.strip()
                create_session_repo(path, branch, start, borrowed_object_dirs(repo.common_dir))
                admin = path / ".git"
            elif existed:
                repo.context().run(["worktree", "add", "--quiet", str(path), branch])
                admin = self._admin_dir(path, repo.common_dir)
            else:
                repo.context().run(["worktree", "add", "--quiet", "--no-track", "-b", branch, str(path), base_ref])
                admin = self._admin_dir(path, repo.common_dir)
            copied = copy_worktree_includes(repo.root, path, include_check)
            if copied:
                log.info("copied %d .worktreeinclude entries into %s", len(copied), path)
            info = WorktreeInfo(
                name=name, repo_root=repo.root, subdir=subdir, base_branch=base, branch=branch,
                worktree_path=path, git_common_dir=repo.common_dir, git_worktree_dir=admin,
                own_repository=own_repository, included=tuple(copied),
            )
        except BaseException:
            self._rollback(repo, path, branch, delete_branch=not existed)
            raise
        log.info("created worktree %s on %s from %s", path, branch, base)
        return info

    def _rollback(self, repo: _Repo, path: Path, branch: str, *, delete_branch: bool) -> None:
        # The path did not exist before this call, so everything under it is ours to delete.
        try:
            if path.exists() or path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            repo.context().run(["worktree", "prune"], check=False)
            if delete_branch and self._has_ref(repo, f"refs/heads/{branch}"):
                repo.context().run(["branch", "-D", branch], check=False)
        except Exception:  # a failed rollback must not hide the error that caused it
            log.exception("rolling back worktree %s failed", path)

    # ---- inspect and remove -------------------------------------------------------------------

    def info(self, repo_path: str | Path, name: str, base_branch: str, subdir: str = "",
             branch: str | None = None, own_repository: bool = False) -> WorktreeInfo:
        """Rebuild the `WorktreeInfo` of an existing session worktree from stored fields."""
        repo, _ = self._open(repo_path)
        path = self.home.worktree(name)
        if own_repository:  # nothing in the directory is read: the agent may have changed all of it
            return WorktreeInfo(name, repo.root, subdir, base_branch, branch or BRANCH_PREFIX + name, path,
                                repo.common_dir, path / ".git", own_repository=True)
        admin = repo.common_dir / "worktrees" / name  # git's usual choice, when the link is gone
        if (path / ".git").exists():
            try:
                admin = self._admin_dir(path, repo.common_dir)
            except ClauderonError as exc:  # a broken link must not block removing the worktree
                log.warning("%s; assuming admin dir %s", exc, admin)
        return WorktreeInfo(name, repo.root, subdir, base_branch, branch or BRANCH_PREFIX + name, path,
                            repo.common_dir, admin)

    def dirty_paths(self, info: WorktreeInfo | Mapping[str, Any] | Any) -> list[str]:
        """Paths with uncommitted changes: tracked modifications and untracked files not ignored.

        Only for linked worktrees: a session's own repository is asked inside its sandbox."""
        info = self.info_of(info)
        if not info.worktree_path.is_dir():
            return []
        out = info.context().run(
            ["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignore-submodules=dirty"]).stdout
        return [path for _, path in porcelain_entries(out)]

    def unsaved_paths(self, info: WorktreeInfo | Mapping[str, Any] | Any, included: Sequence[str],
                      disposable: Sequence[str]) -> list[str]:
        """What deleting the worktree would lose: `dirty_paths`, and ignored paths (directories collapsed)
        other than what `.worktreeinclude` copied in and rebuildable directories (`disposable`)."""
        info = self.info_of(info)
        if not info.worktree_path.is_dir():
            return []
        out = info.context().run(["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignored=matching",
                                  "--ignore-submodules=dirty"]).stdout
        ignored = [path for code, path in porcelain_entries(out) if code == "!!"]
        return [*self.dirty_paths(info), *(p for p in ignored if ignored_is_work(p, included, disposable))]

    def commits_ahead(self, info: WorktreeInfo | Mapping[str, Any] | Any) -> int:
        """How many commits the session branch has that its base branch does not."""
        info = self.info_of(info)
        repo = self._open(info.repo_root)[0]
        ahead = self._ahead(repo, info)
        if ahead is None:
            raise ClauderonError(
                f"base branch {info.base_branch!r} or branch {info.branch} no longer exists in {info.repo_root}; "
                "recreate it or compare by hand with `git log`")
        return ahead

    def remove(self, info: WorktreeInfo | Mapping[str, Any] | Any, force: bool = False) -> RemoveResult:
        """Remove the worktree, and its branch when that holds no commits beyond the base branch.

        Refuses a worktree with uncommitted changes unless `force`.
        """
        orphan = self._orphan_path(info)
        if orphan is not None:
            return self._remove_orphan(orphan, force)
        info = self.info_of(info)
        repo = self._open(info.repo_root)[0]
        if info.own_repository:  # no git here: deleting the directory is all (the caller checked its work)
            return self._settle_branch(repo, info, self._delete_tree(info.worktree_path))
        removed = False
        if info.worktree_path.exists():
            dirty = [] if force else self.dirty_paths(info)
            if dirty:
                shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
                raise Conflict(
                    f"worktree {info.worktree_path} has uncommitted changes ({shown}); commit them, "
                    "or remove with --force, which deletes them")
            # Our own status check replaced git's (which would spawn a child git inside the
            # worktree), so --force here only skips that duplicate check; twice also ignores a lock.
            proc = repo.context().run(["worktree", "remove", "--force", "--force", str(info.worktree_path)],
                                    check=False)
            if proc.returncode != 0:
                log.warning("git worktree remove failed (%s); deleting %s directly",
                            last_line(proc.stderr), info.worktree_path)
                shutil.rmtree(info.worktree_path, ignore_errors=True)
            if info.worktree_path.exists():
                raise ClauderonError(
                    f"could not delete {info.worktree_path} (files owned by another user?); "
                    "delete it by hand, then remove the session again")
            removed = True
        repo.context().run(["worktree", "prune"])
        return self._settle_branch(repo, info, removed)

    def move_to_own_repository(self, value: WorktreeInfo | Mapping[str, Any] | Any) -> WorktreeInfo:
        """Move an older session's linked worktree to a repository of its own, in place (its sandbox must
        be stopped): the files stay, the branch's commits are already in the user's repository, and the
        old admin directory (agent-writable in the old model) is deleted without git reading it."""
        info = self.info_of(value)
        if info.own_repository:
            return info
        repo = self._open(info.repo_root)[0]
        tip = repo.context().run(["rev-parse", "--verify", f"refs/heads/{info.branch}^{{commit}}"]).stdout.strip()
        adopt_checkout(info.worktree_path, info.branch, tip, borrowed_object_dirs(repo.common_dir))
        admin = info.git_worktree_dir
        if admin.parent == repo.common_dir / "worktrees" and not admin.is_symlink():
            shutil.rmtree(admin, ignore_errors=True)
        log.info("moved %s to a repository of its own", info.worktree_path)
        return dataclasses.replace(info, git_worktree_dir=info.worktree_path / ".git", own_repository=True)

    def _orphan_path(self, value: WorktreeInfo | Mapping[str, Any] | Any) -> Path | None:
        """The worktree path when the repository it came from no longer exists, else None."""
        repo: str | Path | None
        if isinstance(value, WorktreeInfo):
            repo, path = value.repo_root, value.worktree_path
        else:
            get = value.get if isinstance(value, Mapping) else (lambda key, default=None: getattr(value, key, default))
            repo = get("repo_path") or get("repo_root")
            name = get("name")
            path = Path(get("worktree_path") or (self.home.worktree(name) if name else ""))
        return path if repo and not Path(repo).exists() and path.parent == self.home.worktrees else None

    @staticmethod
    def _delete_tree(path: Path) -> bool:
        if not (path.exists() or path.is_symlink()):
            return False
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            raise ClauderonError(f"could not delete {path} (files owned by another user?); "
                                 "delete it by hand, then remove the session again")
        return True

    def _remove_orphan(self, path: Path, force: bool) -> RemoveResult:
        if path.exists() and not force:
            raise ClauderonError(f"the repository of {path} no longer exists, so its work cannot be checked; "
                                 "remove with --force to delete the worktree anyway")
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            raise ClauderonError(f"could not delete {path} (files owned by another user?); delete it by hand")
        return RemoveResult(True, False, False, "the repository is gone, so there was no branch to delete")

    def _settle_branch(self, repo: _Repo, info: WorktreeInfo, removed: bool) -> RemoveResult:
        if not self._has_ref(repo, f"refs/heads/{info.branch}"):
            return RemoveResult(removed, False, False, f"branch {info.branch} was already gone")
        ahead = self._ahead(repo, info)
        if ahead is None:
            return RemoveResult(removed, False, True,
                                f"kept {info.branch}: base branch {info.base_branch!r} no longer exists")
        if ahead > 0:
            return RemoveResult(removed, False, True,
                                f"kept {info.branch}: it has {ahead} commit(s) not in {info.base_branch}", ahead)
        proc = repo.context().run(["branch", "-D", info.branch], check=False)
        if proc.returncode != 0:  # e.g. the user checked the branch out somewhere else meanwhile
            return RemoveResult(removed, False, True, f"kept {info.branch}: {last_line(proc.stderr)}")
        return RemoveResult(removed, True, False, "", 0)

    # ---- container mounts -----------------------------------------------------------------------

    def container_mounts(self, info: WorktreeInfo) -> list[Mount]:
        """Bind mounts that let git work inside a container while the agent cannot plant host-run code.

        A session's own repository: the checkout, and the borrowed object stores read-only; nothing else
        of the user's `.git`. The rest of this describes the older shared model (a linked worktree),
        which sessions created before the own-repository model keep until they are restarted.

        The worktree's `.git` file says `gitdir: <common>/worktrees/<admin>` with host paths, so the
        common dir is mounted at its own host path. It is read-only as a whole: `config`, `hooks/`,
        `info/`, `packed-refs` and the main `HEAD` are what host git reads for behaviour, and an
        agent committing on its own branch never needs to write them. Writable, because committing
        needs them: `objects/` (new objects), `refs/` (refs/heads/clauderon/<name> and its `.lock`
        sibling, plus tags, stash and remote refs if the agent uses them), `logs/` (reflogs), and the
        session's own admin dir (its HEAD, index, ORIG_HEAD, FETCH_HEAD, logs/HEAD). Inside that admin
        dir `commondir`, `gitdir` and `config.worktree` are read-only again: they redirect git to
        another repository or add config (the latter when `extensions.worktreeConfig` is on), and an
        empty `config.worktree` is created so it can be pinned. The worktree's own `.git` file is
        read-only so the agent cannot point it (or a `.git` directory) elsewhere. Host git names
        GIT_DIR/GIT_COMMON_DIR itself, so these read-only mounts are a second wall, not the only one.
        Accepted risk: with `refs/` writable the agent can move other branches (data, not code).
        Docker applies mounts in list order, so parents come before children.
        """
        if info.own_repository:
            borrowed = borrowed_object_dirs(info.git_common_dir)
            return session_repo_mounts(info.worktree_path, borrowed, CONTAINER_WORKSPACE)
        common, admin, tree = info.git_common_dir, info.git_worktree_dir, info.worktree_path
        for sub in ("objects", "refs", "logs"):
            (common / sub).mkdir(exist_ok=True)
        (admin / "config.worktree").touch(exist_ok=True)
        mounts = [Mount(host=str(tree), path=CONTAINER_WORKSPACE, readonly=False),
                  Mount(host=str(common), path=str(common), readonly=True)]
        mounts += [Mount(host=str(common / sub), path=str(common / sub), readonly=False)
                   for sub in ("objects", "refs", "logs")]
        mounts.append(Mount(host=str(admin), path=str(admin), readonly=False))
        mounts += [Mount(host=str(admin / f), path=str(admin / f), readonly=True)
                   for f in ("commondir", "gitdir", "config.worktree") if (admin / f).exists()]
        mounts.append(Mount(host=str(tree / ".git"), path=f"{CONTAINER_WORKSPACE}/.git", readonly=True))
        return mounts

    # ---- helpers ----------------------------------------------------------------------------------

    def _open(self, path: str | Path) -> tuple[_Repo, str]:
        target = Path(path).expanduser()
        if not target.exists():
            raise ClauderonError(f"{target} does not exist; give the path of a git repository")
        if not target.is_dir():
            raise ClauderonError(f"{target} is not a directory; give the path of a git repository")
        target = target.resolve()
        proc = discover(target, ["rev-parse", "--path-format=absolute", "--is-bare-repository",
                                 "--is-inside-git-dir", "--git-dir", "--git-common-dir"], check=False)
        if proc.returncode != 0:
            detail = last_line(proc.stderr)
            if "not a git repository" in detail:
                raise ClauderonError(f"{target} is not inside a git repository; run `git init` there "
                                     "or pick a repository")
            if "dubious ownership" in detail:
                raise ClauderonError(f"{target} is owned by another user, so git refuses it; "
                                     f"run `git config --global --add safe.directory {target}` if you trust it")
            raise ClauderonError(f"cannot read the git repository at {target}: {detail}")
        bare, in_git_dir, git_dir, common = proc.stdout.splitlines()[:4]
        if bare == "true":
            raise ClauderonError(f"{target} is a bare repository; point clauderon at a checkout (a non-bare clone)")
        if in_git_dir == "true":
            raise ClauderonError(f"{target} is inside a .git directory; give the repository's working directory")
        top = discover(target, ["rev-parse", "--path-format=absolute", "--show-toplevel"]).stdout.strip()
        repo = _Repo(Path(top), Path(git_dir), Path(common))
        if repo.context().run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False).returncode:
            raise ClauderonError(f"{repo.root} has no commits yet; make a first commit, then start the session")
        subdir = target.relative_to(repo.root.resolve()).as_posix()
        return repo, "" if subdir == "." else subdir

    def info_of(self, value: WorktreeInfo | Mapping[str, Any] | Any) -> WorktreeInfo:
        """Accept a `WorktreeInfo`, a session record, or a mapping with the session's fields."""
        if isinstance(value, WorktreeInfo):
            return value
        get = value.get if isinstance(value, Mapping) else (lambda key, default=None: getattr(value, key, default))
        worktree_path = get("worktree_path")
        name = get("name") or (Path(worktree_path).name if worktree_path else None)
        repo_path = get("repo_path") or get("repo_root")
        base_branch = get("base_branch")
        if not (name and repo_path and base_branch):
            raise ClauderonError("session record lacks name, repo_path or base_branch; "
                                 "it cannot be mapped to a worktree")
        info = self.info(repo_path, name, base_branch, get("subdir") or "", get("branch"),
                         bool(get("own_repository")))
        if worktree_path and Path(worktree_path) != info.worktree_path:
            raise ClauderonError(f"worktree {worktree_path} is not inside this clauderon home "
                                 f"({self.home.worktrees}); remove it with `git worktree remove` by hand")
        return info

    @staticmethod
    def _admin_dir(worktree: Path, common: Path) -> Path:
        # git picks another admin name when `worktrees/<name>` is taken, so read what it chose.
        dot_git = worktree / ".git"
        text = dot_git.read_text() if dot_git.is_file() and not dot_git.is_symlink() else ""
        if not text.startswith("gitdir:"):
            raise ClauderonError(f"{dot_git} is not a worktree link file; remove {worktree} "
                                 "and create the session again")
        admin = Path(text.split(":", 1)[1].strip())
        admin = (worktree / admin if not admin.is_absolute() else admin).resolve()
        if admin.parent != (common / "worktrees").resolve():
            raise ClauderonError(f"{dot_git} points outside {common}/worktrees; remove {worktree} "
                                 "and create the session again")
        return admin

    @staticmethod
    def _has_ref(repo: _Repo, ref: str) -> bool:
        return repo.context().run(["show-ref", "--verify", "--quiet", ref], check=False).returncode == 0

    @staticmethod
    def _branches(repo: _Repo) -> list[str]:
        out = repo.context().run(["for-each-ref", "--format=%(refname)", "refs/heads/"]).stdout
        return sorted(line.removeprefix("refs/heads/") for line in out.splitlines() if line)

    def _some_branches(self, repo: _Repo) -> str:
        names = self._branches(repo)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"existing branches: {shown}" if names else "the repository has no branches"

    def _base_ref(self, repo: _Repo, base: str) -> str:
        for ref in (f"refs/heads/{base}", f"refs/remotes/{base}"):
            if self._has_ref(repo, ref):
                return ref
        raise ClauderonError(f"base branch {base!r} does not exist in {repo.root}; {self._some_branches(repo)}")

    def _ahead(self, repo: _Repo, info: WorktreeInfo) -> int | None:
        base = next((r for r in (f"refs/heads/{info.base_branch}", f"refs/remotes/{info.base_branch}")
                     if self._has_ref(repo, r)), None)
        branch = f"refs/heads/{info.branch}"
        if base is None or not self._has_ref(repo, branch):
            return None
        return int(repo.context().run(["rev-list", "--count", f"{base}..{branch}"]).stdout.strip() or 0)


# ---- .worktreeinclude ---------------------------------------------------------------------------
