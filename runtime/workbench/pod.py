"""The workbench and chat routes for sessions whose work lives inside their sandbox (`copies_workspace`,
pods): files, one file's pages, the diff and transcript pages, read in the pod through the backend's exec.

The answers have the same JSON shapes as the host readers (`workbench_files`, `workbench_diff`,
`runtime/api/transcript.py`), whose validation and parsers are reused: a path is cleaned (`..`, absolute, NUL refused)
before anything is sent, and every path is passed to `sh -c` as an argument, never spliced into the script.
In the pod a path must resolve (`realpath`) to itself under /workspace (so no link anywhere on the way);
a link as the last component is described, never followed. Git runs with hooks, fsmonitor, external diff
and textconv off. These functions block: run them in a thread; exec calls go back to `loop`.
"""

from __future__ import annotations

import asyncio
import posixpath
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from runtime.agents.registry import agent_named
from runtime.agents.transcripts import Page, parse_lines, split_lines
from runtime.backends.base import Backend
from runtime.errors import ClauderonError, NotFound
from runtime.git.safety import GitContext
from runtime.git.session_repo import SANDBOX_GIT as GIT
from runtime.git.session_repo import SANDBOX_WORKSPACE as WORKSPACE
from runtime.git.worktrees import WorktreeInfo
from runtime.models import Session
from runtime.workbench.diff import MAX_UNTRACKED_BYTES, base_ref, diff_answer, diff_section
from runtime.workbench.files import (
    BINARY_SNIFF_BYTES,
    MAX_ENTRIES,
    PAGE_BYTES,
    Entry,
    Refused,
    binary_page,
    clean_path,
    link_points_inside,
    marks_for,
    page_request,
    status_marks,
    text_page,
)
from runtime.workbench.transcript_json import empty_page, page_json

AGENT_HOME = "/home/agent"
TRANSCRIPT_WINDOW = 4 * 1024 * 1024
"""Bytes of a transcript fetched per page (a page holds the whole lines in them)."""
STATUS = ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all"]

# $1: a cleaned relative path ("" for the top). Exit 4: missing, 5: a link on the way or outside, 6: not a dir.
_CONFINE = (
    'root=$(realpath -e -- "$R") || exit 3; '
    'if [ -z "$1" ]; then want="$root"; else want="$root/$1"; fi; '
    't=$(realpath -e -- "$R/$1" 2>/dev/null) || exit 4; '
    '[ "$t" = "$want" ] || exit 5; '
)
LIST_SCRIPT = (
    f"R={WORKSPACE}; " + _CONFINE
    + '[ -d "$t" ] || exit 6; '
    + "find \"$t\" -mindepth 1 -maxdepth 1 -printf '%y\\0%s\\0%l\\0%f\\0'"
)
# $1 path, $2 offset, $3 limit. Prints "size nul-count\n" then the page (nothing when binary).
# Exit 10 with the link target when the last component is a link; 7: not a regular file.
FILE_SCRIPT = (
    f"R={WORKSPACE}; "
    'root=$(realpath -e -- "$R") || exit 3; '
    'p="$R/$1"; parent=$(dirname -- "$1"); '
    'if [ "$parent" = . ]; then want="$root"; else want="$root/$parent"; fi; '
    'pt=$(realpath -e -- "$R/$parent" 2>/dev/null) || exit 4; '
    '[ "$pt" = "$want" ] || exit 5; '
    'if [ -L "$p" ]; then readlink -- "$p"; exit 10; fi; '
    '[ -e "$p" ] || exit 4; [ -d "$p" ] && exit 6; [ -f "$p" ] || exit 7; '
    'size=$(stat -c %s -- "$p"); '
    f"nul=$(head -c {BINARY_SNIFF_BYTES} -- \"$p\" | tr -dc '\\000' | wc -c); "
    'printf "%s %s\\n" "$size" "$nul"; [ "$nul" -eq 0 ] || exit 0; '
    'tail -c +$(($2 + 1)) -- "$p" | head -c "$3"'
)
# $1 a directory under the agent home, $2 a name pattern; lists "mtime\0relative path\0" of regular files.
FIND_SCRIPT = (
    f"R={AGENT_HOME}; " + 'd="$R/$1"; [ -d "$d" ] && [ ! -L "$d" ] || exit 0; '
    "find \"$d\" -type f -name \"$2\" -printf '%T@\\0%P\\0' 2>/dev/null; exit 0"
)
# $1 path under the agent home, $2 offset, $3 bytes. Prints "size\n" then the bytes; exit 5 when refused.
READ_SCRIPT = (
    f"R={AGENT_HOME}; " + 'root=$(realpath -e -- "$R") || exit 3; p="$R/$1"; '
    '[ -f "$p" ] && [ ! -L "$p" ] || exit 5; '
    't=$(realpath -e -- "$p") || exit 5; [ "$t" = "$root/$1" ] || exit 5; '
    'printf "%s\\n" "$(stat -c %s -- "$p")"; tail -c +$(($2 + 1)) -- "$p" | head -c "$3"'
)


