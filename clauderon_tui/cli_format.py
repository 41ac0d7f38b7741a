"""Plain-text tables for the CLI (the `--json` forms are the stable contract; these are for people)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from clauderon_tui.formatting import isolation_label
from runtime.models import Session
from runtime.settings import is_secret_setting
from runtime.textsafe import display_text


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    # Cells can hold container-chosen bytes (audit hosts and paths, agent details): never escape sequences.
    rows = [headers, *([display_text(cell, single_line=True) for cell in row] for row in rows)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows)


def disk(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / 2 ** 30:.1f}G" if size >= 2 ** 30 else f"{size / 2 ** 20:.0f}M"


def session_table(sessions: list[Session], now: float) -> str:
    if not sessions:
        return "no sessions yet: `clauderon create --repo PATH` makes one"
    return _table(
        ["NAME", "STATUS", "AGENT", "AGENT STATUS", "BACKEND", "BRANCH", "DISK", "AGE"],
        ([s.name, "paused" if s.paused else s.status.value, s.agent, s.agent_status.value, isolation_label(s), s.branch,
          disk(s.disk_bytes), age(now - s.created_at)] for s in sessions),
    )


def hide_secret(key: str, value: Any) -> Any:
    """`config show` says whether a secret setting is set, never what it is."""
    if value and is_secret_setting(key):
        return "(set, hidden)"
    return value


def config_table(rows: list[tuple[str, Any, str]]) -> str:
    return _table(["KEY", "VALUE", "SOURCE"], ([k, repr(v) if isinstance(v, str) else str(v), s] for k, v, s in rows))


def paths_table(rows: list[dict[str, Any]]) -> str:
    return _table(["WHAT", "PATH", "EXISTS", "HOLDS"],
                  ([r["name"], r["path"], "yes" if r["exists"] else "no", r["what"]] for r in rows))


def environment_table(rows: list[dict[str, Any]]) -> str:
    return _table(["VARIABLE", "VALUE", "AFFECTS"], ([r["name"], r["value"], r["affects"]] for r in rows))


def quit_line(running: int, engine_pid: int | None) -> str:
    """What the person is told when the app quits: agents keep running, and how to come back to them."""
    if not running:
        return "no session is running"
    where = f"the background engine (pid {engine_pid})" if engine_pid else "the background engine"
    sessions = f"{running} session{'s' * (running != 1)} keep{'s' * (running == 1)}"
    return f"{sessions} running in {where}; `clauderon` brings them back"


def engine_status(info: dict[str, Any]) -> str:
    if not info["running"]:
        return f"no engine is running for {info['home']}"
    engine = info.get("engine", {})
    lines = [f"engine running: pid {engine.get('pid', '?')}, {engine.get('sessions', '?')} sessions, "
             f"socket {info['socket']}"]
    for name, b in info.get("backends", {}).items():
        lines.append(f"  {name}: {'available' if b['available'] else 'unavailable'} ({b['reason']})")
    proxy = info.get("proxy")
    if proxy:
        lines.append(f"  proxy: {proxy['detail']}")
    if info.get("error"):
        lines.append(f"  error: {info['error']}")
    return "\n".join(lines)


def doctor_report(checks: list[dict[str, Any]]) -> str:
    lines = []
    for check in checks:
        mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[check["status"]]
        lines.append(f"[{mark}] {check['name']}: {check['detail']}")
        if check["status"] != "ok" and check.get("fix"):
            lines.append(f"       fix: {check['fix']}")
    return "\n".join(lines)


def credentials_table(rows: list[dict[str, Any]]) -> str:
    return _table(["NAME", "AVAILABLE", "SOURCE", "VALUE"],
                  ([r["name"], "yes" if r["available"] else "no", r.get("source") or "-", r.get("masked") or "-"]
                   for r in rows))


def audit_lines(records: list[dict[str, Any]]) -> str:
    if not records:
        return "no requests through the proxy yet"
    return _table(
        ["TIME", "SESSION", "METHOD", "HOST", "PATH", "CODE", "CREDENTIAL", "BLOCKED"],
        ([time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.get("ts") or 0)), str(r.get("session") or "-"),
          str(r.get("method", "")), str(r.get("host", "")), str(r.get("path", ""))[:60], str(r.get("status") or "-"),
          str(r.get("credential") or "-"), str(r.get("blocked") or r.get("error_type") or "")] for r in records),
    )


def _short_id(image_id: str | None) -> str:
    return (image_id or "none").removeprefix("sha256:")[:12]


def refresh_line(result: dict[str, Any]) -> str:
    """What `refresh` did: the image it pulled and whether the sandbox now runs a newer one."""
    if not result["changed"]:
        newest = _short_id(result["new_id"])
        return f"{result['name']}: {result['image']} is already the newest ({newest}); nothing to do"
    return (f"{result['name']}: {result['image']} {_short_id(result['old_id'])} -> {_short_id(result['new_id'])}; "
            f"the sandbox was recreated on it and the agent resumed")


def reconcile_lines(actions: list[dict[str, Any]]) -> str:
    """One line per thing reconciliation did, or that there was nothing to do."""
    if not actions:
        return "nothing to do: every session matches what its backend runs"
    width = max(len(a["action"]) for a in actions)
    return "\n".join(f"{a['action']:<{width}}  {a['subject']}: {a['detail']}" for a in actions)
