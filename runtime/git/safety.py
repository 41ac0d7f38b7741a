"""Run git on the host safely against repositories an agent container could write to.

An agent had write access to its worktree and to parts of the repository's `.git` (objects, refs,
logs and its own `worktrees/<admin>/` directory). Anything git would *execute* on the host because
of content found there is a way out of the sandbox: hooks, `core.fsmonitor`, filter drivers picked by
`.gitattributes`, external diff and textconv drivers, merge drivers, pagers, editors, credential
helpers, ssh commands, signature programs. Every host-side git command therefore goes through
`run_git`, which:

- names `GIT_DIR`, `GIT_COMMON_DIR` and `GIT_WORK_TREE` explicitly, so git never discovers a
  repository from a `.git` file or directory the agent could have replaced, and never trusts the
  `commondir` file in the worktree's admin directory;
- drops every inherited `GIT_*` variable and skips the system config;
- overrides the dangerous settings on the command scope (which wins over every config file), and
  reads the configured `filter.*`, `diff.*` and `merge.*` drivers to blank each of them, because an
  attribute in the worktree's `.gitattributes` selects a driver by name and no switch turns all of
  them off in git 2.39.

Overrides travel as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` rather than `-c`:
git passes them on to the child gits it spawns (the checkout inside `worktree add`, the status
inside `worktree remove`), and driver names containing `=` or odd characters need no quoting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ClauderonError

log = logging.getLogger(__name__)

GIT_TIMEOUT = 120.0

# Settings that make git run a program, set to values that run nothing (or `false`, which fails fast
# and harmlessly). `diff.external` is absent on purpose: an empty value makes git try to exec "" and
# die; diff-like commands get `--no-ext-diff --no-textconv` instead.
STATIC_OVERRIDES: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("core.editor", "false"),
    ("sequence.editor", "false"),
    ("core.askPass", ""),
    ("core.sshCommand", "false"),
    ("core.gitProxy", ""),
    ("credential.helper", ""),  # an empty value resets the helper list
    ("gpg.program", "false"),
    ("gpg.ssh.program", "false"),
    ("gpg.x509.program", "false"),
    ("log.showSignature", "false"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("protocol.ext.allow", "never"),
    ("uploadpack.packObjectsHook", ""),
    ("submodule.recurse", "false"),
    ("diff.ignoreSubmodules", "dirty"),  # never spawn a status inside an agent-made submodule
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("core.untrackedCache", "false"),
    ("advice.detachedHead", "false"),
)

# Commands whose output can pass through diff drivers.
DIFF_LIKE = frozenset({"diff", "log", "show", "diff-tree", "diff-index", "diff-files", "format-patch"})

_DRIVER_BLANKS: dict[str, tuple[tuple[str, str], ...]] = {
    "filter": (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")),
    "diff": (("textconv", ""), ("command", ""), ("cachetextconv", "false")),
    # An empty merge driver would "succeed" without merging; `false` reports a conflict instead.
    "merge": (("driver", "false"),),
}


@dataclass(frozen=True)
class GitContext:
    """Which repository a command runs against, named explicitly.

    `git_dir` is the repository's git directory (for a linked worktree, its admin directory
    `<common>/worktrees/<admin>`); `common_dir` the main repository's `.git`; `work_tree` the checkout.
    """

    git_dir: Path
    common_dir: Path | None = None
    work_tree: Path | None = None

    def run(self, args: Sequence[str], *, check: bool = True, input: str | None = None,
            cwd: Path | None = None, extra_config: Sequence[tuple[str, str]] = (),
            stdin_file: Path | None = None, max_output: int | None = None) -> subprocess.CompletedProcess[str]:
        """Run `git <args>` in this context through `run_git`."""
        return run_git(args, git_dir=self.git_dir, common_dir=self.common_dir, work_tree=self.work_tree,
                       cwd=cwd, check=check, input=input, extra_config=extra_config, stdin_file=stdin_file,
                       max_output=max_output)


def clean_environ() -> dict[str, str]:
    """The process environment without any inherited `GIT_*` variable, plus the fixed safety switches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_ATTR_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",  # `status` must not rewrite an index the container also writes
        GIT_PAGER="cat",
        GIT_NO_REPLACE_OBJECTS="1",  # refs/replace is agent-writable: never let it swap objects
        LC_ALL="C",  # stable messages for the error lines we parse
    )
    env.pop("SSH_ASKPASS", None)
    return env


