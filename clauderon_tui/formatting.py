"""How session fields read on screen: status glyphs and colours, agent-status words, ages, filters."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from runtime.backends.registry import capabilities_of, is_backend
from runtime.models import AgentStatus, Session, Status

STATUS_GLYPHS: dict[Status, tuple[str, str]] = {
    Status.CREATING: ("◌", "$accent"),
    Status.RUNNING: ("●", "$success"),
    Status.STOPPED: ("○", "$text-muted"),
    Status.FAILED: ("✖", "$error"),
    Status.ARCHIVED: ("▪", "$text-disabled"),
}
"""Glyph and theme colour variable for each container status."""

AGENT_WORDS: dict[AgentStatus, tuple[str, str]] = {
    AgentStatus.UNKNOWN: ("", ""),
    AgentStatus.WORKING: ("working", "$secondary"),
    AgentStatus.NEEDS_PERMISSION: ("needs permission", "$warning"),
    AgentStatus.WAITING_INPUT: ("waiting for input", "$warning"),
    AgentStatus.IDLE: ("idle", "$text-muted"),
    AgentStatus.ERROR: ("error", "$error"),
    AgentStatus.EXITED: ("exited", "$text-muted"),
}
"""Short word and colour for each agent status."""


def on_open_network(backend: str | None, network_mode: str) -> bool:
    """Whether a sandbox of `backend` in `network_mode` has a way out of its own (the proxy is a path there, not
    the only one): Docker's `host` and `bridge`. A backend this version does not know counts as closed."""
    return backend is not None and is_backend(backend) and network_mode in capabilities_of(backend).open_networks


def isolation_label(session: Session) -> str:
    """The backend as a person should read it: `docker`, `docker (open network: host)`, `local (unsandboxed)`."""
    if is_backend(session.backend) and not capabilities_of(session.backend).sandboxed:
        return f"{session.backend} (unsandboxed)"
    if on_open_network(session.backend, session.network_mode):
        return f"{session.backend} (open network: {session.network_mode})"
    return session.backend


MODE_WORDS = {"plan": "plan mode", "acceptEdits": "accept edits", "bypassPermissions": "bypass permissions",
              "auto": "auto mode", "dontAsk": "don't ask", "default": "asks first"}
"""How a permission mode reads (Claude Code's own words in its status line)."""


def agent_label(session: Session) -> str:
    """The agent with its model and permission mode: `claude`, `claude sonnet · plan mode`."""
    label = f"{session.agent} {session.model}" if session.model else session.agent
    # Until the agent reports a mode, a plan-mode session shows the mode it starts in.
    mode = session.permission_mode or ("plan" if session.plan_mode else None)
    return f"{label} · {MODE_WORDS.get(mode, mode)}" if mode else label


class SessionFilter(StrEnum):
    """The sidebar's views, in the order `v` cycles through them ("all" is every session, archived dimmed)."""

    ALL = "all"
    RUNNING = "running"
    ATTENTION = "attention"
    ARCHIVED = "archived"


def needs_attention(session: Session) -> bool:
    """The agent waits on the person, or the session broke or was paused."""
    return session.status == Status.FAILED or bool(session.paused) or session.agent_status in (
        AgentStatus.NEEDS_PERMISSION, AgentStatus.WAITING_INPUT, AgentStatus.ERROR,
    )


def matches_filter(session: Session, which: SessionFilter) -> bool:
    """Whether a session shows under a filter ("all" shows every session, archived ones too)."""
    if which == SessionFilter.ARCHIVED:
        return session.status == Status.ARCHIVED
    if which == SessionFilter.RUNNING:
        return session.status == Status.RUNNING
    if which == SessionFilter.ATTENTION:
        return needs_attention(session) and session.status != Status.ARCHIVED
    return True


def matches_search(session: Session, query: str) -> bool:
    """Case-insensitive match of every word of the query against name, branch, repo and agent."""
    haystack = " ".join((session.name, session.branch, session.repo_path, session.agent, session.backend)).lower()
    return all(word in haystack for word in query.lower().split())


def fuzzy_score(query: str, candidate: str) -> int | None:
    """Letters of `query` in order within `candidate`: a lower score is a tighter match; None if no match."""
    query, candidate = query.lower(), candidate.lower()
    if not query:
        return 0
    if query in candidate:
        return candidate.index(query)
    position, gaps = -1, 0
    for letter in query:
        found = candidate.find(letter, position + 1)
        if found < 0:
            return None
        gaps += found - position - 1
        position = found
    return 100 + gaps


