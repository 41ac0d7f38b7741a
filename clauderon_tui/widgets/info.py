"""The Info tab: every field of the session, its container's CPU and memory over the last minutes, its
mounts and network mode, and the proxy's last audit lines for it.

Samples are taken (by the engine, from `docker stats`) every `SAMPLE_SECONDS` only while the tab is in front.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Sparkline, Static

from .session_pane import SessionPane

SAMPLE_SECONDS = 3.0
"""Seconds between container samples while the tab is shown."""
HISTORY = 100
"""Samples kept for the sparklines (five minutes at the default rate)."""


def human_bytes(size: float | int | None) -> str:
    """`512 B`, `3.2 MiB`, `1.5 GiB`."""
    if not size:
        return "0 B"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def field_table(fields: dict[str, Any]) -> Table:
    """Two columns, field and value, for every session field."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in fields.items():
        shown = json.dumps(value) if isinstance(value, (dict, list)) else ("" if value is None else str(value))
        table.add_row(key, shown)
    return table


def audit_line(record: dict[str, Any]) -> str:
    """`12:00:01 GET api.anthropic.com/v1/messages 200 [anthropic]` for one audit record."""
    stamp = time.strftime("%H:%M:%S", time.gmtime(float(record.get("ts") or 0)))
    status = "blocked" if record.get("blocked") else str(record.get("status") or record.get("error_type") or "-")
    credential = f" [{record['credential']}]" if record.get("credential") else ""
    return f"{stamp} {record.get('method', '?')} {record.get('host', '')}{record.get('path', '')} {status}{credential}"


class InfoPane(SessionPane):
    """Session fields, CPU/memory sparklines, container mounts and network, audit tail."""

    DEFAULT_CSS = """
    InfoPane {
        #info-scroll { height: 1fr; padding: 0 1; }
        .info-heading { height: 1; margin-top: 1; color: $accent; text-style: bold; }
        #info-cpu-line, #info-mem-line { height: 1; }
        Sparkline { height: 2; margin-bottom: 1; }
        #info-reason { color: $text-muted; }
        #info-audit { color: $text-muted; }
    }
    """

    def __init__(self, client: Any, *, id: str | None = None) -> None:
        super().__init__(client, id=id)
        self.cpu_history: deque[float] = deque(maxlen=HISTORY)
        """CPU percent samples, oldest first."""
        self.memory_history: deque[float] = deque(maxlen=HISTORY)
        """Memory-in-use samples (bytes), oldest first."""
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="info-scroll"):
            yield Static("Resources", classes="info-heading")
            yield Static("", id="info-reason")
            yield Static("", id="info-cpu-line")
            yield Sparkline([], id="info-cpu")
            yield Static("", id="info-mem-line")
            yield Sparkline([], id="info-mem")
            yield Static("Container", classes="info-heading")
            yield Static("", id="info-container")
            yield Static("Proxy audit (latest)", classes="info-heading")
            yield Static("", id="info-audit")
            yield Static("Session", classes="info-heading")
            yield Static("", id="info-fields")

    def watch_session(self, old: Any, new: Any) -> None:
        if (old.id if old else None) != (new.id if new else None):
            self.cpu_history.clear()
            self.memory_history.clear()
        super().watch_session(old, new)
        if self.is_mounted:
            self._show_fields()

    def watch_active(self, active: bool) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if active and self.is_mounted:
            self._timer = self.set_interval(SAMPLE_SECONDS, self._sample)
        super().watch_active(active)

    def reload(self) -> None:
        """Show the session's fields and take a first sample."""
        self._show_fields()
        self._sample()

    def _show_fields(self) -> None:
        session = self.session
        fields = self.query_one("#info-fields", Static)
        fields.update(field_table(session.public()) if session is not None else Text("No session selected."))

    def _sample(self) -> None:
        if self.session is not None and self.active:
            self._fetch()

    @work(group="info", exclusive=True)
    async def _fetch(self) -> None:
        session = self.session
        if session is None:
            return
        try:
            info = await self.client.session_info(session.id)
        except Exception as exc:  # one line, shown where the numbers would be
            self.query_one("#info-reason", Static).update(Text(str(exc) or exc.__class__.__name__))
            return
        if self.session is None or self.session.id != session.id:
            return
        self.show_info(info)

    def show_info(self, info: dict[str, Any]) -> None:
        """Render one `session_info` answer (and add its sample to the history)."""
        stats = info.get("stats")
        if stats:
            self.cpu_history.append(float(stats.get("cpu_percent") or 0))
            self.memory_history.append(float(stats.get("memory_bytes") or 0))
        self.query_one("#info-reason", Static).update(Text(info.get("reason") or ""))
        cpu_line = self.query_one("#info-cpu-line", Static)
        mem_line = self.query_one("#info-mem-line", Static)
        if self.cpu_history:
            limit = (stats or {}).get("memory_limit")
            cpu_line.update(Content.from_markup("CPU [b]$cpu%[/] [$text-muted]($n samples, every $s s)[/]",
                                                cpu=f"{self.cpu_history[-1]:.1f}", n=str(len(self.cpu_history)),
                                                s=f"{SAMPLE_SECONDS:g}"))
            mem_line.update(Content.from_markup("Memory [b]$used[/]$limit", used=human_bytes(self.memory_history[-1]),
                                                limit=f" of {human_bytes(limit)}" if limit else ""))
        else:
            cpu_line.update("")
            mem_line.update("")
        self.query_one("#info-cpu", Sparkline).data = list(self.cpu_history)
        self.query_one("#info-mem", Sparkline).data = list(self.memory_history)
        container = info.get("container")
        body = self.query_one("#info-container", Static)
        if container:
            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold", no_wrap=True)
            table.add_column(overflow="fold")
            for key in ("id", "name", "image", "state", "network_mode"):
                table.add_row(key.replace("_", " "), str(container.get(key) or ""))
            for mount in container.get("mounts", []):
                table.add_row("mount", f"{mount['source']} → {mount['destination']} ({'rw' if mount['rw'] else 'ro'})")
            body.update(table)
        else:
            body.update(Text("no container details", style="dim"))
        audit = info.get("audit") or []
        self.query_one("#info-audit", Static).update(
            Text("\n".join(audit_line(r) for r in audit[-20:]) if audit else "no proxied requests yet"))
        if info.get("session") is not None and self.session is None:
            self._show_fields()
