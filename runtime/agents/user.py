"""Who a Docker agent runs as: never root. A non-root user's agents run as that user; when clauderon runs
as root they run as `[docker] run_as_user`, and the session's worktree and agent home are handed to that
uid (the host's root can still read and write them). Pods do the same through their security context."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)


def agent_user(worktree: Path, agent_home: Path, readonly_sources: list[Path], run_as: int) -> str:
    """`uid:gid` for the container, after giving `worktree` and `agent_home` to it when that is needed.

    The borrowed object stores are mounted read-only as they are: if the user's repository keeps them
    private (created under umask 077), an unprivileged agent could not read its own history, so that
    session runs as root, as before, and the log says why."""
    uid, gid = os.getuid(), os.getgid()
    if uid != 0:
        return f"{uid}:{gid}"
    private = next((p for p in readonly_sources if not readable_by_all(p)), None)
    if private is not None:
        log.warning("%s is not readable by other users; the agent runs as root so it can read it "
                    "(chmod -R o+rX it to run agents unprivileged)", private)
        return "0:0"
    if not _owned_by(worktree, run_as):  # handed over once: from then on only the agent writes there
        give_tree(worktree, run_as)
    give_tree(agent_home, run_as)  # the engine rewrites the agent's config at each launch
    return f"{run_as}:{run_as}"


def _owned_by(path: Path, uid: int) -> bool:
    try:
        return os.lstat(path).st_uid == uid
    except OSError:
        return False


def readable_by_all(path: Path, limit: int = 200_000) -> bool:
    """Whether others may read `path` and, for a directory, enter it and read everything in it (an object
    store is a few hundred directories and packs; past `limit` entries the rest is assumed alike)."""
    try:
        mode = os.lstat(path).st_mode
        if not stat.S_ISDIR(mode):
            return bool(mode & stat.S_IROTH)
        seen = 0
        for directory, dirs, files in os.walk(path):
            for name in [".", *dirs, *files]:
                mode = os.lstat(os.path.join(directory, name)).st_mode
                wanted = stat.S_IROTH | stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
                if not stat.S_ISLNK(mode) and mode & wanted != wanted:
                    return False
                seen += 1
                if seen > limit:
                    return True
        return True
    except OSError:
        return False


def give_tree(root: Path, uid: int) -> None:
    """Own `root` and everything under it to `uid:uid`, never following a link (the agent made them)."""
    if not root.exists():
        return
    os.lchown(root, uid, uid)
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):  # removed while walking (the agent works on)
                os.lchown(os.path.join(directory, name), uid, uid)


AGENT_NAME = "agent"


def with_agent_account(passwd: str, group: str, uid: int, gid: int, home: str) -> tuple[str, str] | None:
    """The image's /etc/passwd and /etc/group with an account for `uid:gid`, or None when it has one.

    Without it the agent is a number: bash says "I have no name!", `whoami` fails and ssh refuses to
    run at all ("No user exists for uid 1000"). The login shell is root's, so it exists in the image."""
    users = [line.split(":") for line in passwd.splitlines() if line.count(":") == 6]
    if any(fields[2] == str(uid) for fields in users):
        return None
    taken = {fields[0] for fields in users}
    name = AGENT_NAME if AGENT_NAME not in taken else f"{AGENT_NAME}{uid}"
    shell = next((fields[6] for fields in users if fields[2] == "0"), "/bin/sh") or "/bin/sh"
    passwd = f"{passwd.rstrip(chr(10))}\n{name}:x:{uid}:{gid}:clauderon agent:{home}:{shell}\n".lstrip("\n")
    groups = [line.split(":") for line in group.splitlines() if line.count(":") == 3]
    if not any(fields[2] == str(gid) for fields in groups):
        group_name = name if name not in {fields[0] for fields in groups} else f"{name}-{gid}"
        group = f"{group.rstrip(chr(10))}\n{group_name}:x:{gid}:\n".lstrip("\n")
    return passwd, group
