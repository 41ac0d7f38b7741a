"""Claude Code's transcript lines (`~/.claude/projects/<project>/<session id>.jsonl`) as `Message`s.

Checked on Claude Code 2.1.197 (sample: `tests/samples/claude_transcript.jsonl`). Each line is an
object with a `type`:
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

from typing import Any

from runtime.agents.transcripts import Message


def parse_claude_line(entry: dict[str, Any]) -> list[Message]:
    """The messages in one transcript line (none for bookkeeping lines)."""
    kind = entry.get("type")
    common = {"timestamp": entry.get("timestamp"), "sidechain": bool(entry.get("isSidechain"))}
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


__all__ = ["parse_claude_line"]