def format_age(seconds: float) -> str:
    """`45s`, `5m`, `3h`, `2d`, `4w`."""
    seconds = max(0, int(seconds))
    for size, unit in ((604800, "w"), (86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def sort_key(session: Session) -> tuple[bool, float, str]:
    """Creation order, oldest first, archived sessions after the others: a stable list, so `1`-`9` keep
    meaning the same sessions while new ones are added (attention is a badge and a view, never a reorder;
    only archiving, a person's own act, moves a row)."""
    return (session.status == Status.ARCHIVED, session.created_at, session.id)


def as_session(value: Session | dict[str, Any]) -> Session:
    """Events carry Session records; accept their JSON form too."""
    return value if isinstance(value, Session) else Session.model_validate(value)


def not_running_message(session: Session) -> str:
    """What the terminal pane says instead of a terminal, with the key that helps."""
    if session.status == Status.CREATING:
        progress = session.progress
        step = f" ({progress.step}/{progress.total}: {progress.message})" if progress.total else ""
        return f"{session.name} is being created{step}…"
    if session.status == Status.FAILED:
        return f"{session.name} failed: {session.error or 'unknown error'}\n\nPress r to retry, x to delete."
    if session.status == Status.ARCHIVED:
        return f"{session.name} is archived. Press a to unarchive it."
    if session.print_run is not None:
        word, _ = print_word(session) or ("print run", "")
        return (f"{session.name} was a print run ({word.removeprefix('print: ')}); its sandbox is gone. The Info tab "
                "shows its exit status and final message; the diff and the transcript stay.")
    return f"{session.name} is stopped. Press r to restart it."


def print_word(session: Session) -> tuple[str, str] | None:
    """The sidebar's word for a print-mode session (`create --print`) and its colour; None for others."""
    run = session.print_run
    if run is None or session.status not in (Status.RUNNING, Status.STOPPED):
        return None
    if run.finished_at is None:
        return "print: running", "$accent"
    if run.exit_status == 0:
        return "print: finished", "$success"
    return f"print: failed ({'cut off' if run.exit_status is None else f'exit {run.exit_status}'})", "$error"


PR_STAGES: dict[str, tuple[str, str]] = {
    "ready-to-merge": ("✓", "$success"),
    "blocked": ("✗", "$error"),
    "changes-requested": ("↺", "$warning"),
    "needs-review": ("●", "$warning"),
    "working": ("●", "$secondary"),
    "merged": ("merged", "$accent"),
    "closed": ("closed", "$text-muted"),
}
"""Mark and theme colour for each pull-request stage (see `runtime/git/pr_watch.py`)."""


def changes_label(session: Session) -> str | None:
    """`3 files +120 −14, 2 uncommitted`: what the session's branch changes against its base and what its
    sandbox holds uncommitted, as the engine last saw them; None before it looked."""
    seen = session.sandbox_changes or {}
    committed, uncommitted = seen.get("committed"), len(seen.get("uncommitted") or [])
    parts = []
    if committed:
        files = committed["files"]
        parts.append(f"{files} file{'' if files == 1 else 's'} +{committed['added']} −{committed['removed']}")
    if uncommitted:
        parts.append(f"{uncommitted} uncommitted")
    return ", ".join(parts) or None


def pr_words(pr: dict[str, Any] | None) -> str | None:
    """`PR checks failing`: the pull request's state in words, the first that applies (merged, closed, draft,
    checks failing, changes requested, mergeable, checks passing, open); None without a PR."""
    if not pr or pr.get("number") is None:
        return None
    states = (("merged", pr.get("merged")), ("closed", pr.get("state") == "closed"), ("draft", pr.get("draft")),
              ("checks failing", pr.get("checks") == "failing"),
              ("changes requested", pr.get("review") == "changes-requested"),
              ("mergeable", pr.get("stage") == "ready-to-merge"), ("checks passing", pr.get("checks") == "passing"))
    return "PR " + next((word for word, applies in states if applies), "open")


def pr_badge(pr: dict[str, Any] | None) -> tuple[str, str] | None:
    """`("#12 ✓", "$success")` for a session's stored PR state; None without a PR."""
    if not pr or pr.get("number") is None:
        return None
    mark, colour = PR_STAGES.get(str(pr.get("stage") or ""), ("●", "$text-muted"))
    return f"#{pr['number']} {mark}", colour
