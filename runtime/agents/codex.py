"""Codex: its command line, agent-home setup, notify hook, rollout format and model traffic.

Checked against Codex 0.171.0 (the CLI from its npm package, run under a pty against fake upstreams):

- `codex resume --last` continues the most recent conversation in this CODEX_HOME and cwd, and simply
  starts a fresh one when there is none. Codex picks its own thread id.
- `-m <model>` picks the model (the Responses request body's `model`); given before `resume` it holds for
  the resumed conversation too.
- Codex refuses to start when `CODEX_HOME` does not exist; `write_config` creates it. Without the files it
  writes Codex shows a sign-in screen and a folder-trust question. Its TUI ignores OPENAI_API_KEY and reads
  `~/.codex/auth.json`.
- Status: `~/.codex/config.toml` gets `notify = ["bash", "<home>/.clauderon/codex-notify.sh"]`; Codex runs
  it with one JSON argument when a turn completes, and the script POSTs it to
  `https://clauderon.internal/hooks/codex/notify`. Codex has no hook for a turn starting: the engine follows
  the rollout for that (`follows_turns`, `turn_state`).

Rollout lines (`~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`, sample:
`tests/samples/codex_rollout.jsonl`) are `{"timestamp", "type", "payload"}`. The conversation is in
`response_item` lines (the Responses API items): `message` (role `user` / `assistant`; `developer` messages
and the `<environment_context>` user message are Codex's own context), `reasoning` (summary text),
`function_call` / `custom_tool_call` / `local_shell_call` paired by `call_id` with `function_call_output` /
`custom_tool_call_output`. `event_msg` lines repeat the same items for the UI (`item_completed`,
`task_complete`) and are skipped, except `error` / `stream_error`. `session_meta`, `turn_context`,
`world_state`, `token_usage_record`: bookkeeping, skipped.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import tomli_w

import proxy
from proxy import AgentTraffic, ModelCredential
from runtime.agents.base import (
    HOOKS_URL,
    Agent,
    AgentCommand,
    HookContext,
    HookRejected,
    PrintOutcome,
    StatusChange,
    TurnState,
    clip,
    hook_post,
    json_lines,
    read_toml,
    table,
    trusted_dirs,
)
from runtime.agents.home import CONTAINER_HOME, write_agent_file
from runtime.agents.transcripts import Message, TranscriptLocation
from runtime.backends.registry import capabilities_of
from runtime.models import AgentStatus, Session

if TYPE_CHECKING:
    from proxy import CredentialStore

log = logging.getLogger(__name__)

CODEX_NOTIFY_SCRIPT = ".clauderon/codex-notify.sh"
CODEX_NOTIFY_SH = f"""#!/bin/bash
# Written by clauderon: Codex runs this with one JSON argument when a turn completes; it is passed on
# to the clauderon engine through the session's proxy. Prints nothing, waits at most 2 s, exits 0.
[ -n "${{1:-}}" ] || exit 0
printf '%s' "$1" | {hook_post(HOOKS_URL + "/codex/notify")}
exit 0
"""
_CONFIG_HEADER = "# Written by clauderon for this session; merged again when the session starts.\n"

# Codex's own context, sent as user messages.
_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "<permissions instructions>", "# AGENTS.md")
_EXIT_CODE_RE = re.compile(r'"exit_code"\s*:\s*(-?\d+)|Process exited with code (-?\d+)|Exit code: (-?\d+)')


class CodexAgent(Agent):
    """OpenAI Codex (`codex`)."""

    name: ClassVar[str] = "codex"
    label: ClassVar[str] = "OpenAI Codex"
    npm_packages: ClassVar[tuple[str, ...]] = ("@openai/codex",)
    entry_point: ClassVar[str | None] = "node_modules/@openai/codex/bin/codex.js"
    traffic: ClassVar[AgentTraffic] = AgentTraffic(
        model_hosts=("api.openai.com", "chatgpt.com", "*.chatgpt.com", "auth.openai.com"),
        # The last: the ChatGPT sign-in's token refresh (the proxy swaps its tokens, `proxy.rules.TOKEN_ENDPOINTS`).
        model_calls=(("POST", "api.openai.com", "/v1/responses"),
                     ("POST", "chatgpt.com", "/backend-api/codex/responses"),
                     ("POST", "auth.openai.com", "/oauth/token")),
        # With OAuth Codex reads `auth.json` (no variable); the API key's variable is set for tools in the
        # sandbox, while Codex itself reads the key from `auth.json` too.
        model_credentials=(ModelCredential("codex_oauth"), ModelCredential("openai_api_key", "OPENAI_API_KEY")),
        error_shape="openai",
    )
    transcript: ClassVar[TranscriptLocation | None] = TranscriptLocation(
        ".codex/sessions", "rollout-*.jsonl", "rollout-*-{id}.jsonl")
    hook_events: ClassVar[str | None] = "/hooks/codex/notify"
    follows_turns: ClassVar[bool] = True
    image_option: ClassVar[str | None] = "-i"
    pastes_images_apart: ClassVar[bool] = True
    model_option: ClassVar[str | None] = "-m"
    # The slugs in Codex 0.171.0's bundled model list.
    models: ClassVar[tuple[str, ...]] = ("gpt-5.5", "gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna", "gpt-6-sol",
                                         "gpt-6.1-sol", "gpt-6.2-sol", "gpt-6.2-astra")

    def command(self, session: Session, *, resume: bool, agent_home: Path | None = None) -> AgentCommand:
        """`codex --no-daemon`, resuming with `resume --last`."""
        # --no-daemon: one process, no shared background app-server left in the container; it is the
        # mode the tests exercise.
        argv = ["codex", "--no-daemon"]
        if session.skip_permissions:
            argv.append("--dangerously-bypass-approvals-and-sandbox")
        else:
            # The container is the sandbox: Codex's own (bubblewrap) sandbox cannot nest in it, so
            # commands run unsandboxed inside it and the model asks for approval when it sees fit.
            argv += ["--sandbox", "danger-full-access", "--ask-for-approval", "on-request"]
        argv += self.model_argv(session)
        if resume:
            argv += ["resume", "--last"]
        elif session.initial_prompt:
            # A pasted image path stays text in Codex's composer: images at create go on its command line.
            for image in session.initial_images:
                argv += [self.image_option or "-i", image]
            argv += ["--", session.initial_prompt]
        return AgentCommand(argv, codex_env(session))

    def print_command(self, session: Session) -> AgentCommand | None:
        """`codex exec --json`: one JSON event a line on stdout (its log goes to stderr)."""
        argv = ["codex", "exec", "--json", "--dangerously-bypass-approvals-and-sandbox", *self.model_argv(session),
                "--", session.initial_prompt]
        return AgentCommand(argv, codex_env(session))

    def print_outcome(self, stdout: str, stderr: str) -> PrintOutcome | None:
        """The last `agent_message` item; a `turn.failed` or `error` event after it makes the run failed."""
        outcome: PrintOutcome | None = None
        for event in json_lines(stdout):
            item = table(event.get("item"))
            if event.get("type") == "item.completed" and item.get("type") == "agent_message":
                outcome = PrintOutcome(str(item.get("text") or ""))
            elif event.get("type") in ("turn.failed", "error"):
                error = table(event.get("error")).get("message") or event.get("message") or "the turn failed"
                outcome = PrintOutcome(str(error), failed=True)
        return outcome

    def write_config(self, agent_home: Path, session: Session, *, placeholder_key: str, workspace: str = "/workspace",
                     oauth: bool = False, oauth_file: str | None = None) -> list[Path]:
        """`~/.codex/config.toml` and `~/.codex/auth.json` (the API key's, or `oauth_file` with OAuth)."""
        trusted = trusted_dirs(workspace, session.subdir)
        if oauth and oauth_file is not None:
            json.loads(oauth_file)  # fail here, before writing anything, not inside the container
        written = [write_codex_config(agent_home, trusted, skip_permissions=session.skip_permissions)]
        if oauth:
            if oauth_file is not None:
                written.append(write_agent_file(agent_home, ".codex/auth.json", oauth_file))
        else:
            written.append(write_agent_file(agent_home, ".codex/auth.json", codex_api_key_auth(placeholder_key)))
        return written

    def oauth_file(self, credentials: CredentialStore) -> str | None:
        """`auth.json` with placeholder tokens (`dummy_codex_auth_json`)."""
        return dummy_codex_auth_json(credentials)

    def install_hooks(self, agent_home: Path, *, home_in_agent: str) -> list[Path]:
        """The notify script and `notify` in `~/.codex/config.toml`."""
        return [write_agent_file(agent_home, CODEX_NOTIFY_SCRIPT, CODEX_NOTIFY_SH, mode=0o700),
                write_codex_notify(agent_home, f"{home_in_agent}/{CODEX_NOTIFY_SCRIPT}")]

    def hook_status(self, event: str, payload: dict[str, Any], context: HookContext) -> StatusChange | None:
        """The notify program's argument; side threads (no rollout of their own) say nothing."""
        if event != "notify":
            raise HookRejected(404, "expected /hooks/codex/notify")
        thread = payload.get("thread-id")
        if isinstance(thread, str):
            # Codex also notifies for its own side turns (the session-title request, on a thread of its
            # own that leaves no rollout file); those say nothing about the conversation.
            rollouts = context.transcripts(self.find_transcripts)
            if rollouts and not any(p.name.endswith(f"-{thread}.jsonl") for p in rollouts):
                return None
        return map_codex_notify(payload)

    def parse_transcript_line(self, entry: dict[str, Any]) -> list[Message]:
        """The messages in one rollout line (none for bookkeeping lines)."""
        return parse_codex_line(entry)

    def turn_state(self, entries: list[dict[str, Any]]) -> TurnState | None:
        """From `task_started` / `task_complete` / `turn_aborted` events."""
        return codex_turn_state(entries)


def codex_env(session: Session) -> dict[str, str]:
    """In a sandbox HOME is CONTAINER_HOME; a local session's HOME is the host agent home and Codex's default
    ($HOME/.codex) already points there."""
    if capabilities_of(session.backend).sandboxed:
        return {"CODEX_HOME": f"{CONTAINER_HOME}/.codex"}
    return {}


# -- agent home ----------------------------------------------------------------------------------------


def codex_config(existing: dict[str, Any], trusted: list[str], *, skip_permissions: bool) -> dict[str, Any]:
    """`existing` Codex config with clauderon's settings laid over it."""
    config = dict(existing)
    config["check_for_update_on_startup"] = False
    # Keep the (placeholder) credentials in auth.json where clauderon wrote them; a container has
    # no keyring anyway.
    config["cli_auth_credentials_store"] = "file"
    config["approval_policy"] = "never" if skip_permissions else "on-request"
    # The container is the sandbox; Codex's bubblewrap sandbox cannot nest inside it.
    config["sandbox_mode"] = "danger-full-access"
    # Features whose start-up fetches leave the API host: the plugin catalogue (github.com,
    # chatgpt.com) and model discovery (chatgpt.com, even with an API key).
    features = {"plugins": False, "api_key_model_discovery": False}
    for section, values in (("analytics", {"enabled": False}), ("feedback", {"enabled": False}),
                            ("notice", {"hide_full_access_warning": True}), ("features", features)):
        config[section] = {**table(config.get(section)), **values}
    projects = table(config.get("projects"))
    for directory in trusted:
        entry = table(projects.get(directory))
        projects[directory] = {**entry, "trust_level": "trusted"}
    config["projects"] = projects
    return config


def write_codex_config(agent_home: Path, trusted: list[str], *, skip_permissions: bool) -> Path:
    """Merge `~/.codex/config.toml` (this also creates `~/.codex`, which Codex requires to exist)."""
    existing = read_toml(agent_home / ".codex" / "config.toml", log)
    config = codex_config(existing, trusted, skip_permissions=skip_permissions)
    return write_agent_file(agent_home, ".codex/config.toml", _CONFIG_HEADER + tomli_w.dumps(config))


def codex_api_key_auth(placeholder_key: str) -> str:
    """The `auth.json` that `codex login --with-api-key` writes (Codex ignores OPENAI_API_KEY in its TUI)."""
    return json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": placeholder_key}, indent=2) + "\n"


def dummy_codex_auth_json(credentials: CredentialStore) -> str:
    """The `auth.json` a Codex container gets in the OAuth case: same shape, placeholder tokens."""
    codex = credentials.codex
    if codex is None:
        raise ValueError("the host has no Codex OAuth tokens; Codex containers use OPENAI_API_KEY instead")
    return json.dumps({
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": proxy.placeholder_jwt(codex.id_token),
            "access_token": proxy.PLACEHOLDERS["codex_access_token"],
            "refresh_token": proxy.PLACEHOLDERS["codex_refresh_token"],
            "account_id": codex.account_id,
        },
        "last_refresh": "2000-01-01T00:00:00Z",
    }, indent=2)


