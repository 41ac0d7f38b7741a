"""An account for the agent's uid in its container, so the unprivileged agent has a name."""

from __future__ import annotations

import io
import logging
import tarfile
import time
from typing import TYPE_CHECKING

from runtime.agents.user import with_agent_account

if TYPE_CHECKING:
    from docker import DockerClient

log = logging.getLogger(__name__)


def name_the_agent(client: DockerClient, container_id: str, user: str, home: str) -> None:
    """Give the agent's uid an account in the created container's /etc/passwd and /etc/group (see
    `with_agent_account`). An image without those files, or one that cannot be read, keeps its own."""
    try:
        uid, gid = (int(part) for part in user.split(":"))
    except ValueError:  # a user name: the image has that account already
        return
    try:
        passwd, group = (_read_container_file(client, container_id, f"/etc/{name}") for name in ("passwd", "group"))
        changed = with_agent_account(passwd, group, uid, gid, home)
        if changed is None:
            return
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for name, text in zip(("passwd", "group"), changed, strict=True):
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        client.api.put_archive(container_id, "/etc", archive.getvalue())
    except Exception as exc:  # the agent still runs, only nameless
        log.info("could not name uid %s in %s: %s", uid, container_id[:12], exc)


def _read_container_file(client: DockerClient, container_id: str, path: str, limit: int = 4 << 20) -> str:
    stream, stat = client.api.get_archive(container_id, path)
    if stat.get("size", 0) > limit:
        raise ValueError(f"{path} is {stat['size']} bytes")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise ValueError(f"{path} is not a file")
        return handle.read().decode("utf-8", "replace")