def pod_backend(backend_of: Callable[[Session], Backend], session: Session) -> Backend | None:
    """The session's backend when its work lives in the sandbox (pods), else None (read the host)."""
    try:
        backend = backend_of(session)
    except ClauderonError:
        return None
    return backend if backend.capabilities.copies_workspace else None


class Pod:
    """Blocking exec into one session's container, from a worker thread of `loop`."""

    def __init__(self, backend: Any, backend_id: str | None, loop: asyncio.AbstractEventLoop) -> None:
        if not backend_id:
            raise ClauderonError("the session has no pod yet; nothing to read", status=409)
        self.backend, self.backend_id, self.loop = backend, backend_id, loop

    def exec(self, argv: list[str], timeout: float = 60.0) -> Any:
        future = asyncio.run_coroutine_threadsafe(self.backend.exec(self.backend_id, argv, timeout=timeout), self.loop)
        return future.result(timeout + 30)

    def sh(self, script: str, *args: str) -> Any:
        return self.exec(["sh", "-c", script, "sh", *args])

    def run(self, args: Sequence[str], *, check: bool = True, max_output: int | None = None,
            **_: Any) -> subprocess.CompletedProcess[str]:
        """`git <args>` in /workspace, shaped like `GitContext.run` so the host's diff parser reads it;
        with `max_output`, only that much + 1 byte of its output leaves the sandbox (`head -c`)."""
        args = list(args)
        if args and args[0] == "diff":
            args = ["diff", "--no-ext-diff", "--no-textconv", *args[1:]]
        argv = [*GIT, *args]
        if max_output is not None:
            argv = ["sh", "-c", f'"$@" | head -c {max_output + 1}', "sh", *argv]
        result = self.exec(argv)
        out = result.stdout.decode("utf-8", errors="replace")
        err = result.stderr.decode("utf-8", errors="replace")
        if check and result.exit_code != 0:
            lines = err.strip().splitlines()
            last = lines[-1] if lines else "no output"
            raise ClauderonError(f"git {args[0]} failed in pod {self.backend_id}: {last}")
        return subprocess.CompletedProcess(args, result.exit_code or 0, out, err)


def _refusal(code: int | None, rel: str, *, listing: bool, err: bytes = b"") -> ClauderonError:
    shown = rel or "the worktree"
    if code == 4:
        return NotFound(f"{shown} does not exist in the worktree")
    if code == 5:
        return Refused(f"{shown} leads through a symbolic link or outside the worktree; it is not followed")
    if code == 6:
        return ClauderonError(f"{shown} is not a directory" if listing else f"{shown} is a directory; list it instead")
    if code == 7:
        return ClauderonError(f"{rel} is not a regular file")
    detail = err.decode(errors="replace").strip().splitlines()
    return ClauderonError(f"cannot read {shown} in the pod (exit {code}): {detail[-1] if detail else 'no output'}")


def listing(pod: Pod, path: str) -> dict[str, object]:
    """The `files` answer for a directory of the pod's /workspace."""
    parts = clean_path(path)
    rel = "/".join(parts)
    result = pod.sh(LIST_SCRIPT, rel)
    if result.exit_code != 0:
        raise _refusal(result.exit_code, rel, listing=True, err=result.stderr)
    fields = result.stdout.split(b"\0")
    found = []
    for i in range(0, len(fields) - 3, 4):
        kind_code, size, target, name = (f.decode("utf-8", errors="surrogateescape") for f in fields[i:i + 4])
        found.append((name, kind_code, size, target))
    found.sort()
    entries: list[Entry] = []
    for name, kind_code, size, target in found[:MAX_ENTRIES]:
        child = posixpath.join(rel, name) if rel else name
        if kind_code == "l":
            entries.append(Entry(name, child, "link", 0, target))
        elif kind_code == "d":
            entries.append(Entry(name, child, "dir", 0))
        elif kind_code == "f":
            entries.append(Entry(name, child, "file", int(size)))
        else:
            entries.append(Entry(name, child, "other", 0))
    entries.sort(key=lambda e: (e.kind != "dir", e.name))
    try:
        marks = status_marks(pod.run(STATUS).stdout)
    except ClauderonError:  # a broken repository still lists its files, unmarked
        marks = {}
    return {"path": rel, "entries": marks_for(rel, entries, marks), "left_out": max(0, len(found) - MAX_ENTRIES)}


