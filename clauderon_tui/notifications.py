"""Which engine events deserve the person's attention, and what the toast says.

An agent that starts waiting (a permission prompt, a question) and a pull request that needs action
(failing checks, changes requested: the engine's `attention` events) each make one toast naming the
session, a bell if `[tui] bell` is on, and a mark in the sidebar until the session is viewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.models import AgentStatus, Session

WAITING = (AgentStatus.NEEDS_PERMISSION, AgentStatus.WAITING_INPUT)
"""Agent states that wait on the person."""
REASON_WORDS = {
    "checks-failing": "checks failing", "changes-requested": "changes requested",
    "conflict": "merge conflicts", "ready-to-merge": "ready to merge", "merged": "merged", "closed": "closed",
}
"""How the engine's `attention` reasons (`runtime.git.pr_watch.notifications`) read in a toast."""
NEEDS_ACTION = {"checks-failing", "changes-requested", "conflict"}


@dataclass(frozen=True)
class Attention:
    """One thing to tell the person: the session, a title and one line."""

    session_id: str
    title: str
    message: str


def _detail(session: Session) -> str:
    detail = session.agent_detail or {}
    for key in ("question", "tool", "message", "input", "reason"):
        value = detail.get(key)
        if value:
            text = value if isinstance(value, str) else str(value)
            return text if len(text) <= 120 else text[:119] + "…"
    return ""


def session_attention(previous: Session | None, session: Session) -> Attention | None:
    """An `Attention` when the agent has just started waiting on the person, else None."""
    if session.agent_status not in WAITING:
        return None
    if previous is not None and previous.agent_status == session.agent_status \
            and previous.agent_detail == session.agent_detail:
        return None
    if previous is None:
        return None  # first sight (a snapshot) is not news
    what = "needs permission" if session.agent_status == AgentStatus.NEEDS_PERMISSION else "is waiting for input"
    detail = _detail(session)
    return Attention(session.id, f"{session.name} {what}", detail or f"{session.agent} {what}")


def event_attention(event: dict[str, Any], sessions: dict[str, Session]) -> Attention | None:
    """An `Attention` for an engine `attention` event (pull-request changes, a session paused)."""
    session_id = str(event.get("session_id") or "")
    known = sessions.get(session_id)
    name = str(event.get("name") or (known.name if known else session_id))
    if event.get("kind") == "paused" and session_id:
        return Attention(session_id, f"{name} was paused", " ".join(map(str, event.get("reasons") or [])))
    reasons = [REASON_WORDS.get(str(r), str(r).replace("_", " ")) for r in event.get("reasons") or []]
    if not session_id:
        return None
    raw = {str(r) for r in event.get("reasons") or []}
    title = f"{name}: pull request needs attention" if raw & NEEDS_ACTION or not raw else f"{name}: pull request"
    return Attention(session_id, title, ", ".join(reasons) or "see its pull request")