def _repo_env(git_dir: Path, common_dir: Path | None, work_tree: Path | None) -> dict[str, str]:
    env = clean_environ()
    env["GIT_DIR"] = str(git_dir)
    if common_dir is not None:
        env["GIT_COMMON_DIR"] = str(common_dir)
    if work_tree is not None:
        env["GIT_WORK_TREE"] = str(work_tree)
    return env


def configured_drivers(env: dict[str, str], cwd: Path, label: str = "config") -> list[tuple[str, str]]:
    """(section, name) of every `filter.<name>.*`, `diff.<name>.*` and `merge.<name>.*` in effect.

    Read with the same environment the command will use, so it sees the same config files
    (including `include.path` targets and a worktree's `config.worktree`).
    """
    proc = _exec(["git", "config", "--null", "--get-regexp", r"^(filter|diff|merge)\..*\."], env, cwd, None)
    if proc.returncode not in (0, 1):  # 1 means "no such keys"
        raise _error([label], proc, cwd)
    found: list[tuple[str, str]] = []
    for entry in proc.stdout.split("\0"):
        key = entry.split("\n", 1)[0]
        section, dot, rest = key.partition(".")
        name, dot2, _var = rest.rpartition(".")
        if dot and dot2 and name and (section, name) not in found:
            found.append((section, name))
    return found


