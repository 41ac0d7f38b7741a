"""The engine's health report: itself, its proxy, its backends (cached: their checks are slow) and the disk."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from runtime import __version__
from runtime.engine.backend_set import BackendSet
from runtime.engine.egress import Egress
from runtime.home import Home, disk_report
from runtime.machine_checks import header_warnings
from runtime.settings import Settings
from runtime.store import Store

HEALTH_TTL_S = 10.0
"""How long backend availability answers are reused (doctor-grade checks are slow)."""


class EngineHealth:
    """What `GET /health` and the event stream's health message say."""

    def __init__(self, home: Home, settings: Settings, store: Store, backends: BackendSet,
                 egress: Egress) -> None:
        self.home = home
        self.settings = settings.engine
        self.image = settings.docker.image
        self.store = store
        self.backends = backends
        self.egress = egress
        self.started_at = time.time()
        self._backends_cache: tuple[float, dict[str, Any]] | None = None
        self._warnings: list[dict[str, Any]] = []
        """`clauderon doctor`'s checks that are off (`doctor.header_warnings`), asked with the backends."""

    async def report(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._backends_cache is None or now - self._backends_cache[0] > HEALTH_TTL_S:
            backends = {}
            for name, backend in self.backends.items():
                ok, reason = await backend.available()
                backends[name] = {"available": ok, "reason": reason, "sandboxed": backend.capabilities.sandboxed,
                                  "capabilities": backend.capabilities.public()}
            builder = self.backends.image_builder()
            usable = builder if builder is not None and backends[builder.name]["available"] else None
            self._warnings = await header_warnings(self.home, self.image, usable)
            self._backends_cache = (now, backends)
        # In a thread: a store that never loaded (the proxy failed first) loads on its first question.
        problems = await asyncio.to_thread(self.egress.credential_problems)
        return {
            "engine": {"pid": os.getpid(), "home": str(self.home.root), "version": __version__,
                       "started_at": self.started_at, "sessions": len(self.store.sessions())},
            "proxy": self.egress.health(),
            "backends": self._backends_cache[1],
            "agents": {name: {"credential_problem": problem} for name, problem in problems.items()},
            "disk": disk_report(self.home.root, self.settings.min_free_space),
            "warnings": self._warnings,
        }

    def forget(self) -> None:
        """Ask the backends again next time (one became unreachable, or reachable again)."""
        self._backends_cache = None
