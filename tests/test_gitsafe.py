"""gitsafe: nothing an agent could plant in a repository runs on the host.

Each case plants one mechanism that makes git execute a script (which leaves a marker file), runs
the engine's git operations through `run_git`, and asserts no marker appears. The same operations
through plain git must leave the marker, so every case proves its mechanism is live.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runtime.errors import ClauderonError
from runtime.git.safety import GitContext, clean_environ, configured_drivers, run_git, safe_args
from tests.conftest import run_git as plain_git

IDENTITY = ["-c", "user.name=T", "-c", "user.email=t@example.test"]


@dataclass
class Case:
    id: str
    attributes: str = ""  # committed .gitattributes
    config: dict[str, str] = field(default_factory=dict)  # repo config, "{bin}" replaced by the script dir
    hooks: tuple[str, ...] = ()  # scripts planted in .git/hooks
    after_add: Callable[[Path, Path, Path], None] | None = None  # (worktree, admin dir, bin dir)
    env: dict[str, str] = field(default_factory=dict)  # inherited environment, "{bin}" replaced


def _script(bin_dir: Path, name: str, body: str = "", marks: Path | None = None) -> Path:
    path = bin_dir / name
    marks = marks or bin_dir.parent / "marks"
    path.write_text(f"#!/bin/sh\ntouch {marks}/{name}\n{body}\n")
    path.chmod(0o755)
    return path


def _config_worktree(wt: Path, admin: Path, bin_dir: Path) -> None:
    (admin / "config.worktree").write_text(
        f"[core]\n\tfsmonitor = {bin_dir}/fsmon\n[filter \"late\"]\n\tclean = {bin_dir}/late\n")
    (wt / ".gitattributes").write_text("*.txt filter=late\n")


def _fake_git_dir(wt: Path, admin: Path, bin_dir: Path) -> None:
    # The agent swaps the worktree's .git file for a repository of its own with an fsmonitor hook.
    (wt / ".git").unlink()
    subprocess.run(["git", "init", "-q", "--separate-git-dir", str(wt / ".git"), str(bin_dir / "x")], check=True)
    (bin_dir / "x" / ".git").unlink()
    plain_git(wt, "config", "core.fsmonitor", str(bin_dir / "fsmon"))


CASES = [
    Case("post-checkout", hooks=("post-checkout",)),
    Case("reference-transaction", hooks=("reference-transaction",)),
    Case("post-commit", hooks=("post-commit",)),
    Case("hooksPath", config={"core.hooksPath": "{bin}/hookdir"}),
    Case("fsmonitor", config={"core.fsmonitor": "{bin}/fsmon"}),
    Case("smudge", attributes="*.txt filter=x\n",
         config={"filter.x.smudge": "{bin}/smudge", "filter.x.required": "true"}),
    Case("clean", attributes="*.txt filter=x\n", config={"filter.x.clean": "{bin}/clean"}),
    Case("process", attributes="*.txt filter=p\n", config={"filter.p.process": "{bin}/process"}),
    Case("diff.external", config={"diff.external": "{bin}/extdiff"}),
    Case("textconv", attributes="*.bin diff=tc\n", config={"diff.tc.textconv": "{bin}/textconv"}),
    Case("diff-command", attributes="*.bin diff=dc\n", config={"diff.dc.command": "{bin}/diffcmd"}),
    Case("included-filter", attributes="*.txt filter=inc\n", config={"include.path": "{bin}/included.cfg"}),
    Case("config.worktree", config={"extensions.worktreeConfig": "true"}, after_add=_config_worktree),
    Case("fake-.git-dir", after_add=_fake_git_dir),
    Case("inherited-env", env={"GIT_EXTERNAL_DIFF": "{bin}/envdiff"}),
]


def _prepare(root: Path, case: Case) -> tuple[Path, Path, Path]:
    """A repo with the case planted, its scripts, and an empty marks dir: (repo, bin, marks)."""
    repo, bin_dir, marks = root / "repo", root / "bin", root / "marks"
    for d in (repo, bin_dir, marks, bin_dir / "hookdir"):
        d.mkdir(parents=True)
    plain_git(repo, "init", "-q", "-b", "main")
    (repo / "file.txt").write_text("one\n")
    (repo / "data.bin").write_text("one\n")
    if case.attributes:
        (repo / ".gitattributes").write_text(case.attributes)
    plain_git(repo, "add", ".")
    plain_git(repo, *IDENTITY, "commit", "-q", "-m", "initial")
    for name in ("fsmon", "smudge", "clean", "process", "extdiff", "diffcmd", "late", "envdiff", "inc"):
        _script(bin_dir, name, 'cat' if name in ("smudge", "clean", "late", "inc") else "exit 0")
    _script(bin_dir, "textconv", 'cat "$1"')
    _script(bin_dir / "hookdir", "post-checkout", marks=marks)
    (bin_dir / "included.cfg").write_text(f"[filter \"inc\"]\n\tclean = {bin_dir}/inc\n\tsmudge = {bin_dir}/inc\n")
    for hook in case.hooks:
        shutil.copy(_script(bin_dir, hook), repo / ".git" / "hooks" / hook)
    for key, value in case.config.items():
        plain_git(repo, "config", key, value.replace("{bin}", str(bin_dir)))
    return repo, bin_dir, marks


def _edit(wt: Path) -> None:
    (wt / "file.txt").write_text("one\ntwo\n")
    (wt / "data.bin").write_text("one\nthree\n")
    (wt / "new.txt").write_text("new\n")


def _admin(wt: Path) -> Path:
    return Path((wt / ".git").read_text().split(":", 1)[1].strip())


def _safe_ops(repo: Path, wt: Path, bin_dir: Path, case: Case) -> None:
    common = repo / ".git"
    main = GitContext(common, common, repo)
    main.run(["worktree", "add", "-q", "-b", "clauderon/t", str(wt), "main"])
    admin = _admin(wt)
    if case.after_add:
        case.after_add(wt, admin, bin_dir)
    _edit(wt)
    inside = GitContext(admin, common, wt)
    assert "file.txt" in inside.run(["status", "--porcelain"]).stdout
    assert "+two" in inside.run(["diff"]).stdout
    inside.run(["diff", "HEAD"])
    inside.run([*IDENTITY, "commit", "-q", "-a", "-m", "work"])
    inside.run(["log", "-p", "-2"])
    inside.run(["show", "HEAD"])
    assert main.run(["rev-list", "--count", "main..clauderon/t"]).stdout.strip() in ("0", "1")
    main.run(["branch", "--list"])
    main.run(["worktree", "remove", "--force", str(wt)], check=False)
    main.run(["branch", "-D", "clauderon/t"], check=False)


def _plain_ops(repo: Path, wt: Path, bin_dir: Path, case: Case) -> None:
    def git(cwd: Path, *args: str) -> None:
        if cwd.is_dir():
            subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)

    git(repo, "worktree", "add", "-q", "-b", "clauderon/t", str(wt), "main")
    if case.after_add:
        case.after_add(wt, _admin(wt), bin_dir)
    if wt.is_dir():  # a planted process filter can make plain `worktree add` fail after running it
        _edit(wt)
    for args in (["status", "--porcelain"], ["diff"], ["diff", "HEAD"], [*IDENTITY, "commit", "-q", "-a", "-m", "w"],
                 ["log", "-p", "-2"], ["show", "HEAD"]):
        git(wt, *args)
    for args in (["rev-list", "--count", "main..clauderon/t"], ["branch", "--list"],
                 ["worktree", "remove", "--force", str(wt)], ["branch", "-D", "clauderon/t"]):
        git(repo, *args)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_planted_code_never_runs_through_gitsafe(case: Case, short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    safe_root, plain_root = short_tmp / "safe", short_tmp / "plain"
    for root, ops in ((safe_root, _safe_ops), (plain_root, _plain_ops)):
        repo, bin_dir, marks = _prepare(root, case)
        for key, value in case.env.items():
            monkeypatch.setenv(key, value.replace("{bin}", str(bin_dir)))
        ops(repo, root / "wt", bin_dir, case)
        for key in case.env:
            monkeypatch.delenv(key)
    safe_marks = sorted(p.name for p in (safe_root / "marks").iterdir())
    plain_marks = sorted(p.name for p in (plain_root / "marks").iterdir())
    assert safe_marks == [], f"gitsafe ran planted code: {safe_marks}"
    assert plain_marks, f"plain git never triggered {case.id}: the case proves nothing"


def test_inherited_git_variables_are_dropped(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/nonexistent")
    monkeypatch.setenv("GIT_WORK_TREE", "/nonexistent")
    monkeypatch.setenv("GIT_INDEX_FILE", "/nonexistent/index")
    env = clean_environ()
    assert not {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"} & set(env)
    out = run_git(["status", "--porcelain"], git_dir=git_repo / ".git", work_tree=git_repo).stdout
    assert out == ""


def test_drivers_with_odd_names_are_found_and_blanked(git_repo: Path, short_tmp: Path) -> None:
    marker = short_tmp / "mark"
    plain_git(git_repo, "config", "filter.a=b.c.clean", f"touch {marker}; cat")
    plain_git(git_repo, "config", "diff.Mixed.textconv", f"touch {marker}; cat")
    env = {**clean_environ(), "GIT_DIR": str(git_repo / ".git")}
    assert configured_drivers(env, git_repo) == [("filter", "a=b.c"), ("diff", "Mixed")]
    (git_repo / ".gitattributes").write_text("*.md filter=a=b.c\n")
    (git_repo / "README.md").write_text("changed\n")
    run_git(["diff"], git_dir=git_repo / ".git", work_tree=git_repo)
    run_git(["status"], git_dir=git_repo / ".git", work_tree=git_repo)
    assert not marker.exists()


def test_failure_is_one_line_with_gits_reason(git_repo: Path) -> None:
    with pytest.raises(ClauderonError) as err:
        run_git(["rev-parse", "--verify", "no-such-branch"], git_dir=git_repo / ".git", work_tree=git_repo)
    message = str(err.value)
    assert "\n" not in message
    assert "fatal: Needed a single revision" in message and "git rev-parse" in message


def test_missing_directory_is_a_clear_error(short_tmp: Path) -> None:
    with pytest.raises(ClauderonError, match="does not exist"):
        run_git(["status"], git_dir=short_tmp / "gone" / ".git", work_tree=short_tmp / "gone")


def test_diff_like_commands_get_no_ext_diff() -> None:
    assert safe_args(["diff", "HEAD"]) == ["git", "--no-pager", "diff", "--no-ext-diff", "--no-textconv", "HEAD"]
    assert safe_args(["status"]) == ["git", "--no-pager", "status"]


def test_input_is_passed(git_repo: Path) -> None:
    out = run_git(["hash-object", "--stdin"], git_dir=git_repo / ".git", input="x\n").stdout.strip()
    expected = subprocess.run(["git", "hash-object", "--stdin"], cwd=git_repo, input="x\n",
                              capture_output=True, text=True, check=True).stdout.strip()
    assert out == expected
