"""A sandboxed session's repository of its own, and how its commits come back to the user's repository.

A Docker session works in `<home>/worktrees/<name>`, a checkout with its own `.git` directory that the
engine makes at create, before the agent runs: `git init`, the user's object store borrowed through
`objects/info/alternates` (mounted read-only at the same path in the container, so nothing is copied
and nothing there can be changed), the branch `clauderon/<name>` at the base commit, checked out. No
other part of the user's `.git` (config with tokens in remote URLs, refs, logs, hooks) is visible in
the container. `bench/create.py` measured, on 2,000 commits x 500 files: borrowing 0.74x the time of a
`git worktree add`, a clone from a bundle 1.16x (it copies every object); so the store is borrowed.

Once the sandbox has started, the directory is agent territory and host git never runs in it again:
its status, diffs and bundles are taken inside the sandbox (exec). Its commits come back as a bundle,
checked object by object, fetched into `refs/heads/clauderon/<name>` and nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import ClauderonError
from runtime.git.safety import GitContext, last_line
from runtime.models import Mount

log = logging.getLogger(__name__)

SANDBOX_WORKSPACE = "/workspace"
"""Where a sandbox has the session's checkout."""
SANDBOX_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.pager=cat",
               "-C", SANDBOX_WORKSPACE]
"""git as the engine runs it inside a sandbox, on the checkout, with nothing the agent planted run."""
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
"""The largest bundle a session may send back; a larger history is refused with one line."""
PREVIOUS_TIPS_KEPT = 5
"""Rewritten tips of a session branch kept under `refs/clauderon/previous/<name>/<n>`."""


def borrowed_object_dirs(common_dir: Path) -> list[Path]:
    """The user's object store and the stores it borrows itself (its own alternates), which the
    session's repository needs to read every object reachable from the base commit."""
    objects = (common_dir / "objects").resolve()
    found = [objects]
    try:
        lines = (objects / "info" / "alternates").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            path = Path(line) if os.path.isabs(line) else objects / line
            if path.resolve().is_dir() and path.resolve() not in found:
                found.append(path.resolve())
    return found


def create_session_repo(path: Path, branch: str, start: str, object_dirs: list[Path]) -> None:
    """Make `path` a checkout of `start` on `branch`, its objects borrowed from `object_dirs`.

    `path` must not exist; it is the engine's until the sandbox starts, so host git may run here now."""
    path.mkdir(mode=0o755)
    repo = GitContext(path / ".git", None, path)
    repo.run(["init", "--quiet", "--initial-branch", branch])
    (path / ".git" / "objects" / "info" / "alternates").write_text("".join(f"{d}\n" for d in object_dirs))
    ref = path / ".git" / "refs" / "heads" / branch  # a fresh repository of ours: the ref is a plain file
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(f"{start}\n")
    repo.run(["reset", "--quiet", "--hard", start])


def adopt_checkout(path: Path, branch: str, start: str, object_dirs: list[Path]) -> None:
    """Give an existing checkout (an older session's linked worktree, whose sandbox is stopped) a
    repository of its own with `branch` at `start`, in place: its files stay exactly as they are, so uncommitted and
    ignored work carries over; the index is set to the branch, so edits show as changes again.

    `path/.git` (a link file the agent could write) is replaced, never read; the caller removes the old
    admin directory."""
    dot_git = path / ".git"
    if dot_git.is_dir() and not dot_git.is_symlink():
        shutil.rmtree(dot_git)
    else:
        dot_git.unlink(missing_ok=True)
    repo = GitContext(dot_git, None, path)
    repo.run(["init", "--quiet", "--initial-branch", branch])
    (dot_git / "objects" / "info" / "alternates").write_text("".join(f"{d}\n" for d in object_dirs))
    repo.run(["update-ref", f"refs/heads/{branch}", start])
    repo.run(["read-tree", f"refs/heads/{branch}"])  # the index only: no file in the checkout is touched


def session_repo_mounts(path: Path, object_dirs: list[Path], workspace: str) -> list[Mount]:
    """The checkout read-write at `workspace`; each borrowed object store read-only at its own path."""
    return [Mount(host=str(path), path=workspace, readonly=False),
            *(Mount(host=str(d), path=str(d), readonly=True) for d in object_dirs)]


def is_session_repo(path: Path) -> bool:
    """Whether `path` is a checkout with a `.git` directory of its own (the own-repository model), as
    opposed to a linked worktree of the user's repository (a `.git` file)."""
    return (path / ".git").is_dir() and not (path / ".git").is_symlink()


