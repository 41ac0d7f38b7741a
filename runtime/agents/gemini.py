"""Gemini CLI: its command line, agent-home setup, status hooks, transcript format and model traffic.

Checked against Gemini CLI 0.61.0 (`@google/gemini-cli`, a Node >= 20 script bundle, run under a pty against
a fake Gemini API, directly and through clauderon's proxy):

- `gemini --session-id <uuid> --prompt-interactive=<prompt>` starts a conversation with that id and runs the
  prompt interactively (the `=` form keeps a prompt that starts with "-" an argument; a positional prompt
  after `--` is ignored); `gemini --resume <uuid>` continues it and fails when there is no transcript for
  it yet (a session never given a prompt). `--yolo` approves every tool call.
- `-m <model>` picks the model: the chat goes to `models/<model>:streamGenerateContent` and the routing call
  is skipped.
- It reads its key from `GEMINI_API_KEY` and sends it as `x-goog-api-key` to
  `generativelanguage.googleapis.com` (`POST /v1beta/models/<model>:streamGenerateContent?alt=sse`; without
  `-m` a `:generateContent` call first picks the model). Its `?key=` query form is only used by the live
  (websocket) APIs, which the CLI does not call.
- Without the settings `write_config` writes it asks for folder trust and an auth method, and checks npm for
  updates. `GEMINI_CLI_NO_RELAUNCH` stops it re-executing itself under a new Node process.
- Status hooks: `~/.gemini/settings.json` takes `hooks` in Claude Code's shape (event -> groups of
  `{"type": "command", "command", "timeout"}`, the timeout in ms); each payload carries `session_id`,
  `transcript_path`, `cwd`, `hook_event_name`, `timestamp`. The events that say something about the
  status: `SessionStart` (`source`), `BeforeAgent` (`prompt`), `BeforeTool`/`AfterTool` (`tool_name`,
  `tool_input`), `Notification` (`notification_type: "ToolPermission"`, `message`, `details`), `AfterAgent`
  (`prompt_response`), `SessionEnd` (`reason`). Samples: `tests/samples/gemini_hooks/`.

Transcript (`~/.gemini/tmp/<project>/chats/session-<YYYY-MM-DDTHH-MM>-<first 8 of the id>.jsonl`, sample:
`tests/samples/gemini_transcript.jsonl`): the first line is the session's metadata (`sessionId`,
`projectHash`, `startTime`, `kind`); `{"$set": {...}}` lines update it (the CLI's own `<session_context>`
message, `lastUpdated`); the others are messages `{"id", "timestamp", "type", "content", ...}` with `type`
`user` (text parts, or `functionResponse` parts: tool results), `gemini` (`content` text, `thoughts`,
`toolCalls` with `id`, `name`, `args`, `status`), `error`, `info`, `warning`. A `gemini` message is written
again with its `toolCalls` once the tools ran (the same `id`): its text is taken from the first write only.
`--resume` appends to the conversation's first file, but first opens a fresh one named by the current minute
(metadata and the `<session_context>` only): from the next minute on, a conversation has two files.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any, ClassVar

from proxy import AgentTraffic, ModelCredential
from runtime.agents.base import (
    HOOKS_URL,
    Agent,
    AgentCommand,
    HookContext,
    HookRejected,
    PrintOutcome,
    StatusChange,
    clip,
    hook_post,
    items,
    last_json_object,
    read_json_object,
    table,
)
from runtime.agents.home import write_agent_file
from runtime.agents.transcripts import Message, TranscriptLocation
from runtime.models import AgentStatus, Session

log = logging.getLogger(__name__)

API_HOST = "generativelanguage.googleapis.com"
GEMINI_ENV = {
    # Otherwise the CLI re-executes itself (a second Node process with a bigger heap).
    "GEMINI_CLI_NO_RELAUNCH": "true",
}
# The first-run answers and quiet defaults: API-key auth, no folder-trust question, no update checks or usage
# statistics, no IDE nudge. Session retention off: its clean-up deleted a resumed session's transcript.
GEMINI_SETTINGS: dict[str, dict[str, Any]] = {
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False,
                "sessionRetention": {"enabled": False}},
    "privacy": {"usageStatisticsEnabled": False},
    "ide": {"enabled": False, "hasSeenNudge": True},
}

GEMINI_HOOK_SCRIPT = ".clauderon/gemini-hook.sh"
GEMINI_HOOK_EVENTS = ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent",
                      "SessionEnd")
HOOK_TIMEOUT_MS = 5000  # the CLI's limit on the hook; the script stops itself after 2 s
_MARKER = "/" + GEMINI_HOOK_SCRIPT
GEMINI_HOOK_SH = f"""#!/bin/bash
# Written by clauderon: sends this Gemini CLI hook's input (stdin) to the clauderon engine through the
# session's proxy, which sets the session's agent status. Prints nothing (the CLI reads a hook's stdout as
# its decision), waits at most 2 s, always exits 0.
event="${{1:-}}"
case "$event" in ""|*[!A-Za-z0-9_-]*) cat >/dev/null; exit 0;; esac
{hook_post(HOOKS_URL + "/gemini/${event}")}
exit 0
"""
# Every hook event the CLI has; a request for any other is not from it.
_CLI_EVENTS = frozenset({*GEMINI_HOOK_EVENTS, "PreCompress", "BeforeModel", "AfterModel", "BeforeToolSelection"})
_WORKING_EVENTS = frozenset({"BeforeAgent", "BeforeTool", "AfterTool"})
# The CLI's own context, sent as the first user message.
_CONTEXT_PREFIX = "<session_context>"


class GeminiAgent(Agent):
    """Google's Gemini CLI (`gemini`)."""

    name: ClassVar[str] = "gemini"
    label: ClassVar[str] = "Gemini CLI"
    # The npm registry's `node` package brings an official Node 20 build: Debian 12's node (18) is too old.
    npm_packages: ClassVar[tuple[str, ...]] = ("@google/gemini-cli", "node@20")
    entry_point: ClassVar[str | None] = "node_modules/@google/gemini-cli/bundle/gemini.js"
    min_node: ClassVar[int] = 20
    traffic: ClassVar[AgentTraffic] = AgentTraffic(
        model_hosts=(API_HOST,),
        model_calls=(("POST", API_HOST, "/v1beta/models/"),),
        model_credentials=(ModelCredential("gemini_api_key", "GEMINI_API_KEY"),),
        error_shape="google",
    )
    transcript: ClassVar[TranscriptLocation | None] = TranscriptLocation(
        ".gemini/tmp", "session-*.jsonl", "session-*-{id}.jsonl", depth=2)
    hook_events: ClassVar[str | None] = "/hooks/gemini/<Event>"
    model_option: ClassVar[str | None] = "-m"
    # Model names in Gemini CLI 0.61.0's bundle.
    models: ClassVar[tuple[str, ...]] = ("gemini-3.8-flash", "gemini-3.5-flash", "gemini-3.5-flash-lite",
                                         "gemini-3.1-pro-preview", "gemini-3-pro-preview", "gemini-3-flash-preview",
                                         "gemini-2.5-pro", "gemini-2.5-flash")

    def command(self, session: Session, *, resume: bool, agent_home: Path | None = None) -> AgentCommand:
        """`agent_home` given: a resume checks that the conversation's transcript exists and otherwise
        starts the same id afresh (the CLI exits when asked to resume a conversation it never wrote)."""
        argv = ["gemini"]
        if session.skip_permissions:
            argv.append("--yolo")
        argv += self.model_argv(session)
        session_id = session.agent_session_id
        can_resume = resume and (agent_home is None or bool(self.find_transcripts(agent_home, session_id)))
        if can_resume:
            argv += ["--resume", session_id or "latest"]
        elif session_id:
            argv += ["--session-id", session_id]
        if session.initial_prompt and not resume:
            argv.append(f"--prompt-interactive={session.initial_prompt}")
        return AgentCommand(argv, dict(GEMINI_ENV))

    def print_command(self, session: Session) -> AgentCommand | None:
        """`gemini -p --output-format json`: one pretty-printed JSON object (on stderr when the run failed)."""
        argv = ["gemini", "--yolo", "--output-format", "json", *self.model_argv(session)]
        if session.agent_session_id:
            argv += ["--session-id", session.agent_session_id]
        # `--prompt=<text>`: one argv element, so a prompt starting with "-" stays the prompt.
        return AgentCommand([*argv, f"--prompt={session.initial_prompt}"], dict(GEMINI_ENV))

    def print_outcome(self, stdout: str, stderr: str) -> PrintOutcome | None:
        """`response` of the object on stdout; else the `error` object it printed on stderr."""
        answer = last_json_object(stdout)
        if answer is not None and isinstance(answer.get("response"), str) and "error" not in answer:
            return PrintOutcome(answer["response"])
        failure = answer if answer is not None and "error" in answer else last_json_object(stderr)
        if failure is None or "error" not in failure:
            return None
        error = table(failure.get("error"))
        return PrintOutcome(str(error.get("message") or failure["error"]), failed=True)

    def new_conversation_id(self) -> str | None:
        """A uuid4, passed as `--session-id`."""
        return str(uuid.uuid4())

    def write_config(self, agent_home: Path, session: Session, *, placeholder_key: str, workspace: str = "/workspace",
                     oauth: bool = False, oauth_file: str | None = None) -> list[Path]:
        """`~/.gemini/settings.json` (the key itself comes from `GEMINI_API_KEY`)."""
        settings = read_json_object(agent_home / ".gemini" / "settings.json", log)
        return [write_agent_file(agent_home, ".gemini/settings.json",
                                 json.dumps(gemini_settings(settings), indent=2) + "\n")]

    def placeholder_env(self, placeholder: str, *, oauth: bool = False) -> dict[str, str]:
        """`GEMINI_API_KEY`."""
        return {"GEMINI_API_KEY": placeholder}

    def find_transcripts(self, agent_home: Path, conversation_id: str | None = None) -> list[Path]:
        """The CLI names a transcript by the first 8 characters of its conversation id. A conversation's first
        file is the one it goes on in: the later ones a resumed start leaves beside it are left out."""
        found = super().find_transcripts(agent_home, conversation_id[:8] if conversation_id else None)
        first: dict[tuple[Path, str], Path] = {}
        for path in sorted(found, key=lambda p: p.name, reverse=True):  # the name starts with the minute
            first[path.parent, path.stem[-8:]] = path
        kept = set(first.values())
        return [path for path in found if path in kept]

    def install_hooks(self, agent_home: Path, *, home_in_agent: str) -> list[Path]:
        """`~/.clauderon/gemini-hook.sh` and a hook per status event in `~/.gemini/settings.json`."""
        settings = read_json_object(agent_home / ".gemini" / "settings.json", log)
        return [write_agent_file(agent_home, GEMINI_HOOK_SCRIPT, GEMINI_HOOK_SH, mode=0o700),
                write_agent_file(agent_home, ".gemini/settings.json",
                                 json.dumps(gemini_hooks_config(settings), indent=2) + "\n")]

    def hook_status(self, event: str, payload: dict[str, Any], context: HookContext) -> StatusChange | None:
        """A hook event (the path names it; the payload's `hook_event_name` must agree)."""
        if event not in _CLI_EVENTS:
            raise HookRejected(404, f"the Gemini CLI has no {event} hook")
        named = payload.get("hook_event_name")
        if named is not None and named != event:
            raise HookRejected(400, f"path names {event} but the payload is {named}")
        if event == "BeforeTool" and isinstance(payload.get("tool_name"), str):
            detail: dict[str, Any] = {"tool": payload["tool_name"]}
            if "tool_input" in payload:
                detail["input"] = payload["tool_input"]
            context.remember_tool(detail)
            return StatusChange(AgentStatus.WORKING, {"tool": payload["tool_name"]})
        if event == "AfterAgent":
            path = payload.get("transcript_path")
            question = context.last_assistant_message(path, self.parse_transcript_line) \
                if isinstance(path, str) and path else None
            if not question:
                response = payload.get("prompt_response")
                question = response if isinstance(response, str) and response.strip() else None
            return StatusChange(AgentStatus.WAITING_INPUT, {"question": clip(question)} if question else None)
        if event == "Notification":
            return map_gemini_notification(payload, context.last_tool())
        return map_gemini_event(event, payload)

    def parse_transcript_line(self, entry: dict[str, Any]) -> list[Message]:
        """The messages in one transcript line (none for metadata and `$set` lines)."""
        return parse_gemini_line(entry)


