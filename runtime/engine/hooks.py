"""Agent hooks: turn what Claude Code's hooks and Codex's notify program report into `agent_status`.

Inside a sandbox, `~/.clauderon/hook.sh` (see `runtime.agents.hook_install`) POSTs each hook's stdin JSON to
`https://clauderon.internal/hooks/claude/<Event>?t=<ns>` through the session's proxy. The proxy answers
that host itself: it calls `HooksHandler` in a worker thread with the session id taken from the proxy
credentials, so a container can only ever set its own session's status.

Paths:
- `POST /hooks/claude/<Event>`: body is the hook's JSON input (`hook_event_name`, `tool_name`, ...).
- `POST /hooks/codex/notify`: body is the JSON argument Codex gives its `notify` program.

Codex reports only the end of a turn; `watch_codex_turns` follows its rollout for the start.

Payload shapes were taken from Claude Code 2.1.197 and Codex 0.171.0 run against the fakes; see
`docs/agents.md` and `tests/samples/`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runtime.errors import ClauderonError
from runtime.models import AgentStatus, Session
from runtime.agents.transcript_codex import codex_turn_state, read_new_entries
from runtime.agents.transcripts import TranscriptRefused, codex_transcripts, last_assistant_in, open_agent_transcript

log = logging.getLogger(__name__)

HOOKS_PREFIX = "/hooks/"
MAX_BODY_BYTES = 8 * 1024 * 1024  # a PostToolUse carries the tool's whole output
MAX_DETAIL_CHARS = 4000  # what a status line or a permission dialog can use; the rest stays in the transcript
_EVENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
# A Notification without `notification_type` (older CLIs) is recognised by its message.
_PERMISSION_MESSAGE_RE = re.compile(r"\bpermission\b", re.IGNORECASE)

# Events that only mean "the agent is busy". PostToolUseFailure is a failed tool call the model sees
# and reacts to, not an agent error; PermissionDenied (auto mode) lets the model carry on.
_WORKING_EVENTS = frozenset({
    "UserPromptSubmit", "UserPromptExpansion", "PreToolUse", "PostToolUse", "PostToolUseFailure", "PostToolBatch",
    "PermissionDenied", "SubagentStart", "SubagentStop", "PreCompact", "PostCompact",
})

TRANSCRIPT_SECONDS = 3.0
"""The longest a hook waits for an agent-named transcript to be read; past it the hook goes on without."""

# Agent-named files are read here and nowhere else: a read that blocks (whatever the file turns out to be)
# can then hold only these threads, never the proxy's hook workers, DNS lookups or the default executor.
_TRANSCRIPT_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clauderon-transcripts")

EngineUpdate = Callable[[str, dict[str, Any]], None]
AgentHomeOf = Callable[[str], Path | None]


@dataclass(frozen=True)
class StatusChange:
    """What one hook event means for the session: its new `agent_status` and the detail to show."""

    agent_status: AgentStatus
    detail: dict[str, Any] | None = None

    def changes(self) -> dict[str, Any]:
        return {"agent_status": self.agent_status, "agent_detail": self.detail}


# -- mapping ------------------------------------------------------------------------------------------


def map_claude_event(event: str, payload: dict[str, Any], *, last_tool: dict[str, Any] | None = None,
                     question_from_transcript: Callable[[str], str | None] | None = None) -> StatusChange | None:
    """The status a Claude Code hook event means, or None for events that say nothing about it.

    `last_tool` is the tool of this session's latest PreToolUse (a permission Notification does not
    name its tool); `question_from_transcript(transcript_path)` supplies the question for a Stop
    payload without `last_assistant_message`.
    """
    if event in _WORKING_EVENTS:
        if event == "PreToolUse" and isinstance(payload.get("tool_name"), str):
            return StatusChange(AgentStatus.WORKING, {"tool": payload["tool_name"]})
        return StatusChange(AgentStatus.WORKING)
    if event == "PermissionRequest":
        return StatusChange(AgentStatus.NEEDS_PERMISSION, _tool_detail(payload) or dict(last_tool or {}) or None)
    if event == "Notification":
        return _map_notification(payload, last_tool)
    if event == "Stop":
        question = payload.get("last_assistant_message")
        if not isinstance(question, str) or not question.strip():
            path = payload.get("transcript_path")
            question = question_from_transcript(path) if question_from_transcript and isinstance(path, str) else None
        return StatusChange(AgentStatus.WAITING_INPUT, {"question": _clip(question)} if question else None)
    if event == "StopFailure":
        # The turn ended on an API error (rate limit, auth, overload): the agent cannot go on by itself.
        reason = " ".join(str(p) for p in (payload.get("error"), payload.get("error_details")) if p) or "unknown error"
        return StatusChange(AgentStatus.ERROR, {"reason": _clip(reason)})
    if event == "SessionEnd":
        reason = payload.get("reason")
        return StatusChange(AgentStatus.EXITED, {"reason": reason} if isinstance(reason, str) else None)
    if event == "SessionStart":
        # Started (or resumed, or cleared) and not yet given anything to do; a prompt given on the
        # command line follows at once as UserPromptSubmit.
        return StatusChange(AgentStatus.IDLE)
    return None


def _map_notification(payload: dict[str, Any], last_tool: dict[str, Any] | None) -> StatusChange | None:
    kind = payload.get("notification_type")
    message = payload.get("message") if isinstance(payload.get("message"), str) else ""
    if kind == "permission_prompt" or (kind is None and _PERMISSION_MESSAGE_RE.search(message)):
        detail = {**(last_tool or {}), "message": _clip(message)} if message else dict(last_tool or {})
        return StatusChange(AgentStatus.NEEDS_PERMISSION, detail or None)
    if kind == "idle_prompt" or (kind is None and "waiting for your input" in message.lower()):
        return StatusChange(AgentStatus.IDLE)
    if kind == "elicitation_dialog":
        # An MCP server asks the user a question through Claude Code.
        return StatusChange(AgentStatus.WAITING_INPUT, {"question": _clip(message)} if message else None)
    return None  # auth_success, elicitation results, ...: nothing the status shows


def map_codex_notify(payload: dict[str, Any]) -> StatusChange | None:
    """Codex's notify program gets one JSON argument; `agent-turn-complete` means the turn is over."""
    if payload.get("type") != "agent-turn-complete":
        return None
    message = payload.get("last-assistant-message")
    return StatusChange(AgentStatus.WAITING_INPUT,
                        {"question": _clip(message)} if isinstance(message, str) and message.strip() else None)