@dataclass(frozen=True)
class Imported:
    """What one bundle import did to `refs/heads/<branch>` of the user's repository."""

    branch: str
    tip: str
    previous: str | None  # the tip before, when it moved
    kept_as: str | None = None  # where a rewritten-away tip was kept


def import_bundle(repo: GitContext, name: str, branch: str, data: bytes, *, checked_out_ok: bool = False) -> Imported:
    """Bring `branch` from a bundle the sandbox made into the user's repository.

    The bundle is verified (its prerequisites must be in the user's repository); its pack is indexed with
    `index-pack --strict`, which checks every object and every link and keeps nothing when one is bad
    (a `fetch` from a bundle skips `transfer.fsckObjects` in git 2.39); then only `refs/heads/<branch>`
    is moved, whatever else the bundle carries. A history the agent rewrote is followed (forced), and
    the tip it replaced is kept under `refs/clauderon/previous/<name>/<n>` (the last `PREVIOUS_TIPS_KEPT`).
    `checked_out_ok`: the branch may be checked out (a pod session's host worktree, which follows on restart)."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise ClauderonError(f"the history of {branch} is {len(data) >> 20} MiB, over the "
                             f"{MAX_BUNDLE_BYTES >> 20} MiB a session may bring back; push it from the sandbox instead")
    ref = f"refs/heads/{branch}"
    with tempfile.TemporaryDirectory(prefix="clauderon-bundle-") as tmp:
        bundle = Path(tmp) / "session.bundle"
        bundle.write_bytes(data)
        verified = repo.run(["bundle", "verify", str(bundle)], check=False)
        if verified.returncode != 0:
            raise ClauderonError(f"the session's bundle of {branch} cannot be used: {last_line(verified.stderr)}")
        heads = repo.run(["bundle", "list-heads", str(bundle), ref]).stdout.split()
        if not heads:
            raise ClauderonError(f"the session's bundle does not carry {branch}")
        tip, before = heads[0], _tip(repo, ref)
        if before == tip:
            return Imported(branch, tip, None)
        if not checked_out_ok:
            _refuse_checked_out(repo, ref)
        pack = Path(tmp) / "session.pack"
        pack.write_bytes(data[data.index(b"\n\n") + 2:])  # the bundle's header ends at its first blank line
        indexed = repo.run(["index-pack", "--strict", "--fix-thin", "--stdin"], stdin_file=pack, check=False)
        if indexed.returncode != 0:
            raise ClauderonError(f"could not bring {branch} back from the session: {last_line(indexed.stderr)}")
    repo.run(["update-ref", "-m", "clauderon: brought back from the sandbox", ref, tip, before or ""])
    kept = _keep_previous(repo, name, before) if before and not _is_ancestor(repo, before, tip) else None
    return Imported(branch, tip, before, kept)


def _refuse_checked_out(repo: GitContext, ref: str) -> None:
    """Moving a branch the user has checked out would leave their checkout behind its own HEAD."""
    listed = repo.run(["worktree", "list", "--porcelain"]).stdout
    if f"branch {ref}\n" in listed + "\n":
        raise ClauderonError(f"{ref.removeprefix('refs/heads/')} is checked out in your repository, so the "
                             "session's commits cannot be brought back; switch that checkout to another branch")


def _tip(repo: GitContext, ref: str) -> str | None:
    proc = repo.run(["rev-parse", "--verify", "--quiet", ref], check=False)
    return proc.stdout.strip() or None


def _is_ancestor(repo: GitContext, old: str, new: str) -> bool:
    return repo.run(["merge-base", "--is-ancestor", old, new], check=False).returncode == 0


def _keep_previous(repo: GitContext, name: str, tip: str) -> str:
    """Keep `tip` reachable under the next `refs/clauderon/previous/<name>/<n>`, dropping the oldest."""
    prefix = f"refs/clauderon/previous/{name}/"
    listed = repo.run(["for-each-ref", "--format=%(refname)", prefix]).stdout.split()
    numbers = sorted(int(r.removeprefix(prefix)) for r in listed if r.removeprefix(prefix).isdigit())
    ref = f"{prefix}{(numbers[-1] + 1) if numbers else 1}"
    repo.run(["update-ref", ref, tip])
    for old in numbers[:max(0, len(numbers) + 1 - PREVIOUS_TIPS_KEPT)]:
        repo.run(["update-ref", "-d", f"{prefix}{old}"], check=False)
    log.info("kept the rewritten-away tip %s of %s as %s", tip[:12], name, ref)
    return ref


__all__ = ["MAX_BUNDLE_BYTES", "Imported", "adopt_checkout", "borrowed_object_dirs", "create_session_repo",
           "import_bundle", "is_session_repo", "session_repo_mounts"]