# -- agent home ----------------------------------------------------------------------------------------


def gemini_settings(existing: dict[str, Any]) -> dict[str, Any]:
    """`existing` settings with clauderon's first-run answers laid over them (two levels deep)."""
    settings = dict(existing)
    for section, values in GEMINI_SETTINGS.items():
        merged = table(settings.get(section))
        for key, value in values.items():
            merged[key] = {**table(merged.get(key)), **value} if isinstance(value, dict) else value
        settings[section] = merged
    return settings


def gemini_hooks_config(existing: dict[str, Any]) -> dict[str, Any]:
    """`existing` settings with clauderon's hook on every status event (the user's hooks kept)."""
    settings = dict(existing)
    hooks = dict(table(settings.get("hooks")))
    for event in GEMINI_HOOK_EVENTS:
        kept = [group for group in items(hooks.get(event)) if not _is_ours(group)]
        # $HOME, not /home/agent: the same settings serve a local session, whose HOME is the host path.
        command = f'bash "$HOME/{GEMINI_HOOK_SCRIPT}" {event}'
        ours: dict[str, Any] = {"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_MS}]}
        if event in ("BeforeTool", "AfterTool"):
            ours = {"matcher": "*", **ours}
        hooks[event] = [*kept, ours]
    settings["hooks"] = hooks
    return settings


def _is_ours(group: Any) -> bool:
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        return False
    return any(isinstance(h, dict) and _MARKER in str(h.get("command", "")) for h in group["hooks"])


# -- hook events -------------------------------------------------------------------------------------


def map_gemini_event(event: str, payload: dict[str, Any]) -> StatusChange | None:
    """The status a hook event without session context means (all but `AfterAgent`'s question and a
    `Notification`'s tool), or None for one that says nothing about it."""
    if event in _WORKING_EVENTS:
        return StatusChange(AgentStatus.WORKING)
    if event == "SessionStart":
        return StatusChange(AgentStatus.IDLE)
    if event == "SessionEnd":
        ended = payload.get("reason")
        return StatusChange(AgentStatus.EXITED, {"reason": ended} if isinstance(ended, str) else None)
    return None


def map_gemini_notification(payload: dict[str, Any], last_tool: dict[str, Any] | None) -> StatusChange | None:
    """`ToolPermission`: the CLI waits for the user to approve a tool call (the last `BeforeTool`'s)."""
    if payload.get("notification_type") != "ToolPermission":
        return None
    message = payload.get("message")
    detail = dict(last_tool or {})
    if isinstance(message, str) and message:
        detail["message"] = clip(message)
    return StatusChange(AgentStatus.NEEDS_PERMISSION, detail or None)


# -- transcript lines --------------------------------------------------------------------------------


def parse_gemini_line(entry: dict[str, Any]) -> list[Message]:
    """The messages in one transcript line (none for metadata and `$set` lines)."""
    kind, stamp = entry.get("type"), entry.get("timestamp")
    if kind == "user":
        return _user(entry["content"], stamp)
    if kind == "gemini":
        return _gemini(entry, stamp)
    if kind == "error":
        return [Message("error", _text(entry.get("content")) or "error", timestamp=stamp)]
    return []  # metadata, `$set`, info, warning


def _user(content: Any, stamp: str | None) -> list[Message]:
    if isinstance(content, str):
        content = [{"text": content}]
    messages: list[Message] = []
    texts: list[str] = []
    for part in items(content):
        if not isinstance(part, dict):
            raise TypeError("content part is not an object")
        if isinstance(part.get("functionResponse"), dict):
            response = part["functionResponse"]
            body = table(response.get("response"))
            failed = "error" in body
            text = body.get("error") if failed else body.get("output", body)
            messages.append(Message("tool_result", text if isinstance(text, str) else json.dumps(text),
                                    call_id=response.get("id"), is_error=failed, timestamp=stamp))
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    text = "\n".join(texts)
    if text and not text.lstrip().startswith(_CONTEXT_PREFIX):
        messages.insert(0, Message("user", text, timestamp=stamp))
    return messages


def _gemini(entry: dict[str, Any], stamp: str | None) -> list[Message]:
    calls = items(entry.get("toolCalls"))
    if calls:
        # The second write of a message: its text and thoughts came with the first.
        return [Message("tool_call", tool=call.get("name"), input=call.get("args"), call_id=call.get("id"),
                        timestamp=stamp) for call in calls if isinstance(call, dict)]
    messages = [Message("thinking", _thought(t), timestamp=stamp) for t in items(entry.get("thoughts"))
                if _thought(t)]
    text = _text(entry.get("content"))
    if text:
        messages.append(Message("assistant", text, timestamp=stamp))
    return messages


def _thought(thought: Any) -> str:
    if not isinstance(thought, dict):
        return str(thought or "")
    return "\n".join(str(thought[k]) for k in ("subject", "description") if thought.get(k))


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return str(content)


__all__ = ["GEMINI_ENV", "GEMINI_HOOK_EVENTS", "GEMINI_HOOK_SCRIPT", "GEMINI_HOOK_SH", "GEMINI_SETTINGS",
           "GeminiAgent", "gemini_hooks_config", "gemini_settings", "map_gemini_event", "map_gemini_notification",
           "parse_gemini_line"]
