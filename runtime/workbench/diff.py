"""A session's changes against its base branch, for the workbench's Diff view and its Files marks.

Committed: the session branch against its merge-base with the base branch. Uncommitted: the worktree
against the branch's HEAD (tracked files), plus untracked files read through the confined reader.
Every git command goes through `gitsafe` with the locations named from the engine's own records, so
a filter, textconv or external diff planted by the agent (in `.gitattributes`, the admin dir's
`config.worktree`, or a repointed `.git` file) never runs on the host.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.errors import ClauderonError
from runtime.git.safety import GitContext
from runtime.git.worktrees import WorktreeInfo
from runtime.workbench.files import read_page

log = logging.getLogger(__name__)

MAX_PATCH_CHARS = 400_000
"""Patch bytes read per section (the rest is never read: cut, with a note)."""
MAX_UNTRACKED_BYTES = 256 * 1024
"""Untracked files larger than this are listed without their content."""


@dataclass
class FileChange:
    """One changed file: status letter, +/- line counts (None for binary), and its patch text."""

    path: str
    status: str
    added: int | None
    removed: int | None
    patch: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "added": self.added, "removed": self.removed,
                "binary": self.added is None, "patch": self.patch}


@dataclass
class DiffSection:
    """Changes of one kind (committed or uncommitted) with totals."""

    files: list[FileChange] = field(default_factory=list)
    truncated: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "files": [f.as_json() for f in self.files],
            "added": sum(f.added or 0 for f in self.files),
            "removed": sum(f.removed or 0 for f in self.files),
            "truncated": self.truncated,
        }


class GitRunner(Protocol):
    """Runs `git <args>` somewhere: the host (`GitContext`) or a session's sandbox (`workbench.pod.Pod`)."""

    def run(self, args: Sequence[str], *, check: bool = True,
            max_output: int | None = None) -> subprocess.CompletedProcess[str]: ...


def _numstat(ctx: GitRunner, args: list[str]) -> dict[str, tuple[int | None, int | None]]:
    out = ctx.run(["diff", "--numstat", "-z", "--no-renames", *args]).stdout
    counts: dict[str, tuple[int | None, int | None]] = {}
    for item in out.split("\0"):
        if not item.strip():
            continue
        added, removed, path = item.split("\t", 2)
        counts[path] = (None, None) if added == "-" else (int(added), int(removed))
    return counts


def _name_status(ctx: GitRunner, args: list[str]) -> dict[str, str]:
    out = ctx.run(["diff", "--name-status", "-z", "--no-renames", *args]).stdout.split("\0")
    return {out[i + 1]: out[i][:1] for i in range(0, len(out) - 1, 2) if out[i]}


def _patches(ctx: GitRunner, args: list[str]) -> tuple[dict[str, str], bool]:
    text = ctx.run(["diff", "--no-color", "--no-renames", "--patch", *args], max_output=MAX_PATCH_CHARS).stdout
    truncated = len(text) > MAX_PATCH_CHARS
    text = text[:MAX_PATCH_CHARS]
    patches: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("diff --git "):
            if current is not None:
                patches[current] = "".join(lines)
            # `diff --git a/<path> b/<path>`: both halves are the same path (no renames)
            rest = line[len("diff --git "):].rstrip("\n")
            half = len(rest) // 2
            current = rest[half + 1:][2:] if rest[half:half + 1] == " " else rest.split(" b/", 1)[-1]
            lines = []
        lines.append(line)
    if current is not None:
        patches[current] = "".join(lines)
    return patches, truncated


def diff_section(ctx: GitRunner, args: list[str]) -> DiffSection:
    """The files `git diff <args>` changes, with their counts and patches (patches clipped in total)."""
    counts = _numstat(ctx, args)
    statuses = _name_status(ctx, args)
    patches, truncated = _patches(ctx, args)
    files = [FileChange(path, statuses.get(path, "M"), added, removed, patches.get(path, ""))
             for path, (added, removed) in sorted(counts.items())]
    return DiffSection(files, truncated)


def base_ref(ctx: GitContext, base: str) -> str:
    """The full ref of the base branch (a local branch first, else a remote one); a one-line error when gone."""
    for ref in (f"refs/heads/{base}", f"refs/remotes/{base}"):
        if ctx.run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False).returncode == 0:
            return ref
    raise ClauderonError(f"base branch {base!r} no longer exists; the diff has nothing to compare against")