def write_codex_notify(agent_home: Path, script: str) -> Path:
    """Set `notify` in the agent home's `~/.codex/config.toml` (Codex has exactly one notify program)."""
    config = read_toml(agent_home / ".codex" / "config.toml", log)
    previous = config.get("notify")
    if previous and previous != ["bash", script]:
        log.info("replacing Codex notify %r with clauderon's status hook", previous)
    config["notify"] = ["bash", script]
    return write_agent_file(agent_home, ".codex/config.toml", _CONFIG_HEADER + tomli_w.dumps(config))


# -- status ------------------------------------------------------------------------------------------


def map_codex_notify(payload: dict[str, Any]) -> StatusChange | None:
    """Codex's notify program gets one JSON argument; `agent-turn-complete` means the turn is over."""
    if payload.get("type") != "agent-turn-complete":
        return None
    message = payload.get("last-assistant-message")
    return StatusChange(AgentStatus.WAITING_INPUT,
                        {"question": clip(message)} if isinstance(message, str) and message.strip() else None)


# -- rollout lines -----------------------------------------------------------------------------------

def parse_codex_line(entry: dict[str, Any]) -> list[Message]:
    """The messages in one rollout line (none for bookkeeping lines)."""
    kind, payload = entry.get("type"), entry.get("payload")
    stamp = entry.get("timestamp")
    if kind == "event_msg" and isinstance(payload, dict) and payload.get("type") in ("error", "stream_error"):
        return [Message("error", str(payload.get("message", "error")), timestamp=stamp)]
    if kind != "response_item":
        return []
    if not isinstance(payload, dict):
        raise TypeError("payload is not an object")
    item = payload.get("type")
    if item == "message":
        return _message(payload, stamp)
    if item == "reasoning":
        summary = [s.get("text", "") for s in payload.get("summary") or [] if isinstance(s, dict)]
        return [Message("thinking", "\n".join(summary), timestamp=stamp)] if any(summary) else []
    if item in ("function_call", "custom_tool_call", "local_shell_call"):
        raw = payload.get("arguments") if item == "function_call" else payload.get("input", payload.get("action"))
        return [Message("tool_call", tool=payload.get("name") or "shell", input=_maybe_json(raw),
                        call_id=payload.get("call_id"), timestamp=stamp)]
    if item in ("function_call_output", "custom_tool_call_output"):
        text = _output_text(payload.get("output"))
        return [Message("tool_result", text, call_id=payload.get("call_id"), is_error=_failed(text), timestamp=stamp)]
    return []


