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

from clauderon_tui.formatting import PR_STAGES, on_open_network
from clauderon_tui.widgets.session_pane import SessionPane
from runtime.api.client import EngineClientProtocol
from runtime.textsafe import display_text

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
        if key == "sandbox_changes":
            key, value = "branch sync", sync_summary(value)
        elif key == "print_run":
            if value is None:
                continue  # an interactive session
            key, value = "print run", print_run_summary(value)
        elif key == "disk_bytes":
            key, value = "disk use", human_bytes(value) if value is not None else "not measured yet"
        elif key == "network_mode" and on_open_network(fields.get("backend"), value):
            value = f"{value} (open network: the proxy is a way out, not the only one)"
        shown = json.dumps(value) if isinstance(value, (dict, list)) else ("" if value is None else str(value))
        table.add_row(key, Text(display_text(shown)))  # values can be agent-written: never markup
    return table


def print_run_summary(run: dict[str, Any]) -> str:
    """`finished: exit 0; transcript .claude/...` and the final message below, for a print-mode session."""
    if run.get("finished_at") is None:
        return "running headless; the result comes when it ends"
    status = run.get("exit_status")
    head = f"finished: exit {status}" if status is not None else "cut off: no exit status"
    if run.get("transcript"):
        head += f"; transcript {run['transcript']}"
    return f"{head}\n{run.get('result') or ''}"


def sync_summary(changes: dict[str, Any] | None) -> str:
    """`brought back 12:00:01 (abc123def456); 2 uncommitted, 1 ignored` for a sandboxed session's last
    import, its failure, or that none has happened yet."""
    if not changes:
        return "not yet brought back from the sandbox"
    stamp = time.strftime("%H:%M:%S", time.localtime(float(changes.get("taken_at") or 0)))
    if changes.get("error"):
        return f"{stamp}: {changes['error']}"
    counts = [f"{len(changes.get(k) or [])} {k}" for k in ("uncommitted", "ignored") if changes.get(k)]
    return f"brought back {stamp} ({str(changes.get('tip') or '')[:12]})" + (f"; {', '.join(counts)}" if counts else "")


def audit_line(record: dict[str, Any]) -> str:
    """`12:00:01 GET api.anthropic.com/v1/messages 200 [anthropic]` for one audit record."""
    stamp = time.strftime("%H:%M:%S", time.gmtime(float(record.get("ts") or 0)))
    status = "blocked" if record.get("blocked") else str(record.get("status") or record.get("error_type") or "-")
    credential = f" [{record['credential']}]" if record.get("credential") else ""
    line = f"{stamp} {record.get('method', '?')} {record.get('host', '')}{record.get('path', '')} {status}{credential}"
    return display_text(line, single_line=True)


NO_PR = "no pull request yet; P opens one"


def pr_section(pr: dict[str, Any] | None, local_conflicts: list[str] | None, base: str = "",
               note: str = NO_PR) -> Content:
    """The Pull request section: number and URL, stage, checks, review, mergeability and state (or `note`
    without a PR), then the local conflict check against the base branch when it is known."""
    lines: list[Content] = []
    if pr and pr.get("number") is not None:
        mark, colour = PR_STAGES.get(str(pr.get("stage") or ""), ("●", "$text-muted"))
        lines.append(Content.from_markup("[b]#$number[/b] $url", number=str(pr["number"]),
                                         url=pr.get("html_url") or ""))
        lines.append(Content.from_markup(f"stage      [{colour}]$mark $stage[/]", mark=mark,
                                         stage=pr.get("stage") or "?"))
        checks = str(pr.get("checks") or "none")
        names = (pr.get("failing_checks") if checks == "failing"
                 else pr.get("pending_checks") if checks == "pending" else [])
        check_colour = {"failing": "$error", "pending": "$warning", "passing": "$success"}.get(checks, "$text-muted")
        lines.append(Content.from_markup(f"checks     [{check_colour}]$checks[/]$names", checks=checks,
                                         names=f": {', '.join(names)}" if names else ""))
        lines.append(Content.from_markup("review     $review", review=pr.get("review") or "?"))
        if pr.get("conflicts"):
            mergeable = Content.from_markup("mergeable  [$error]no: conflicts with the base branch[/]")
        elif pr.get("mergeable") is None:
            mergeable = Content.from_markup("mergeable  [$text-muted]GitHub is computing it[/]")
        else:
            mergeable = Content.from_markup("mergeable  $yes [$text-muted]($state)[/]",
                                            yes="yes" if pr.get("mergeable") else "no",
                                            state=pr.get("mergeable_state") or "unknown")
        lines.append(mergeable)
        state = "merged" if pr.get("merged") else "draft" if pr.get("draft") and pr.get("state") == "open" \
            else str(pr.get("state") or "?")
        lines.append(Content.from_markup("state      $state", state=state))
    else:
        lines.append(Content.from_markup("[$text-muted]$note[/]", note=note))
    if local_conflicts:
        lines.append(Content.from_markup("[$warning]⚠ local conflicts with $base:[/]", base=base or "the base branch"))
        lines.extend(Content.from_markup("[$warning]  $path[/]", path=path) for path in local_conflicts)
    elif local_conflicts is not None:
        lines.append(Content.from_markup("[$text-muted]no local conflicts with $base[/]",
                                         base=base or "the base branch"))
    return Content("\n").join(lines)


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

    def __init__(self, client: EngineClientProtocol, *, id: str | None = None) -> None:
        super().__init__(client, id=id)
        self.cpu_history: deque[float] = deque(maxlen=HISTORY)
        """CPU percent samples, oldest first."""
        self.memory_history: deque[float] = deque(maxlen=HISTORY)
        """Memory-in-use samples (bytes), oldest first."""
        self._timer: Timer | None = None
        self.pr_answer: dict[str, Any] | None = None
        """The last `pr_state` answer for the session (PrState JSON plus `local_conflicts`)."""
        self.pr_note = NO_PR
        """What the Pull request section says when there is no PR (or why its state could not be read)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="info-scroll"):
            yield Static("Pull request", classes="info-heading")
            yield Static("", id="info-pr")
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
            self.pr_answer, self.pr_note = None, NO_PR
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
        if self.session is not None:
            self._fetch_pr()

    def _show_fields(self) -> None:
        session = self.session
        fields = self.query_one("#info-fields", Static)
        fields.update(field_table(session.public()) if session is not None else Text("No session selected."))
        self._show_pr()

    def _show_pr(self) -> None:
        session = self.session
        section = self.query_one("#info-pr", Static)
        if session is None:
            section.update("")
            return
        answer = self.pr_answer or {}
        stored = {key: value for key, value in answer.items() if key != "local_conflicts"} or None
        section.update(pr_section(session.pr or stored, answer.get("local_conflicts"), session.base_branch,
                                  self.pr_note))

    @work(group="info-pr", exclusive=True)
    async def _fetch_pr(self) -> None:
        session = self.session
        if session is None:
            return
        try:
            answer, note = await self.client.pr_state(session.id), NO_PR
        except Exception as exc:  # one line where the PR would be; a 404 "no pull request yet" is the usual
            message = str(exc) or exc.__class__.__name__
            no_pr = getattr(exc, "status", None) == 404 and "no pull request" in message
            answer, note = None, NO_PR if no_pr else message
        if self.session is None or self.session.id != session.id:
            return
        self.pr_answer, self.pr_note = answer, note
        self._show_pr()

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
