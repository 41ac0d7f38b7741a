"""The Info tab: the session's fields in sections (session, sandbox, network with its open/sealed mark, agent,
landing), its container's CPU and memory beside their sparklines, its mounts, and the proxy's last audit lines.

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
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Sparkline, Static

from clauderon_tui.formatting import PR_STAGES, on_open_network
from clauderon_tui.widgets.session_pane import SessionPane
from runtime.api.client import EngineClientProtocol
from runtime.backends.registry import capabilities_of, is_backend
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


FIELD_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Session", ("name", "title", "description", "id", "status", "error", "paused", "progress", "created_at",
                 "updated_at")),
    ("Sandbox", ("backend", "backend_id", "image", "cpu", "memory", "access_mode", "disk_bytes", "repo_path",
                 "subdir", "worktree_path", "own_repository", "included_paths", "mounts", "env")),
    ("Network", ("network_mode", "egress", "credential_names")),
    ("Agent", ("agent", "model", "permission_mode", "plan_mode", "skip_permissions", "agent_status", "agent_detail",
               "agent_session_id", "print_run", "initial_prompt", "initial_images")),
    ("Landing", ("branch", "base_branch", "sandbox_changes")),
)
"""The Info tab's field sections, in order; a field in none of them (a newer engine's) shows under Other.
`pr` has its own section (Pull request) under Landing."""
LABELS = {"disk_bytes": "disk use", "sandbox_changes": "branch sync", "print_run": "print run",
          "credential_names": "credentials", "backend_id": "backend id", "created_at": "created",
          "updated_at": "updated", "base_branch": "base", "network_mode": "network mode"}


def network_mark(fields: dict[str, Any]) -> tuple[str, str]:
    """(word, colour) for the Network heading: `open` when the sandbox has a way out besides the proxy, `host`
    for an unsandboxed backend, `sealed` when the proxy is the only way out."""
    backend = fields.get("backend")
    if backend is not None and is_backend(backend) and not capabilities_of(backend).sandboxed:
        return "host network: unsandboxed", "$warning"
    if on_open_network(backend, str(fields.get("network_mode") or "")):
        return "open", "$warning"
    return "sealed", "$success"


def field_value(key: str, value: Any, fields: dict[str, Any]) -> str | None:
    """One field as a person reads it (None: not worth a row)."""
    if key == "sandbox_changes":
        return sync_summary(value)
    if key == "print_run":
        return None if value is None else print_run_summary(value)  # None: an interactive session
    if key == "disk_bytes":
        return human_bytes(value) if value is not None else "not measured yet"
    if key == "network_mode":
        if on_open_network(fields.get("backend"), value):
            return f"{value} (open network: the proxy is a way out, not the only one)"
        if network_mark(fields)[0] == "sealed":
            return f"{value} (sealed: the proxy is the only way out)"
    if key in ("created_at", "updated_at") and isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
    if key == "progress" and isinstance(value, dict):
        return f"step {value.get('step', 0)} of {value.get('total', 0)}" + \
            (f": {value['message']}" if value.get("message") else "") if value.get("total") else None
    if value in (None, "", [], {}) and key not in ("status", "agent_status"):
        return None  # an unset optional field: no row
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def field_groups(fields: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(label, value)]) for every section with a field to show, Other last."""
    placed = {key for _, keys in FIELD_GROUPS for key in keys} | {"pr"}
    groups = [*FIELD_GROUPS, ("Other", tuple(key for key in fields if key not in placed))]
    shown = []
    for title, keys in groups:
        rows = [(LABELS.get(key, key.replace("_", " ")), value) for key in keys if key in fields
                and (value := field_value(key, fields[key], fields)) is not None]
        if rows:
            shown.append((title, rows))
    return shown


