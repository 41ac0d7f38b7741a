"""One agent filling the disk must not stop every other session.

The worktrees, the agent homes, the store and the audit share the disk of CLAUDERON_HOME. The guard
measures what each session takes there and, when free space falls below `[engine] min_free_space`, freezes
the session whose worktree grows (`docker pause`, SIGSTOP for a local one) and says so. A reserve file,
kept while there is room and let go when there is not, leaves the store and the audit room to write:
the proxy fails closed without its audit, so without the reserve every other agent would stop too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

from runtime.engine.backend_set import BackendSet
from runtime.engine.records import SessionRecords
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.models import Session, Status
from runtime.settings import EngineSettings

log = logging.getLogger(__name__)

MEASURE_EVERY = 30
"""Checks between two measurements of every session while space is plentiful (walking trees costs)."""
MAX_RESERVE = 64 << 20
MIB = 1 << 20


async def disk_use(*roots: Path) -> int | None:
    """Bytes the files under `roots` take on disk (a hard-linked file counts once), or None when it cannot
    be measured. `du` does the walk: a worktree can hold a few hundred thousand files, and walking them in
    Python would hold the GIL the engine's loop needs for the terminals."""
    present = [str(root) for root in roots if root.exists()]
    if not present:
        return 0
    try:
        proc = await asyncio.create_subprocess_exec("du", "-s", "-c", "-B1", "-P", *present,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        return int(out.decode().split()[-2])  # the last line is "<bytes>\ttotal"
    except (OSError, ValueError, IndexError):  # no du, or files vanishing under it without a total
        return None


def reserve_size(floor: int) -> int:
    """A quarter of the floor (at most 64 MiB): let go, it gives room without lifting free space over the floor."""
    return min(MAX_RESERVE, floor // 4)


class DiskGuard:
    """Keeps a reserve file while there is room, and pauses the growing session when there is not."""

    def __init__(self, home: Home, settings: EngineSettings, records: SessionRecords, backends: BackendSet) -> None:
        self.home = home
        self.settings = settings
        self.records = records
        self.backends = backends
        self.sizes: dict[str, int] = {}
        self._checks = 0

    @property
    def reserve(self) -> Path:
        return self.home.root / "reserve"

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the guard must outlive one bad look at the disk
                log.exception("disk check failed")
            await asyncio.sleep(self.settings.disk_check_seconds)

    async def check(self) -> None:
        floor = self.settings.min_free_space
        free = await asyncio.to_thread(self._free_after_reserve, floor)
        short = free is not None and free < floor
        self._checks += 1
        if short or self._checks % MEASURE_EVERY == 1:
            grown = await self.measure()
            if short:
                await self._pause_the_grower(grown, free)

    def _free_after_reserve(self, floor: int) -> int | None:
        """Free bytes; the reserve is let go below the floor and made again once there is room for it."""
        try:
            free = shutil.disk_usage(self.home.root).free
        except OSError:
            return None
        size = reserve_size(floor)
        if free < floor and self.reserve.exists():
            self.reserve.unlink(missing_ok=True)
            log.warning("free space in %s is below [engine] min_free_space: released the %d MiB reserve so the "
                        "store and the audit can still write", self.home.root, size // MIB)
            return shutil.disk_usage(self.home.root).free
        if size and free >= floor + size and not self.reserve.exists():
            try:
                fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    os.posix_fallocate(fd, 0, size)
                finally:
                    os.close(fd)
            except OSError as exc:
                self.reserve.unlink(missing_ok=True)
                log.info("no disk reserve: %s", exc.strerror or exc)
        return free

    async def measure(self) -> dict[str, int]:
        """Measure every session with a worktree; returns how much each grew since the last measurement."""
        grown: dict[str, int] = {}
        sizes: dict[str, int] = {}  # deleted and archived sessions drop out
        for session in self.records.store.sessions(include_archived=False):
            size = await disk_use(Path(session.worktree_path), self.home.agent_home(session.id))
            before = self.sizes.get(session.id)
            if size is None:  # not measured this time: the last figure stands
                if before is not None:
                    sizes[session.id] = before
                continue
            sizes[session.id] = size
            if before is not None:
                grown[session.id] = size - before
            shown = round(size / MIB) * MIB  # a change under a MiB is not worth a store write
            if shown != session.disk_bytes:
                await self.records.apply(session.id, disk_bytes=shown)
        self.sizes = sizes
        return grown

    async def _pause_the_grower(self, grown: dict[str, int], free: int | None) -> None:
        candidates = [s for s in self.records.store.sessions(include_archived=False)
                      if grown.get(s.id, 0) > 0 and s.status == Status.RUNNING and s.backend_id and not s.paused]
        if not candidates:
            return
        session = max(candidates, key=lambda s: grown[s.id])
        left = f"{(free or 0) / MIB:.0f} MiB"
        reason = (f"paused: its worktree grew {grown[session.id] / MIB:.0f} MiB while only {left} were free in "
                  f"CLAUDERON_HOME; free space, then `clauderon resume {session.name}`")
        await self.pause(session, reason)

    async def pause(self, session: Session, reason: str) -> None:
        try:
            await self.backends.of(session).pause(session.backend_id or "", True)
        except ClauderonError as exc:
            log.warning("cannot pause %s although the disk is short: %s", session.name, exc)
            return
        log.warning("%s %s", session.name, reason)
        await self.records.update(session.id, paused=reason)
        self.records.events.publish({"type": "attention", "kind": "paused", "session_id": session.id,
                                    "name": session.name, "reasons": [reason]})
