"""Codex's rollout lines (`~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`) as `Message`s.

Checked on Codex 0.171.0 (sample: `tests/samples/codex_rollout.jsonl`). Each line is
`{"timestamp", "type", "payload"}`. The conversation is in `response_item` lines (the Responses API
items): `message` (role `user` / `assistant`; `developer` messages and the `<environment_context>`
user message are Codex's own context), `reasoning` (summary text), `function_call` / `custom_tool_call`
/ `local_shell_call` paired by `call_id` with `function_call_output` / `custom_tool_call_output`.
`event_msg` lines repeat the same items for the UI (`item_completed`, `task_complete`) and are skipped,
except `error` / `stream_error`. `session_meta`, `turn_context`, `world_state`, `token_usage_record`:
bookkeeping, skipped.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from runtime.agents.transcripts import Message

# Codex's own context, sent as user messages.
_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "<permissions instructions>", "# AGENTS.md")
_EXIT_CODE_RE = re.compile(r'"exit_code"\s*:\s*(-?\d+)|Process exited with code (-?\d+)|Exit code: (-?\d+)')


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
    return bool(match) and int(next(g for g in match.groups() if g is not None)) != 0


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


def read_new_entries(path: Path, offset: int | None, *, first_look: int = 256 * 1024) -> tuple[list[dict[str, Any]], int]:
    """The whole JSON-object lines appended to a rollout since `offset`, and the offset to go on from.

    `offset=None` (first look) starts `first_look` bytes before the end, at a line start, so a huge
    rollout is not read whole. Malformed lines are skipped; a line still being written waits.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if offset is None:
            offset = max(0, size - first_look)
            if offset:
                handle.seek(offset - 1)
                skipped = handle.readline()  # the rest of a line cut by the start point
                offset += len(skipped) - 1
        if offset >= size:
            return [], min(offset, size)
        handle.seek(offset)
        data = handle.read(size - offset)
    whole = data[: data.rfind(b"\n") + 1]
    entries = []
    for line in whole.split(b"\n"):
        try:
            entry = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries, offset + len(whole)


__all__ = ["parse_codex_line", "codex_turn_state", "read_new_entries"]
