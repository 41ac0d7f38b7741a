"""Container facts for the workbench's Info view: an inspect summary and one CPU/memory sample.

Only backends that `has_stats` (Docker) have these; other backends answer with a reason instead. The backend
samples on its own threads (one clear line when its daemon is gone).
"""

from __future__ import annotations

import time
from typing import Any

from runtime.backends.base import Backend
from runtime.errors import ClauderonError


def summarize_inspect(info: dict[str, Any]) -> dict[str, Any]:
    """The parts of `docker inspect` the Info view shows: image, state, network mode, mounts."""
    host_config = info.get("HostConfig") or {}
    state = info.get("State") or {}
    return {
        "id": str(info.get("Id", ""))[:12],
        "name": str(info.get("Name", "")).lstrip("/"),
        "image": (info.get("Config") or {}).get("Image", ""),
        "state": state.get("Status", ""),
        "started_at": state.get("StartedAt", ""),
        "network_mode": host_config.get("NetworkMode", ""),
        "cpu_limit": (host_config.get("NanoCpus") or 0) / 1e9 or None,
        "memory_limit": host_config.get("Memory") or None,
        "mounts": [
            {"source": m.get("Source", ""), "destination": m.get("Destination", ""), "rw": bool(m.get("RW"))}
            for m in info.get("Mounts") or []
        ],
    }


def summarize_stats(stats: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """CPU percent (of one core = 100) and memory in use (without page cache) from one stats answer."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    percent = cpu_delta / system_delta * cpus * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
    memory = stats.get("memory_stats") or {}
    details = memory.get("stats") or {}
    cache = details.get("inactive_file", details.get("total_inactive_file", details.get("cache", 0)))
    used = max(0, int(memory.get("usage", 0)) - int(cache or 0))
    return {"cpu_percent": round(percent, 2), "memory_bytes": used,
            "memory_limit": memory.get("limit") or None, "taken_at": now if now is not None else time.time()}


async def container_facts(backend: Backend, backend_id: str | None, *, sample: bool) -> dict[str, Any]:
    """`{"container": summary | None, "stats": sample | None, "reason": why either is missing}`."""
    if backend_id is None:
        return {"container": None, "stats": None, "reason": "the session has no container yet"}
    if not backend.capabilities.has_stats:
        return {"container": None, "stats": None,
                "reason": f"container details are only sampled for docker sessions (this one is {backend.name})"}
    try:
        info, stats = await backend.sample_container(backend_id, with_stats=sample)
    except ClauderonError as exc:
        return {"container": None, "stats": None, "reason": exc.message}
    if info is None:
        return {"container": None, "stats": None, "reason": "the container is gone"}
    out: dict[str, Any] = {"container": summarize_inspect(info), "stats": None, "reason": ""}
    if stats is not None:
        out["stats"] = summarize_stats(stats)
    elif sample:
        out["reason"] = "the container is not running"
    return out
