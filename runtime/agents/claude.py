"""Claude Code: its command line, agent-home setup, status hooks, transcript format and model traffic.

Checked against Claude Code 2.1.197 (the native binary from its npm package, run under a pty against fake
upstreams):

- `claude --session-id <uuid> "<prompt>"` starts a conversation whose transcript lands in
  `~/.claude/projects/<cwd with / as ->/<uuid>.jsonl`; `claude --resume <uuid>` continues it, but exits
  with "No conversation found" when there is no transcript (an agent started without a prompt and never
  used). `--session-id` cannot be combined with `--resume`/`--continue` (without `--fork-session`).
- `--model <name>` picks the model (an alias such as `sonnet` or a full name; the request body's `model`
  carries the full name). `--permission-mode plan` starts in plan mode, but `--dangerously-skip-permissions`
  overrides it (the session starts bypassing); `--allow-dangerously-skip-permissions --permission-mode plan`
  starts in plan with bypass one shift+tab away. Shift+tab (ESC [ Z) cycles bypass -> auto -> default ->
  accept edits -> plan; the line under the input box says which mode is on ("⏸ plan mode on (shift+tab to
  cycle)", "? for shortcuts" in the default mode). Hook payloads carry `permission_mode`.
- Without the files `write_config` writes it shows onboarding, a folder-trust question, "use this API key?"
  and (with --dangerously-skip-permissions) a bypass-permissions disclaimer. The CLI writes its own state
  into the same files (`.claude.json` especially), so existing content is merged, not replaced.
- Status hooks: `~/.claude/settings.json` gets a `hooks` entry per event that runs `~/.clauderon/hook.sh
  <Event>`; the script POSTs the hook's stdin JSON to `https://clauderon.internal/hooks/claude/<Event>`
  through the session's proxy, where `runtime.engine.hooks.HooksHandler` hands it to `hook_status`. The
  repository's own `.claude/settings.json` is left alone: it is the user's, and it would be committed.

Transcript lines (sample: `tests/samples/claude_transcript.jsonl`) are objects with a `type`:
- `user`: `message.content` is the prompt (a string or text blocks) or a list of `tool_result` blocks
  (`tool_use_id`, `content` as a string or blocks, `is_error`); `isMeta` lines are Claude Code's own
  context (slash-command caveats), not the user's words.
- `assistant`: one API message per line with `text`, `thinking` / `redacted_thinking` and `tool_use`
  (`id`, `name`, `input`) blocks; `isApiErrorMessage: true` marks an API failure shown as a reply.
- `system` with `level: "error"` (or subtype `api_error`) is an error; other subtypes (`turn_duration`,
  `stop_hook_summary`) are bookkeeping.
- `attachment`, `file-history-snapshot`, `mode`, `permission-mode`, `last-prompt`, `summary`: state,
  not conversation; skipped (and not counted as malformed).
`isSidechain: true` marks a subagent's lines.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from proxy import AgentTraffic, ModelCredential
from runtime.agents.base import (
    HOOKS_URL,
    MAX_DETAIL_CHARS,
    Agent,
    AgentCommand,
    HookContext,
    HookRejected,
    PrintOutcome,
    StatusChange,
    clip,
    hook_post,
    items,
    json_lines,
    read_json_object,
    table,
    trusted_dirs,
)
from runtime.agents.home import write_agent_file
from runtime.agents.transcripts import Message, TranscriptLocation
from runtime.models import AgentStatus, Session

log = logging.getLogger(__name__)

# The CLI otherwise phones home for updates, telemetry and error reports. In a sandbox with a
# credential-injecting proxy that is noise at best (an update would also be lost with the container).
CLAUDE_ENV = {
    # Claude Code refuses --dangerously-skip-permissions as root unless told it is in a sandbox.
    "IS_SANDBOX": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    # Otherwise every start tries to fetch the official plugin marketplace (github.com and
    # downloads.claude.ai) even with the variable above.
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}

# Claude Code remembers an approved custom API key by its last 20 characters.
API_KEY_SUFFIX_LENGTH = 20

HOOK_SCRIPT = ".clauderon/hook.sh"
# The events whose hooks say something about the agent's status (see `ClaudeAgent.hook_status`).
CLAUDE_HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
                      "PermissionRequest", "Notification", "Stop", "StopFailure", "SessionEnd")
HOOK_TIMEOUT_S = 5  # Claude Code's own limit on the hook; the script stops itself after 2 s
# How clauderon's entries are told apart from the user's when merging settings.
_MARKER = "/.clauderon/hook.sh"

CLAUDE_HOOK_SH = f"""#!/bin/bash
# Written by clauderon: sends this Claude Code hook's input (stdin) to the clauderon engine through the
# session's proxy, which sets the session's agent status. Prints nothing, waits at most 2 s, always
# exits 0, so it can never block or change what the agent does.
event="${{1:-}}"
case "$event" in ""|*[!A-Za-z0-9_-]*) cat >/dev/null; exit 0;; esac
{hook_post(HOOKS_URL + "/claude/${event}")}
exit 0
"""

# The permission modes (`--permission-mode` choices), and how the status line under the input box names them.
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions", "auto", "dontAsk")
_MODE_LINE_RE = re.compile(r"(plan mode|accept edits|bypass permissions|auto mode|don't ask) on \(shift\+tab to cycle\)"
                           r"|^\s*\? for shortcuts", re.MULTILINE)
_MODE_NAMES = {"plan mode": "plan", "accept edits": "acceptEdits", "bypass permissions": "bypassPermissions",
               "auto mode": "auto", "don't ask": "dontAsk"}
# Model names the CLI knows (its aliases and the full names in Claude Code 2.1.197), offered as suggestions.
CLAUDE_MODELS = ("opus", "sonnet", "haiku", "fable", "claude-opus-4-8", "claude-sonnet-5", "claude-fable-5",
                 "claude-haiku-4-5", "claude-opus-4-7", "claude-sonnet-4-6")

# Events that only mean "the agent is busy". PostToolUseFailure is a failed tool call the model sees
# and reacts to, not an agent error; PermissionDenied (auto mode) lets the model carry on.
_WORKING_EVENTS = frozenset({
    "UserPromptSubmit", "UserPromptExpansion", "PreToolUse", "PostToolUse", "PostToolUseFailure", "PostToolBatch",
    "PermissionDenied", "SubagentStart", "SubagentStop", "PreCompact", "PostCompact",
})
# A Notification without `notification_type` (older CLIs) is recognised by its message.
_PERMISSION_MESSAGE_RE = re.compile(r"\bpermission\b", re.IGNORECASE)


class ClaudeAgent(Agent):
    """Claude Code (`claude`)."""

    name: ClassVar[str] = "claude"
    label: ClassVar[str] = "Claude Code"
    npm_packages: ClassVar[tuple[str, ...]] = ("@anthropic-ai/claude-code",)
    entry_point: ClassVar[str | None] = "node_modules/@anthropic-ai/claude-code/bin/claude.exe"
    traffic: ClassVar[AgentTraffic] = AgentTraffic(
        model_hosts=("api.anthropic.com",),
        model_calls=(("POST", "api.anthropic.com", "/v1/messages"),),
        # Claude Code sends `CLAUDE_CODE_OAUTH_TOKEN` as `Authorization: Bearer` (with the
        # `oauth-2025-04-20` beta) and `ANTHROPIC_API_KEY` as `x-api-key`.
        model_credentials=(ModelCredential("anthropic_oauth_token", "CLAUDE_CODE_OAUTH_TOKEN"),
                           ModelCredential("anthropic_api_key", "ANTHROPIC_API_KEY")),
        error_shape="anthropic",
    )
    transcript: ClassVar[TranscriptLocation | None] = TranscriptLocation(
        ".claude/projects", "*.jsonl", "{id}.jsonl", depth=1)
    hook_events: ClassVar[str | None] = "/hooks/claude/<Event>"
    model_option: ClassVar[str | None] = "--model"
    models: ClassVar[tuple[str, ...]] = CLAUDE_MODELS
    takes_plan_mode: ClassVar[bool] = True
    supports_mode_cycle: ClassVar[bool] = True

    def command(self, session: Session, *, resume: bool, agent_home: Path | None = None) -> AgentCommand:
        """`agent_home` given: a resume checks that a transcript exists and otherwise starts the same
        conversation id afresh (resuming a conversation that was never written makes Claude Code exit)."""
        argv = ["claude"]
        if session.plan_mode:
            # --dangerously-skip-permissions would win over plan; this keeps bypass in the shift+tab cycle.
            argv += ["--permission-mode", "plan"]
            if session.skip_permissions:
                argv.append("--allow-dangerously-skip-permissions")
        elif session.skip_permissions:
            argv.append("--dangerously-skip-permissions")
        argv += self.model_argv(session)
        session_id = session.agent_session_id
        can_resume = resume and (agent_home is None or claude_transcript_exists(agent_home, session_id))
        if can_resume:
            argv += ["--resume", session_id] if session_id else ["--continue"]
        elif session_id:
            argv += ["--session-id", session_id]
        if session.initial_prompt and not resume:
            # "--" so a prompt that starts with "-" is not taken for an option.
            argv += ["--", session.initial_prompt]
        return AgentCommand(argv, dict(CLAUDE_ENV))

    def print_command(self, session: Session) -> AgentCommand | None:
        """`claude -p --output-format json`: one JSON object on stdout when the run ends."""
        argv = ["claude", "-p", "--output-format", "json", "--dangerously-skip-permissions", *self.model_argv(session)]
        if session.agent_session_id:
            argv += ["--session-id", session.agent_session_id]
        return AgentCommand([*argv, "--", session.initial_prompt], dict(CLAUDE_ENV))

    def print_outcome(self, stdout: str, stderr: str) -> PrintOutcome | None:
        """The last `{"type": "result"}` object: its `result` (on an API error, the error text), `is_error`."""
        results = [o for o in json_lines(stdout) if o.get("type") == "result"]
        if not results:
            return None
        last = results[-1]
        text = last.get("result")
        failed = bool(last.get("is_error")) or last.get("subtype", "success") != "success"
        if not isinstance(text, str) or not text:
            text = " ".join(str(e) for e in items(last.get("errors"))) or str(last.get("subtype") or "")
        return PrintOutcome(text, failed)

    def new_conversation_id(self) -> str | None:
        """A uuid4, passed as `--session-id`."""
        return str(uuid.uuid4())

    def write_config(self, agent_home: Path, session: Session, *, placeholder_key: str, workspace: str = "/workspace",
                     oauth: bool = False, oauth_file: str | None = None) -> list[Path]:
        """`~/.claude.json` (onboarding, trust, the key approved) and `~/.claude/settings.json`."""
        trusted = trusted_dirs(workspace, session.subdir)
        return [write_claude_state(agent_home, trusted, placeholder_key=None if oauth else placeholder_key),
                write_claude_settings(agent_home, skip_permissions=session.skip_permissions)]

    def placeholder_env(self, placeholder: str, *, oauth: bool = False) -> dict[str, str]:
        """`CLAUDE_CODE_OAUTH_TOKEN` with OAuth, else `ANTHROPIC_API_KEY`."""
        return {"CLAUDE_CODE_OAUTH_TOKEN" if oauth else "ANTHROPIC_API_KEY": placeholder}

    def install_hooks(self, agent_home: Path, *, home_in_agent: str) -> list[Path]:
        """`~/.clauderon/hook.sh` and a hook per status event in `~/.claude/settings.json`."""
        return [write_agent_file(agent_home, HOOK_SCRIPT, CLAUDE_HOOK_SH, mode=0o700), write_claude_hooks(agent_home)]

    def hook_status(self, event: str, payload: dict[str, Any], context: HookContext) -> StatusChange | None:
        """A hook event (the path names it; the payload's `hook_event_name` must agree)."""
        named = payload.get("hook_event_name")
        if named is not None and named != event:
            raise HookRejected(400, f"path names {event} but the payload is {named}")
        if event in ("PreToolUse", "PermissionRequest"):
            detail = tool_detail(payload)
            if detail:
                context.remember_tool(detail)
        change = map_claude_event(event, payload, last_tool=context.last_tool(),
                                  question_from_transcript=lambda path: context.last_assistant_message(
                                      path, self.parse_transcript_line))
        mode = payload.get("permission_mode")
        if change is not None and mode in PERMISSION_MODES:
            change = StatusChange(change.agent_status, change.detail, permission_mode=str(mode))
        return change

    def mode_on_screen(self, screen: str) -> str | None:
        """The mode the line under the input box names; the lowest such line wins (the status line is
        below anything the conversation printed)."""
        found = _MODE_LINE_RE.findall(screen)
        if not found:
            return None
        return _MODE_NAMES.get(found[-1], "default")

    def parse_transcript_line(self, entry: dict[str, Any]) -> list[Message]:
        """The messages in one transcript line (none for bookkeeping lines)."""
        return parse_claude_line(entry)


def claude_transcript_exists(agent_home: Path, session_id: str | None) -> bool:
    """Whether Claude Code wrote a transcript for `session_id` (any project dir) in this agent home."""
    projects = agent_home / ".claude" / "projects"
    if not projects.is_dir():
        return False
    if session_id is None:
        return any(projects.glob("*/*.jsonl"))
    return any(projects.glob(f"*/{session_id}.jsonl"))


# -- agent home ----------------------------------------------------------------------------------------


def write_claude_state(agent_home: Path, trusted: list[str], *, placeholder_key: str | None) -> Path:
    """Merge the first-run answers into `~/.claude.json`: onboarding done, folders trusted, key approved."""
    state = read_json_object(agent_home / ".claude.json", log)
    state["hasCompletedOnboarding"] = True
    projects = table(state.get("projects"))
    for directory in trusted:
        entry = table(projects.get(directory))
        entry["hasTrustDialogAccepted"] = True
        # Otherwise the first start in a project shows its "tips for this project" onboarding.
        entry.setdefault("hasCompletedProjectOnboarding", True)
        projects[directory] = entry
    state["projects"] = projects
    if placeholder_key:
        responses = state.get("customApiKeyResponses")
        if not isinstance(responses, dict):
            responses = {}
        approved = [k for k in responses.get("approved", []) if isinstance(k, str)]
        suffix = placeholder_key[-API_KEY_SUFFIX_LENGTH:]
        if suffix not in approved:
            approved.append(suffix)
        responses["approved"] = approved
        responses.setdefault("rejected", [])
        state["customApiKeyResponses"] = responses
    return write_agent_file(agent_home, ".claude.json", json.dumps(state, indent=2) + "\n")


def write_claude_settings(agent_home: Path, *, skip_permissions: bool) -> Path:
    """Merge `~/.claude/settings.json`: no auto-update or telemetry, and the bypass disclaimer accepted.

    The disclaimer is shown on every start with --dangerously-skip-permissions until
    `skipDangerousModePermissionPrompt` is set, so it is set exactly for sessions that use the flag.
    """
    settings = read_json_object(agent_home / ".claude" / "settings.json", log)
    env = table(settings.get("env"))
    # The same variables are in the process environment; here they also hold for anything Claude
    # Code starts with a clean environment (hooks, a `claude` typed in its own shell).
    env.update({k: v for k, v in CLAUDE_ENV.items() if k != "IS_SANDBOX"})
    settings["env"] = env
    if skip_permissions:
        settings["skipDangerousModePermissionPrompt"] = True
    return write_agent_file(agent_home, ".claude/settings.json", json.dumps(settings, indent=2) + "\n")


def claude_hooks_config(existing: dict[str, Any]) -> dict[str, Any]:
    """`existing` settings with clauderon's hook on every status event (the user's hooks kept)."""
    settings = dict(existing)
    hooks = table(settings.get("hooks"))
    hooks = dict(hooks)
    for event in CLAUDE_HOOK_EVENTS:
        groups = items(hooks.get(event))
        kept = [group for group in groups if not _is_ours(group)]
        # $HOME, not /home/agent: the same settings serve a local session, whose HOME is the host path.
        command = f'bash "$HOME/{HOOK_SCRIPT}" {event}'
        ours: dict[str, Any] = {"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}]}
        if event in ("PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"):
            ours = {"matcher": "*", **ours}
        hooks[event] = [*kept, ours]
    settings["hooks"] = hooks
    return settings


def write_claude_hooks(agent_home: Path) -> Path:
    """Merge clauderon's hooks into the agent home's `~/.claude/settings.json`."""
    existing = read_json_object(agent_home / ".claude" / "settings.json", log)
    return write_agent_file(agent_home, ".claude/settings.json",
                            json.dumps(claude_hooks_config(existing), indent=2) + "\n")


def _is_ours(group: Any) -> bool:
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        return False
    return any(isinstance(h, dict) and _MARKER in str(h.get("command", "")) for h in group["hooks"])


# -- hook events -------------------------------------------------------------------------------------


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
        return StatusChange(AgentStatus.NEEDS_PERMISSION, tool_detail(payload) or dict(last_tool or {}) or None)
    if event == "Notification":
        return _map_notification(payload, last_tool)
    if event == "Stop":
        question: str | None = payload.get("last_assistant_message")
        if not isinstance(question, str) or not question.strip():
            path = payload.get("transcript_path")
            question = question_from_transcript(path) if question_from_transcript and isinstance(path, str) else None
        return StatusChange(AgentStatus.WAITING_INPUT, {"question": clip(question)} if question else None)
    if event == "StopFailure":
        # The turn ended on an API error (rate limit, auth, overload): the agent cannot go on by itself.
        reason = " ".join(str(p) for p in (payload.get("error"), payload.get("error_details")) if p) or "unknown error"
        return StatusChange(AgentStatus.ERROR, {"reason": clip(reason)})
    if event == "SessionEnd":
        ended = payload.get("reason")
        return StatusChange(AgentStatus.EXITED, {"reason": ended} if isinstance(ended, str) else None)
    if event == "SessionStart":
        # Started (or resumed, or cleared) and not yet given anything to do; a prompt given on the
        # command line follows at once as UserPromptSubmit.
        return StatusChange(AgentStatus.IDLE)
    return None


def _map_notification(payload: dict[str, Any], last_tool: dict[str, Any] | None) -> StatusChange | None:
    kind = payload.get("notification_type")
    message = payload["message"] if isinstance(payload.get("message"), str) else ""
    if kind == "permission_prompt" or (kind is None and _PERMISSION_MESSAGE_RE.search(message)):
        detail = {**(last_tool or {}), "message": clip(message)} if message else dict(last_tool or {})
        return StatusChange(AgentStatus.NEEDS_PERMISSION, detail or None)
    if kind == "idle_prompt" or (kind is None and "waiting for your input" in message.lower()):
        return StatusChange(AgentStatus.IDLE)
    if kind == "elicitation_dialog":
        # An MCP server asks the user a question through Claude Code.
        return StatusChange(AgentStatus.WAITING_INPUT, {"question": clip(message)} if message else None)
    return None  # auth_success, elicitation results, ...: nothing the status shows


def tool_detail(payload: dict[str, Any]) -> dict[str, Any]:
    """The tool name and (clipped) input a hook payload carries."""
    detail: dict[str, Any] = {}
    if isinstance(payload.get("tool_name"), str):
        detail["tool"] = payload["tool_name"]
    if "tool_input" in payload:
        detail["input"] = _clip_value(payload["tool_input"])
    return detail


def _clip_value(value: Any) -> Any:
    """A tool input as is when small, else its JSON cut short (a Write's whole file is not a detail)."""
    encoded = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(encoded) <= MAX_DETAIL_CHARS else encoded[:MAX_DETAIL_CHARS] + "…"


# -- transcript lines --------------------------------------------------------------------------------


def parse_claude_line(entry: dict[str, Any]) -> list[Message]:
    """The messages in one transcript line (none for bookkeeping lines)."""
    kind = entry.get("type")
    common: dict[str, Any] = {"timestamp": entry.get("timestamp"), "sidechain": bool(entry.get("isSidechain"))}
    if kind == "user":
        if entry.get("isMeta"):
            return []
        return _user(entry["message"]["content"], common)
    if kind == "assistant":
        return _assistant(entry, common)
    if kind == "system" and (entry.get("level") == "error" or entry.get("subtype") == "api_error"):
        text = entry.get("content") or entry.get("error") or entry.get("subtype") or "error"
        return [Message("error", _text(text), **common)]
    return []
def _user(content: Any, common: dict[str, Any]) -> list[Message]:
    if isinstance(content, str):
        return [Message("user", content, **common)]
    messages: list[Message] = []
    texts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            raise TypeError("content block is not an object")
        if block.get("type") == "tool_result":
            messages.append(Message("tool_result", _text(block.get("content")), call_id=block.get("tool_use_id"),
                                    is_error=bool(block.get("is_error")), **common))
        elif block.get("type") == "text":
            texts.append(block.get("text", ""))
    if texts:
        messages.insert(0, Message("user", "\n".join(texts), **common))
    return messages


def _assistant(entry: dict[str, Any], common: dict[str, Any]) -> list[Message]:
    content = entry["message"]["content"]
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    failed = bool(entry.get("isApiErrorMessage"))
    messages: list[Message] = []
    for block in content:
        if not isinstance(block, dict):
            raise TypeError("content block is not an object")
        block_type = block.get("type")
        if block_type == "text":
            messages.append(Message("error" if failed else "assistant", block.get("text", ""), **common))
        elif block_type == "thinking":
            messages.append(Message("thinking", block.get("thinking", ""), **common))
        elif block_type == "redacted_thinking":
            messages.append(Message("thinking", "(redacted)", **common))
        elif block_type in ("tool_use", "server_tool_use"):
            messages.append(Message("tool_call", tool=block.get("name"), input=block.get("input"),
                                    call_id=block.get("id"), **common))
    return messages


def _text(content: Any) -> str:
    """Tool result or error content: a string, or blocks of which the text ones are kept."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") if isinstance(b, dict) and b.get("type") == "text" else
                 f"[{b.get('type')}]" if isinstance(b, dict) else str(b) for b in content]
        return "\n".join(parts)
    return str(content)


__all__ = ["API_KEY_SUFFIX_LENGTH", "CLAUDE_ENV", "CLAUDE_HOOK_EVENTS", "CLAUDE_HOOK_SH", "CLAUDE_MODELS",
           "HOOK_SCRIPT", "PERMISSION_MODES", "ClaudeAgent",
           "claude_hooks_config", "claude_transcript_exists", "map_claude_event", "parse_claude_line", "tool_detail",
           "write_claude_hooks", "write_claude_settings", "write_claude_state"]