def _tool_detail(payload: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if isinstance(payload.get("tool_name"), str):
        detail["tool"] = payload["tool_name"]
    if "tool_input" in payload:
        detail["input"] = _clip_value(payload["tool_input"])
    return detail


def _clip(text: Any) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "…"


def _clip_value(value: Any) -> Any:
    """A tool input as is when small, else its JSON cut short (a Write's whole file is not a detail)."""
    encoded = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(encoded) <= MAX_DETAIL_CHARS else encoded[:MAX_DETAIL_CHARS] + "…"


# -- the proxy handler --------------------------------------------------------------------------------


class HooksHandler:
    """The proxy's hooks handler: `handler(session_id, method, path, body) -> (status, headers, body)`.

    Bad input gets a 4xx answer, never an exception; each status change goes to `engine_update(session_id,
    changes)`. Events carry the time the hook script ran (`?t=<ns>`); one older than the last applied is
    dropped, so a request delayed in the proxy cannot undo a newer status.
    """

    def __init__(self, engine_update: EngineUpdate, agent_home_of: AgentHomeOf | None = None) -> None:
        self.engine_update = engine_update
        self.agent_home_of = agent_home_of
        self._lock = threading.Lock()
        self._last_at: dict[str, int] = {}
        self._last_tool: dict[str, dict[str, Any]] = {}

    def __call__(self, session_id: str, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            return self._handle(session_id, method, path, body)
        except Exception:  # engine code must never turn a hook into a proxy failure
            log.exception("hook %s for session %s failed", path, session_id)
            return _reply(500, {"error": "hook handling failed"})

    def _handle(self, session_id: str, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method.upper() != "POST":
            return _reply(405, {"error": "hooks take POST"})
        url = urlsplit(path)
        parts = url.path.removeprefix(HOOKS_PREFIX).split("/") if url.path.startswith(HOOKS_PREFIX) else []
        if len(parts) != 2 or parts[0] not in ("claude", "codex") or not _EVENT_RE.match(parts[1]):
            return _reply(404, {"error": "expected /hooks/claude/<Event> or /hooks/codex/notify"})
        agent, event = parts
        if len(body) > MAX_BODY_BYTES:
            return _reply(413, {"error": "hook payload too large"})
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            return _reply(400, {"error": "the body is not JSON"})
        if not isinstance(payload, dict):
            return _reply(400, {"error": "the body must be a JSON object"})
        sent_at = _query_time(url.query)
        refused: list[str] = []  # why an agent-named transcript was not read, told back to the hook
        if agent == "codex":
            if event != "notify":
                return _reply(404, {"error": "expected /hooks/codex/notify"})
            change = None if self._codex_side_thread(session_id, payload) else map_codex_notify(payload)
        else:
            named = payload.get("hook_event_name")
            if named is not None and named != event:
                return _reply(400, {"error": f"path names {event} but the payload is {named}"})
            change = self._map_claude(session_id, event, payload, refused)
        extra = {"transcript_refused": refused[0]} if refused else {}
        if change is None:
            return _reply(200, {"ok": True, "forwarded": False, **extra})
        if not self._newer(session_id, sent_at):
            return _reply(200, {"ok": True, "forwarded": False, **extra})
        try:
            self.engine_update(session_id, change.changes())
        except ClauderonError as exc:  # e.g. a session deleted while its container still runs
            return _reply(404, {"error": str(exc)})
        return _reply(200, {"ok": True, "forwarded": True, "agent_status": str(change.agent_status), **extra})

    def _map_claude(self, session_id: str, event: str, payload: dict[str, Any],
                    refused: list[str]) -> StatusChange | None:
        if event in ("PreToolUse", "PermissionRequest"):
            detail = _tool_detail(payload)
            if detail:
                with self._lock:
                    self._last_tool[session_id] = detail
        with self._lock:
            last_tool = self._last_tool.get(session_id)
        return map_claude_event(event, payload, last_tool=last_tool,
                                question_from_transcript=lambda p: self._question(session_id, p, refused))

    def _question(self, session_id: str, transcript_path: str, refused: list[str]) -> str | None:
        """The last assistant text of the transcript the Stop payload names, read on the host side: on the
        transcript executor, within `TRANSCRIPT_SECONDS`, confined to the session's agent home."""
        home = self.agent_home_of(session_id) if self.agent_home_of else None
        if home is None:
            return None

        def read() -> str | None:
            with open_agent_transcript(home, transcript_path) as reader:
                return last_assistant_in(reader)

        try:
            return _TRANSCRIPT_EXECUTOR.submit(read).result(TRANSCRIPT_SECONDS)
        except TranscriptRefused as exc:
            reason = str(exc)
        except FutureTimeout:
            reason = f"reading {transcript_path} took over {TRANSCRIPT_SECONDS:.0f}s; skipped"
        except (OSError, ValueError) as exc:
            reason = f"cannot read {transcript_path}: {exc.strerror if isinstance(exc, OSError) else exc}"
        log.warning("session %s: hook transcript: %s", session_id, reason)
        refused.append(reason)
        return None

    def _codex_side_thread(self, session_id: str, payload: dict[str, Any]) -> bool:
        """Codex also notifies for its own side turns (the session-title request, on a thread of its
        own that leaves no rollout file); those say nothing about the conversation."""
        thread = payload.get("thread-id")
        home = self.agent_home_of(session_id) if self.agent_home_of else None
        if not isinstance(thread, str) or home is None:
            return False
        try:  # a directory walk in an agent-written tree: on the transcript executor, time-bound too
            rollouts = _TRANSCRIPT_EXECUTOR.submit(codex_transcripts, home).result(TRANSCRIPT_SECONDS)
        except (FutureTimeout, OSError) as exc:
            log.warning("session %s: cannot list Codex rollouts: %s", session_id, exc or "timed out")
            return False
        return bool(rollouts) and not any(p.name.endswith(f"-{thread}.jsonl") for p in rollouts)

    def _newer(self, session_id: str, sent_at: int) -> bool:
        """Whether an event sent at `sent_at` (ns, 0 when unknown) is not older than the last one applied."""
        with self._lock:
            previous = self._last_at.get(session_id, 0)
            if sent_at and previous and sent_at < previous:
                return False
            if sent_at:
                self._last_at[session_id] = sent_at
            return True

    def forget(self, session_id: str) -> None:
        """Drop what is remembered about a session (deleted, or restarted with a fresh agent)."""
        with self._lock:
            self._last_at.pop(session_id, None)
            self._last_tool.pop(session_id, None)


def _query_time(query: str) -> int:
    values = parse_qs(query).get("t", [])
    try:
        return int(values[0]) if values else 0
    except ValueError:
        return 0


def _reply(status: int, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode() + b"\n"


# -- wiring into the engine ---------------------------------------------------------------------------


def install_hooks(engine: Any, *, timeout: float = 5.0) -> HooksHandler:
    """Register a `HooksHandler` on the engine's proxy that applies changes with `engine.update`.

    Call from `Engine.start()` (on the engine's loop). The handler runs in proxy worker threads and
    hands each change to the engine loop, so the store keeps one writer and events go out in order.
    """
    loop = asyncio.get_running_loop()

    async def apply(session_id: str, changes: dict[str, Any]) -> None:
        # A tool call fires PreToolUse and PostToolUse; only a real change is stored and published.
        await engine.apply(session_id, **changes)

    def update(session_id: str, changes: dict[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(apply(session_id, changes), loop).result(timeout)

    handler = HooksHandler(update, agent_home_of=engine.home.agent_home)
    engine.egress.service.set_hooks_handler(handler)
    engine.hooks = handler
    return handler


async def watch_codex_turns(engine: Any, session_id: str, *, interval: float = 1.0) -> None:
    """Follow a Codex session's newest rollout and set `working` when a turn starts (Codex has no hook
    for that; its notify program only reports the end) and `waiting-input` when one ends.

    Run as an engine task while the session runs (`engine.spawn`); it ends by itself when the session
    is gone or no longer running. Blocking file reads go to a thread.
    """
    offsets: dict[Path, int] = {}
    while True:
        session = engine.store.find(session_id)
        if session is None or session.status != "running":
            return
        home = engine.home.agent_home(session_id)
        rollouts = await asyncio.to_thread(codex_transcripts, home)
        if rollouts:
            path = rollouts[-1]
            try:
                entries, offsets[path] = await asyncio.to_thread(read_new_entries, path, offsets.get(path))
            except OSError as exc:
                log.debug("cannot read %s: %s", path, exc)
                entries = []
            state = codex_turn_state(entries)
            if state is not None:
                status, question = state
                changes: dict[str, Any] = {"agent_status": AgentStatus(status)}
                if "agent_detail" in Session.model_fields:
                    changes["agent_detail"] = {"question": _clip(question)} if question else None
                await engine.apply(session_id, **changes)
        await asyncio.sleep(interval)


__all__ = ["HOOKS_PREFIX", "watch_codex_turns", "StatusChange", "HooksHandler", "map_claude_event", "map_codex_notify", "install_hooks"]
