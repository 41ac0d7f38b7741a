"""Agent hooks: turn what agents' hook programs report into `agent_status` (each agent's `hook_status`
says what an event means; this module routes, validates, orders and applies).

Inside a sandbox, the hook script an agent installs (`Agent.install_hooks`) POSTs each hook's JSON to
`https://clauderon.internal/hooks/<agent>/<event>?t=<ns>` through the session's proxy. The proxy answers
that host itself: it calls `HooksHandler` in a worker thread with the session id taken from the proxy
credentials, so a container can only ever set its own session's status.

Paths (`Agent.hook_events`), for example:
- `POST /hooks/claude/<Event>`: body is the hook's JSON input (`hook_event_name`, `tool_name`, ...).
- `POST /hooks/codex/notify`: body is the JSON argument Codex gives its `notify` program.

An agent with no hook for a turn starting (`Agent.follows_turns`) is followed through its transcript by
`watch_transcript_turns`.

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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runtime.agents.base import MAX_DETAIL_CHARS, HookRejected, LineParser, StatusChange, clip
from runtime.agents.registry import agent_named, all_agents
from runtime.agents.transcripts import TranscriptRefused, last_assistant_in, open_agent_transcript, read_new_entries
from runtime.errors import ClauderonError
from runtime.models import AgentStatus, Session

log = logging.getLogger(__name__)

HOOKS_PREFIX = "/hooks/"
MAX_BODY_BYTES = 8 * 1024 * 1024  # a PostToolUse carries the tool's whole output
_EVENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

TRANSCRIPT_SECONDS = 3.0
"""The longest a hook waits for an agent-named transcript to be read; past it the hook goes on without."""

# Agent-named files are read here and nowhere else: a read that blocks (whatever the file turns out to be)
# can then hold only these threads, never the proxy's hook workers, DNS lookups or the default executor.
_TRANSCRIPT_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clauderon-transcripts")

EngineUpdate = Callable[[str, dict[str, Any]], None]
AgentHomeOf = Callable[[str], Path | None]


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
        self._no_credential: dict[str, str] = {}  # session id -> why the proxy refused its model calls
        # The agents with hooks, by the name their hook paths carry.
        self._agents = {agent.name: agent for agent in all_agents() if agent.hook_events}

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
        if len(parts) != 2 or parts[0] not in self._agents or not _EVENT_RE.match(parts[1]):
            expected = " or ".join(agent.hook_events or "" for agent in self._agents.values())
            return _reply(404, {"error": f"expected {expected}"})
        agent, event = self._agents[parts[0]], parts[1]
        if len(body) > MAX_BODY_BYTES:
            return _reply(413, {"error": "hook payload too large"})
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            return _reply(400, {"error": "the body is not JSON"})
        if not isinstance(payload, dict):
            return _reply(400, {"error": "the body must be a JSON object"})
        sent_at = _query_time(url.query)
        context = _SessionHookContext(self, session_id)
        try:
            change = agent.hook_status(event, payload, context)
        except HookRejected as exc:
            return _reply(exc.status, {"error": str(exc)})
        # Why an agent-named transcript was not read, told back to the hook.
        extra = {"transcript_refused": context.refused[0]} if context.refused else {}
        if change is None:
            return _reply(200, {"ok": True, "forwarded": False, **extra})
        if not self._newer(session_id, sent_at):
            return _reply(200, {"ok": True, "forwarded": False, **extra})
        with self._lock:
            no_credential = self._no_credential.get(session_id)
        if no_credential and change.agent_status != AgentStatus.EXITED:
            # No turn of this session can reach its model: what the agent makes of it (Claude Code's
            # "authentication_failed", Gemini CLI's turn ending as if answered) says less than the proxy's reason.
            change = StatusChange(AgentStatus.ERROR, {"reason": clip(no_credential)}, change.permission_mode)
        try:
            self.engine_update(session_id, change.changes())
        except ClauderonError as exc:  # e.g. a session deleted while its container still runs
            return _reply(404, {"error": str(exc)})
        return _reply(200, {"ok": True, "forwarded": True, "agent_status": str(change.agent_status), **extra})

    def no_credential(self, session_id: str, message: str) -> None:
        """The proxy refused the session's model calls for want of a credential (`message` says what to set): until
        the session is restarted (`forget`), any status its agent reports but `exited` is that error."""
        with self._lock:
            self._no_credential[session_id] = message

    def remember_tool(self, session_id: str, detail: dict[str, Any]) -> None:
        """Keep the tool a session's agent is about to use."""
        with self._lock:
            self._last_tool[session_id] = detail

    def last_tool(self, session_id: str) -> dict[str, Any] | None:
        """The tool kept by `remember_tool`."""
        with self._lock:
            return self._last_tool.get(session_id)

    def last_assistant_message(self, session_id: str, transcript_path: str, parser: LineParser,
                               refused: list[str]) -> str | None:
        """The last assistant text of the transcript a hook names, read on the host side: on the
        transcript executor, within `TRANSCRIPT_SECONDS`, confined to the session's agent home."""
        home = self.agent_home_of(session_id) if self.agent_home_of else None
        if home is None:
            return None

        def read() -> str | None:
            with open_agent_transcript(home, transcript_path, parser) as reader:
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

    def transcripts(self, session_id: str, find: Callable[[Path], list[Path]]) -> list[Path] | None:
        """`find(agent home)`: a directory walk in an agent-written tree, on the transcript executor and
        time-bound too; None when the home is unknown or the walk failed."""
        home = self.agent_home_of(session_id) if self.agent_home_of else None
        if home is None:
            return None
        try:
            return _TRANSCRIPT_EXECUTOR.submit(find, home).result(TRANSCRIPT_SECONDS)
        except (FutureTimeout, OSError) as exc:
            log.warning("session %s: cannot list transcripts: %s", session_id, exc or "timed out")
            return None

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
            self._no_credential.pop(session_id, None)