def rows_table(rows: list[tuple[str, str]]) -> Table:
    """Two columns, label and value; values can be agent-written, so never markup."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=14)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, Text(display_text(value)))
    return table


def field_table(fields: dict[str, Any]) -> Table:
    """Every field to show, labelled, section after section (the CLI-free way tests read the Info tab)."""
    return rows_table([row for _, rows in field_groups(fields) for row in rows])


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
    """Session fields in sections, CPU/memory beside their sparklines, container mounts, audit tail."""

    DEFAULT_CSS = """
    InfoPane {
        #info-scroll { height: 1fr; padding: 0 1; }
        .info-heading { height: 1; margin-top: 1; color: $accent; text-style: bold; }
        .info-subheading { height: 1; margin-top: 1; text-style: bold; }
        .info-figure { height: 2; }
        #info-cpu-line, #info-mem-line { width: 24; height: 2; }
        Sparkline { width: 1fr; height: 2; }
        #info-reason { color: $text-muted; }
        #info-reason.-empty { display: none; }
        #info-audit { color: $text-muted; }
        .-empty-group { display: none; }
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
            yield from self._group("Session")
            yield Static("Resources", classes="info-heading")
            yield Static("", id="info-reason", classes="-empty")
            with Horizontal(classes="info-figure"):
                yield Static("", id="info-cpu-line")
                yield Sparkline([], id="info-cpu")
            with Horizontal(classes="info-figure"):
                yield Static("", id="info-mem-line")
                yield Sparkline([], id="info-mem")
            yield from self._group("Sandbox")
            yield Static("Container", classes="info-subheading")
            yield Static("", id="info-container")
            yield from self._group("Network")
            yield Static("Proxy audit (latest)", classes="info-subheading")
            yield Static("", id="info-audit")
            yield from self._group("Agent")
            yield from self._group("Landing")
            yield Static("Pull request", classes="info-subheading")
            yield Static("", id="info-pr")
            yield from self._group("Other")

    @staticmethod
    def _group(title: str) -> ComposeResult:
        slug = title.lower()
        yield Static(title, id=f"info-head-{slug}", classes="info-heading")
        yield Static("", id=f"info-{slug}")

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
        fields = session.public() if session is not None else {}
        groups = dict(field_groups(fields))
        for title in [title for title, _ in FIELD_GROUPS] + ["Other"]:
            slug = title.lower()
            body, rows = self.query_one(f"#info-{slug}", Static), groups.get(title, [])
            body.update(rows_table(rows) if rows else "")
            empty = not rows and title == "Other"  # the fixed sections stay, so the tab keeps its shape
            body.set_class(empty, "-empty-group")
            self.query_one(f"#info-head-{slug}", Static).set_class(empty, "-empty-group")
        if session is None:
            self.query_one("#info-session", Static).update(Text("No session selected."))
        else:
            word, colour = network_mark(fields)
            self.query_one("#info-head-network", Static).update(
                Content.from_markup(f"Network [{colour}]$word[/]", word=word))
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
        reason = self.query_one("#info-reason", Static)
        reason.update(Text(info.get("reason") or ""))
        reason.set_class(not info.get("reason"), "-empty")
        cpu_line = self.query_one("#info-cpu-line", Static)
        mem_line = self.query_one("#info-mem-line", Static)
        if self.cpu_history:
            limit = (stats or {}).get("memory_limit")
            cpu_line.update(Content.from_markup("CPU [b]$cpu%[/]\n[$text-muted]$n samples, every $s s[/]",
                                                cpu=f"{self.cpu_history[-1]:.1f}", n=str(len(self.cpu_history)),
                                                s=f"{SAMPLE_SECONDS:g}"))
            mem_line.update(Content.from_markup("Memory [b]$used[/]\n[$text-muted]$limit[/]",
                                                used=human_bytes(self.memory_history[-1]),
                                                limit=f"of {human_bytes(limit)}" if limit else "no limit"))
        else:
            cpu_line.update("")
            mem_line.update("")
        self.query_one("#info-cpu", Sparkline).data = list(self.cpu_history)
        self.query_one("#info-mem", Sparkline).data = list(self.memory_history)
        container = info.get("container")
        body = self.query_one("#info-container", Static)
        if container:
            rows = [(key.replace("_", " "), str(container.get(key) or ""))
                    for key in ("id", "name", "image", "state", "network_mode")]
            rows += [("mount", f"{mount['source']} → {mount['destination']} ({'rw' if mount['rw'] else 'ro'})")
                     for mount in container.get("mounts", [])]
            body.update(rows_table(rows))
        else:
            body.update(Text("no container details", style="dim"))
        audit = info.get("audit") or []
        self.query_one("#info-audit", Static).update(
            Text("\n".join(audit_line(r) for r in audit[-20:]) if audit else "no proxied requests yet"))
        if info.get("session") is not None and self.session is None:
            self._show_fields()
