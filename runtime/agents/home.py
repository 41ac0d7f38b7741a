"""The per-session home directory mounted as the container user's HOME.

Agent state (its config, history, caches, `.gitconfig`) lands here and never in the worktree, so it
never shows up in `git status` or gets committed, and it survives container restarts.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path, PurePosixPath

from proxy import atomic_write
from runtime.errors import ClauderonError
from runtime.git.safety import discover
from runtime.home import Home

log = logging.getLogger(__name__)

# Where the per-session agent home is mounted in a container; it is the agent user's HOME.
CONTAINER_HOME = "/home/agent"
FALLBACK_NAME = "clauderon"
FALLBACK_EMAIL = "clauderon@localhost"
_SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def prepare_agent_home(home: Home, session_id: str, *, git_user_name: str | None,
                       git_user_email: str | None, repo_path: str | Path | None = None) -> Path:
    """Create (0700) the session's agent home and write its `.gitconfig`; returns its path.

    A missing name or email is read from `repo_path`'s git config (repository, then global) when
    given, else falls back to `clauderon` / `clauderon@localhost`. Safe to call again on restart.
    """
    if not _SESSION_ID_RE.match(session_id or "") or session_id.strip(".") == "":
        raise ClauderonError(f"invalid session id {session_id!r}: use letters, digits, '.', '_' and '-'")
    path = home.agent_home(session_id)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    if repo_path is not None and not (git_user_name and git_user_email):
        found_name, found_email = host_git_identity(repo_path)
        git_user_name = git_user_name or found_name
        git_user_email = git_user_email or found_email
    write_agent_file(path, ".gitconfig", agent_gitconfig(git_user_name or FALLBACK_NAME,
                                                         git_user_email or FALLBACK_EMAIL))
    return path


def agent_gitconfig(name: str, email: str) -> str:
    """The `.gitconfig` text for an agent container."""
    return (
        "# Written by clauderon for this session; rewritten when the session starts.\n"
        "[user]\n"
        f"\tname = {_quote(name)}\n"
        f"\temail = {_quote(email)}\n"
        "[safe]\n"
        "\t# Bind mounts keep host uids, and the container user's uid may differ from the owner of\n"
        "\t# /workspace and of the repository's .git; git would then refuse the repository as\n"
        "\t# 'dubious ownership'. Inside the container every repository is the session's own.\n"
        "\tdirectory = *\n"
        '[url "https://github.com/"]\n'
        "\t# No keys live in the container: SSH remotes go over HTTPS, through the proxy that adds\n"
        "\t# credentials.\n"
        "\tinsteadOf = git@github.com:\n"
        "\tinsteadOf = ssh://git@github.com/\n"
        "[gc]\n"
        "\t# packed-refs is read-only in the container and objects are shared with the host\n"
        "\t# repository: leave packing and pruning to the host.\n"
        "\tauto = 0\n"
        "[maintenance]\n"
        "\tauto = false\n"
    )


def write_agent_file(agent_home: Path, relative: str, content: str | bytes, mode: int = 0o600) -> Path:
    """Write one file inside an agent home atomically (for agent-specific files such as `.claude.json`).

    `relative` is a path inside the agent home; parents are created 0700. Refuses paths that leave
    the home or pass through a symlink (a container could have planted one there).
    """
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ClauderonError(f"agent file path {relative!r} must stay inside the agent home")
    target, parent = agent_home / rel, agent_home
    for part in rel.parent.parts:
        parent = parent / part
        if parent.is_symlink():
            raise ClauderonError(f"{parent} is a symlink; delete it so clauderon can write {relative}")
        parent.mkdir(mode=0o700, exist_ok=True)
    atomic_write(target, content, mode=mode)  # replaces a planted symlink instead of writing through it
    return target


def host_git_identity(repo_path: str | Path) -> tuple[str | None, str | None]:
    """`user.name` and `user.email` as git resolves them for the host repository (None when unset)."""
    values: list[str | None] = []
    for key in ("user.name", "user.email"):
        try:
            proc = discover(repo_path, ["config", "--get", key], check=False)
        except ClauderonError:
            proc = None
        values.append(proc.stdout.strip() or None if proc is not None and proc.returncode == 0 else None)
    return values[0], values[1]


def _quote(value: str) -> str:
    # git config values: quote, escape backslash and double quote; a line break cannot be expressed.
    cleaned = re.sub(r"[\r\n\0]", " ", value).strip()
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["prepare_agent_home", "agent_gitconfig", "write_agent_file", "host_git_identity",
           "FALLBACK_NAME", "FALLBACK_EMAIL"]