def read_page(pod: Pod, path: str, offset: int = 0, limit: int = PAGE_BYTES) -> dict[str, object]:
    """The `file` answer: one page of a file in the pod's /workspace (as `workbench_files.read_page`)."""
    rel = "/".join(page_request(path, offset, limit))
    result = pod.sh(FILE_SCRIPT, rel, str(offset), str(limit))
    if result.exit_code == 10:
        target = result.stdout.decode("utf-8", errors="replace").rstrip("\n")
        if not link_points_inside(rel, target):
            raise Refused(f"{rel} is a symbolic link pointing outside the worktree ({target}); it is not followed")
        return {"path": rel, "size": 0, "offset": 0, "next_offset": None, "binary": False, "text": "", "link": target}
    if result.exit_code != 0:
        raise _refusal(result.exit_code, rel, listing=False, err=result.stderr)
    header, _, data = result.stdout.partition(b"\n")
    size_text, nul_text = header.decode().split()
    size = int(size_text)
    if int(nul_text):
        return binary_page(rel, size)
    return text_page(rel, size, offset, data)


def session_diff(pod: Pod, info: WorktreeInfo, host: GitContext) -> dict[str, Any]:
    """The `diff` answer from the sandbox's /workspace, parsed by the host's diff parser.

    A pod's clone holds only the session branch, so the merge-base with the base branch is taken in the
    user's repository `host` (the branch's history came from there) and must exist in the sandbox."""
    merge_base = host.run(["merge-base", base_ref(host, info.base_branch), f"refs/heads/{info.branch}"]).stdout.strip()
    if pod.run(["cat-file", "-e", f"{merge_base}^{{commit}}"], check=False).returncode != 0:
        raise ClauderonError(f"the pod's workspace does not hold the merge-base {merge_base[:12]}; nothing to compare")
    committed = diff_section(pod, [merge_base, f"refs/heads/{info.branch}", "--"])
    uncommitted = diff_section(pod, ["HEAD", "--"])
    return diff_answer(info, merge_base, committed, uncommitted, pod.run(STATUS).stdout,
                       lambda path: read_page(pod, path, 0, MAX_UNTRACKED_BYTES))


# -- transcripts -------------------------------------------------------------------------------------------

def transcript_files(pod: Pod, agent: str) -> list[tuple[float, str]]:
    """(mtime, path relative to the agent home) of the agent's transcripts in the pod, oldest first."""
    location = agent_named(agent).transcript
    if location is None:
        return []
    directory = location.directory
    result = pod.sh(FIND_SCRIPT, directory, location.pattern)
    fields = result.stdout.decode("utf-8", errors="replace").split("\0")
    found = []
    for i in range(0, len(fields) - 1, 2):
        relative = f"{directory}/{fields[i + 1]}"
        # At the agent's depth only (Claude: .claude/projects/<project>/<id>.jsonl).
        if location.depth is not None and relative.count("/") != directory.count("/") + 1 + location.depth:
            continue
        try:
            found.append((float(fields[i]), relative))
        except ValueError:
            continue
    return sorted(found)


def _read(pod: Pod, relative: str, start: int, count: int) -> tuple[int, bytes]:
    result = pod.sh(READ_SCRIPT, relative, str(start), str(count))
    if result.exit_code != 0:
        raise ClauderonError(f"cannot open the transcript {posixpath.basename(relative)} in the pod; refused",
                             status=403)
    header, _, data = result.stdout.partition(b"\n")
    return int(header), data


def _page_before(pod: Pod, relative: str, agent: str, end: int | None, limit: int) -> Page:
    """The last `limit` whole lines before `end` (None: the end of the file), from one window of bytes."""
    if end is None:
        size, _ = _read(pod, relative, 0, 0)
        end = size
    if end <= 0:
        return Page([], 0, 0)
    start = max(0, end - TRANSCRIPT_WINDOW)
    _, data = _read(pod, relative, start, end - start)
    cut = data.rfind(b"\n")
    if cut < 0:
        return Page([], start, start)
    data = data[:cut + 1]
    end = start + len(data)
    lines = data.split(b"\n")[:-1]
    if start > 0:  # the window's first line may be cut: never parse it
        dropped = len(lines[0]) + 1
        lines, start, data = lines[1:], start + dropped, data[dropped:]
    kept = lines[-limit:]
    first = end - sum(len(line) + 1 for line in kept)
    chunk = data[first - start:]
    messages, malformed, count = parse_lines(split_lines(chunk, first), agent_named(agent).parse_transcript_line)
    return Page(messages, first, end, malformed, count)


def transcript_page(pod: Pod, session: Session, before: str | None, limit: int) -> dict[str, Any]:
    """The `transcript` answer for a pod session (same shape and cursors as `runtime.api.transcript.read_page`)."""
    files = transcript_files(pod, session.agent)
    if before:
        relative, _, offset_text = before.rpartition(":")
        if relative not in {r for _, r in files} or not offset_text.isdigit():
            raise ClauderonError("before is not a cursor this session's transcripts gave out")
        return page_json(session.agent, relative, _page_before(pod, relative, session.agent, int(offset_text), limit))
    if not files:
        return empty_page(session.agent)
    own = f"{session.agent_session_id}.jsonl" if session.agent_session_id else None
    _, relative = max(files, key=lambda f: (f[0], posixpath.basename(f[1]) == own))
    return page_json(session.agent, relative, _page_before(pod, relative, session.agent, None, limit))
