"""Look for real credential values where a container (or anything but the host's secret store) could see them.

Needles are given as `{label: value}` and hits name the label, never the value, so a failing assertion
does not print the secret it found. Nothing here sends a needle into a container: container contents are
copied out (`docker exec cat`, `get_archive`) and searched on the host.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# `docker diff` kinds: 0 changed, 1 added, 2 deleted.
_DIFF_DELETED = 2
_MAX_ARCHIVE_BYTES = 512 * 1024 * 1024


def env_without_credentials(base: Mapping[str, str], scratch: Path) -> dict[str, str]:
    """`base` (an engine's environment) without any credential this machine may hold, so a test's engine
    sees only the random values the test adds; Codex's `auth.json` is pointed at a missing file under
    `scratch` instead of the machine's `~/.codex/auth.json`."""
    from proxy.credentials import ENV_NAMES

    names = {name for names in ENV_NAMES.values() for name in names}
    env = {k: v for k, v in base.items() if k not in names and not k.startswith(("CODEX_", "OP_"))}
    env["CODEX_AUTH_JSON_PATH"] = str(Path(scratch) / "no-codex-auth.json")
    return env


@dataclass(frozen=True)
class Hit:
    """Where a needle was found: `where` is a path or a container view (`inspect`, `/proc/*/environ` ...)."""

    where: str
    label: str

    def __str__(self) -> str:
        return f"{self.label} in {self.where}"


def _encoded(needles: Mapping[str, str]) -> list[tuple[str, bytes]]:
    out = [(label, value.encode()) for label, value in needles.items() if value]
    if any(len(v) < 8 for _, v in out):
        raise ValueError("needles shorter than 8 bytes would match by chance; use real-looking random values")
    return out


def scan_bytes(data: bytes, needles: Mapping[str, str], where: str) -> list[Hit]:
    """Hits of every needle in `data`."""
    return [Hit(where, label) for label, value in _encoded(needles) if value in data]


def scan_tree(root: Path, needles: Mapping[str, str], exclude: Iterable[Path | str] = ()) -> list[Hit]:
    """Every regular file under `root` (symlinks are not followed) that holds a needle.

    `exclude` names directories or files (absolute, or relative to `root`) to leave out, such as the
    home's `secrets/`, where real values belong.
    """
    root = Path(root)
    excluded = {(p if Path(p).is_absolute() else root / p).resolve() for p in exclude}
    encoded = _encoded(needles)
    hits: list[Hit] = []
    if not root.exists():
        return hits
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if (here / d).resolve() not in excluded]
        for name in filenames:
            path = here / name
            if path.resolve() in excluded or path.is_symlink() or not path.is_file():
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue  # a socket or a file removed while walking
            hits.extend(Hit(str(path), label) for label, value in encoded if value in data)
    return hits


def scan_container(container, needles: Mapping[str, str]) -> list[Hit]:
    """A container's views of the needles: `docker inspect`, every process's environment and command
    line (when it runs), and the content of every path `docker diff` reports as changed or added."""
    container.reload()
    hits = scan_bytes(json.dumps(container.attrs).encode(), needles, "docker inspect")
    # A stopped container has no processes to read; its inspect data and writable layer still count.
    for view in ("environ", "cmdline") if container.status == "running" else ():
        code, out = container.exec_run(["sh", "-c", f"cat /proc/[0-9]*/{view} 2>/dev/null; true"], demux=False)
        assert code == 0, f"reading /proc/*/{view} in the container failed: {out!r}"
        assert out, f"/proc/*/{view} in the container was empty: the scan would prove nothing"
        hits += scan_bytes(out, needles, f"/proc/*/{view}")
    for path in changed_paths(container):
        hits += scan_container_path(container, path, needles)
    return hits


def changed_paths(container) -> list[str]:
    """Paths `docker diff` reports as changed or added (the container's writable layer)."""
    paths = sorted(c["Path"] for c in (container.diff() or []) if c["Kind"] != _DIFF_DELETED)
    kept: list[str] = []
    for path in paths:  # a directory's archive holds everything under it: skip what it already covers
        if not any(path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def scan_container_path(container, path: str, needles: Mapping[str, str]) -> list[Hit]:
    """The regular files at or under `path` inside the container, copied out as a tar and searched here."""
    try:
        stream, _ = container.get_archive(path)
    except Exception:  # removed since `docker diff` listed it, or a special file
        return []
    buf = io.BytesIO()
    for chunk in stream:
        buf.write(chunk)
        if buf.tell() > _MAX_ARCHIVE_BYTES:
            raise AssertionError(f"{path} in the container is larger than the scan allows")
    buf.seek(0)
    hits: list[Hit] = []
    with tarfile.open(fileobj=buf) as tar:
        for member in tar:
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()
            where = f"container:{str(Path(path).parent / member.name)}"
            hits += scan_bytes(data, needles, where)
    return hits


__all__ = ["env_without_credentials", "Hit", "scan_bytes", "scan_tree", "scan_container", "changed_paths",
           "scan_container_path"]