def _message(payload: dict[str, Any], stamp: str | None) -> list[Message]:
    role = payload.get("role")
    if role not in ("user", "assistant"):
        return []
    texts = [c.get("text", "") for c in payload["content"] if isinstance(c, dict)
             and c.get("type") in ("input_text", "output_text", "text")]
    text = "\n".join(texts)
    if role == "user" and text.lstrip().startswith(_CONTEXT_PREFIXES):
        return []
    return [Message(role, text, timestamp=stamp)]


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):  # older rollouts: {"output": "...", "metadata": {"exit_code": 0}}
        return str(output.get("output", json.dumps(output)))
    if isinstance(output, list):
        return "".join(c.get("text", "") for c in output if isinstance(c, dict))
    return "" if output is None else str(output)


def _failed(text: str) -> bool:
    """Whether a command's output reports a non-zero exit code (Codex has no is_error flag)."""
    match = _EXIT_CODE_RE.search(text)
    return match is not None and int(next(g for g in match.groups() if g is not None)) != 0


def _maybe_json(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def codex_turn_state(entries: list[dict[str, Any]]) -> tuple[str, str | None] | None:
    """From rollout lines (newest last): ("working", None) inside a turn, ("waiting-input", last reply)
    after one, None when they say neither. For Codex, which has no hook for "a turn started"."""
    for entry in reversed(entries):
        payload = entry.get("payload") if isinstance(entry, dict) else None
        if entry.get("type") != "event_msg" or not isinstance(payload, dict):
            continue
        if payload.get("type") in ("task_complete", "turn_aborted"):
            message = payload.get("last_agent_message")
            return "waiting-input", message if isinstance(message, str) else None
        if payload.get("type") == "task_started":
            return "working", None
    return None


__all__ = ["CODEX_NOTIFY_SCRIPT", "CODEX_NOTIFY_SH", "CodexAgent", "codex_api_key_auth", "codex_config", "codex_env",
           "codex_turn_state", "dummy_codex_auth_json", "map_codex_notify", "parse_codex_line",
           "write_codex_config", "write_codex_notify"]