def override_env(drivers: Sequence[tuple[str, str]], extra: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """`GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n` for the static overrides, blanks for each driver, then `extra`."""
    pairs = list(STATIC_OVERRIDES)
    for section, name in drivers:
        pairs.extend((f"{section}.{name}.{var}", value) for var, value in _DRIVER_BLANKS.get(section, ()))
    pairs.extend(extra)
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def safe_args(args: Sequence[str]) -> list[str]:
    """`git --no-pager <args>` with `--no-ext-diff --no-textconv` after a diff-like subcommand."""
    args = list(args)
    if args and args[0] in DIFF_LIKE:
        args = [args[0], "--no-ext-diff", "--no-textconv", *args[1:]]
    return ["git", "--no-pager", *args]


def run_git(
    args: Sequence[str],
    *,
    git_dir: Path | str,
    common_dir: Path | str | None = None,
    work_tree: Path | str | None = None,
    cwd: Path | str | None = None,
    check: bool = True,
    input: str | None = None,
    timeout: float = GIT_TIMEOUT,
    extra_config: Sequence[tuple[str, str]] = (),
    stdin_file: Path | None = None,
    max_output: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `git <args>` against an explicitly named repository with everything executable disabled.

    Without `work_tree` the command runs in `git_dir` (or `cwd`): with `GIT_DIR` set git takes the
    current directory as the work tree, and the git directory is the one place that is never a
    checkout an agent wrote. `extra_config` pairs travel only in this process's environment (never
    the argv, never the log), which git also hands to helpers it spawns: the way to pass a credential.
    Raises `ClauderonError` when `check` and git exits non-zero.
    """
    git_dir = Path(git_dir).absolute()
    common = Path(common_dir).absolute() if common_dir is not None else None
    tree = Path(work_tree).absolute() if work_tree is not None else None
    run_in = Path(cwd) if cwd is not None else (tree or git_dir)
    env = _repo_env(git_dir, common, tree)
    env.update(override_env(configured_drivers(env, run_in, args[0] if args else "config"), extra_config))
    full = safe_args(args)
    log.debug("git %s (GIT_DIR=%s, %d extra config pairs)", " ".join(full[2:]), git_dir, len(extra_config))
    if max_output is not None:  # read at most that much, then stop git: a huge diff never lands in memory
        proc = _exec_capped(full, env, run_in, timeout, max_output)
    else:
        proc = _exec(full, env, run_in, input, timeout, stdin_file)
    if check and proc.returncode != 0:
        raise _error(args, proc, tree or git_dir)
    return proc


def porcelain_entries(out: str) -> list[tuple[str, str]]:
    """(two-letter code, path) of each entry of `git status --porcelain=v1 -z` output; a rename's or
    copy's source path (the entry after it) is skipped."""
    entries: list[tuple[str, str]] = []
    skip = False
    for item in out.split("\0"):
        if skip or len(item) < 4:
            skip = False
            continue
        entries.append((item[:2], item[3:]))
        skip = item[0] in "RC"
    return entries


def discover(path: Path | str, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a read-only discovery command (such as `rev-parse`) from `path`, letting git find the repo.

    Only for paths the user named (their own repository), before the git directory is known; it
    gets the same clean environment and overrides, minus the driver blanks (nothing is checked out
    or diffed by the commands this is for).
    """
    env = clean_environ()
    env.update(override_env(()))
    proc = _exec(safe_args(args), env, Path(path), None)
    if check and proc.returncode != 0:
        raise _error(args, proc, Path(path))
    return proc


def last_line(text: str) -> str:
    """The last non-empty line of git's stderr, which is where it says what went wrong."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    # Prefer git's own verdict over trailing usage or hint lines.
    verdicts = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (verdicts or lines or [""])[-1]


def _exec(argv: list[str], env: dict[str, str], cwd: Path, input: str | None,
          timeout: float = GIT_TIMEOUT, stdin_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        with contextlib.ExitStack() as stack:
            if stdin_file is not None:  # binary input (a pack), streamed from the file
                stdin: Any = stack.enter_context(open(stdin_file, "rb"))
            else:
                stdin = None if input is not None else subprocess.DEVNULL
            # Decode as UTF-8 whatever the host locale: paths and commit messages are UTF-8 in practice.
            return subprocess.run(argv, env=env, cwd=cwd, input=input, capture_output=True, encoding="utf-8",
                                  errors="replace", timeout=timeout, stdin=stdin)
    except FileNotFoundError as exc:
        if not Path(cwd).is_dir():
            raise ClauderonError(f"{cwd} does not exist; check the repository or worktree path") from exc
        raise ClauderonError("git is not installed or not on PATH; install git on the host") from exc
    except subprocess.TimeoutExpired as exc:
        raise ClauderonError(
            f"git {argv[2] if len(argv) > 2 else ''} took longer than {timeout:.0f}s in {cwd}; "
            "check the repository for locks (.git/*.lock) or a very slow disk"
        ) from exc


def _exec_capped(argv: list[str], env: dict[str, str], cwd: Path, timeout: float,
                 limit: int) -> subprocess.CompletedProcess[str]:
    """Run git, keep the first `limit` + 1 bytes of its output (so the caller can tell it was cut), and
    kill it there: output past the cap is never read into memory."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None  # both were asked for as pipes
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        out = stdout.read(limit + 1)
        cut = len(out) > limit
        if cut:
            proc.kill()
        stdout.close()
        err = stderr.read()
        code = proc.wait()
    finally:
        timer.cancel()
    return subprocess.CompletedProcess(argv, 0 if cut else code, out.decode("utf-8", "replace"),
                                       err.decode("utf-8", "replace"))


def _error(args: Sequence[str], proc: subprocess.CompletedProcess[str], where: Path) -> ClauderonError:
    detail = last_line(proc.stderr) or last_line(proc.stdout) or f"exit status {proc.returncode}"
    sub = next((a for a in args if not a.startswith("-") and "=" not in a), "") if args else ""
    return ClauderonError(f"git {sub} failed in {where}: {detail} (run `git {sub}` there to see more)")