def change_summary(ctx: GitContext, base_branch: str, branch: str) -> dict[str, int]:
    """`{"files", "added", "removed"}`: what the branch changes against its merge-base with the base branch,
    the figures the session list shows (binary files count as files, not lines)."""
    merge_base = ctx.run(["merge-base", base_ref(ctx, base_branch), f"refs/heads/{branch}"]).stdout.strip()
    counts = _numstat(ctx, [merge_base, f"refs/heads/{branch}", "--"])
    return {"files": len(counts), "added": sum(a or 0 for a, _ in counts.values()),
            "removed": sum(r or 0 for _, r in counts.values())}


def session_diff(info: WorktreeInfo) -> dict[str, Any]:
    """`{"base", "merge_base", "committed": section, "uncommitted": section}` for a session worktree."""
    ctx = info.context()
    if not info.worktree_path.is_dir():
        raise ClauderonError(f"the worktree {info.worktree_path} is gone; nothing to diff")
    base = base_ref(ctx, info.base_branch)
    branch_ref = f"refs/heads/{info.branch}"
    merge_base = ctx.run(["merge-base", base, branch_ref]).stdout.strip()
    committed = diff_section(ctx, [merge_base, branch_ref, "--"])
    uncommitted = diff_section(ctx, ["HEAD", "--"])
    status = ctx.run(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all"]).stdout
    return diff_answer(info, merge_base, committed, uncommitted, status,
                       lambda path: read_page(info.worktree_path, path, 0, MAX_UNTRACKED_BYTES))


def imported_diff(host: GitContext, info: WorktreeInfo, changes: dict[str, Any] | None) -> dict[str, Any]:
    """The diff of a session whose own repository is not running: its branch as last brought back into
    the user's repository `host`, and the paths it had left uncommitted then (names only), with when."""
    base = base_ref(host, info.base_branch)
    branch_ref = f"refs/heads/{info.branch}"
    merge_base = host.run(["merge-base", base, branch_ref]).stdout.strip()
    committed = diff_section(host, [merge_base, branch_ref, "--"])
    changes = changes or {}
    uncommitted = DiffSection([FileChange(path, "?", None, None, "(left uncommitted in the sandbox)\n")
                               for path in changes.get("uncommitted", [])])
    answer = diff_answer(info, merge_base, committed, uncommitted, "", lambda path: {})
    answer["as_of"] = changes.get("taken_at")
    return answer


def diff_answer(info: WorktreeInfo, merge_base: str, committed: Any, uncommitted: Any, status: str,
                read_untracked: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The `diff` answer: both sections, with the untracked files from `status` (`--porcelain=v1 -z`) added
    to the uncommitted one, each read by `read_untracked` (the host's confined reader, or the pod's)."""
    for item in status.split("\0"):
        if item.startswith("?? "):
            uncommitted.files.append(_untracked(item[3:], read_untracked))
    uncommitted.files.sort(key=lambda f: f.path)
    return {"base": info.base_branch, "branch": info.branch, "merge_base": merge_base,
            "committed": committed.as_json(), "uncommitted": uncommitted.as_json()}


def _untracked(path: str, read: Callable[[str], dict[str, Any]]) -> FileChange:
    """An untracked file as an all-added change, read without following links."""
    try:
        page = read(path)
    except ClauderonError as exc:  # a link, or gone meanwhile: listed, never read
        return FileChange(path, "?", 0, 0, f"({exc})\n")
    if page["binary"] or page.get("link") is not None:
        return FileChange(path, "?", None, None)
    text = str(page["text"])
    lines = text.splitlines()
    patch = f"new untracked file {path}\n" + "".join(f"+{line}\n" for line in lines)
    if page["next_offset"] is not None:
        patch += f"(only the first {MAX_UNTRACKED_BYTES // 1024} KiB shown)\n"
    return FileChange(path, "?", len(lines), 0, patch)


def status_porcelain(info: WorktreeInfo) -> str:
    """`git status --porcelain=v1 -z` of the worktree, untracked files listed one by one."""
    return info.context().run(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all"]).stdout