class _SessionHookContext:
    """`HookContext` for one hook request: the handler's memory of its session, and what was refused."""

    def __init__(self, handler: HooksHandler, session_id: str) -> None:
        self.handler = handler
        self.session_id = session_id
        self.refused: list[str] = []

    def remember_tool(self, detail: dict[str, Any]) -> None:
        self.handler.remember_tool(self.session_id, detail)

    def last_tool(self) -> dict[str, Any] | None:
        return self.handler.last_tool(self.session_id)

    def last_assistant_message(self, transcript_path: str, parse_line: LineParser) -> str | None:
        return self.handler.last_assistant_message(self.session_id, transcript_path, parse_line, self.refused)

    def transcripts(self, find: Callable[[Path], list[Path]]) -> list[Path] | None:
        return self.handler.transcripts(self.session_id, find)


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


def report_missing_credentials(engine: Any) -> None:
    """A model call the proxy refused for want of a credential (a session created with
    `--no-credential-check`) sets the session's `agent_status` to `error`, the proxy's words as the reason.

    Call from `Engine.start()`; the proxy calls back on its own loop, which must not wait for the engine's."""
    loop = asyncio.get_running_loop()

    async def apply(session_id: str, message: str) -> None:
        try:
            await engine.apply(session_id, agent_status=AgentStatus.ERROR, agent_detail={"reason": clip(message)})
        except ClauderonError as exc:  # a session deleted while its sandbox still calls out
            log.info("missing credential for session %s: %s", session_id, exc)

    def report(session_id: str, message: str) -> None:
        if engine.hooks is not None:
            engine.hooks.no_credential(session_id, message)
        asyncio.run_coroutine_threadsafe(apply(session_id, message), loop)

    engine.egress.service.set_missing_credential_handler(report)


async def watch_transcript_turns(engine: Any, session_id: str, *, interval: float = 1.0) -> None:
    """Follow the newest transcript of a session whose agent `follows_turns` (Codex: no hook for a turn
    starting, its notify program only reports the end) and set `working` when a turn starts and
    `waiting-input` when one ends (`Agent.turn_state`).

    Run as an engine task while the session runs (`engine.spawn`); it ends by itself when the session
    is gone or no longer running. Blocking file reads go to a thread.
    """
    offsets: dict[Path, int] = {}
    while True:
        session = engine.store.find(session_id)
        if session is None or session.status != "running":
            return
        agent = agent_named(session.agent)
        home = engine.home.agent_home(session_id)
        rollouts = await asyncio.to_thread(agent.find_transcripts, home)
        if rollouts:
            path = rollouts[-1]
            try:
                entries, offsets[path] = await asyncio.to_thread(read_new_entries, path, offsets.get(path))
            except OSError as exc:
                log.debug("cannot read %s: %s", path, exc)
                entries = []
            state = agent.turn_state(entries)
            if state is not None:
                status, question = state
                changes: dict[str, Any] = {"agent_status": AgentStatus(status)}
                if "agent_detail" in Session.model_fields:
                    changes["agent_detail"] = {"question": clip(question)} if question else None
                await engine.apply(session_id, **changes)
        await asyncio.sleep(interval)


__all__ = ["HOOKS_PREFIX", "MAX_DETAIL_CHARS", "HooksHandler", "install_hooks", "watch_transcript_turns"]
