"""A fake Anthropic API for the real Claude Code CLI: `POST /v1/messages` (SSE or JSON) and its start-up probes.

Claude Code sends two kinds of model calls: the conversation itself (it carries the tool list) and
small side calls (a session title, a quota probe) without tools. Scripted replies go to conversation
calls in order; side calls, and conversation calls once the script runs dry, get `default_reply`.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import FakeUpstream, RecordedRequest, Sse, write_sse

DEFAULT_MODEL = "claude-sonnet-4-5"


@dataclass(frozen=True)
class TextReply:
    """An assistant message made of one text block."""

    text: str


@dataclass(frozen=True)
class ToolUseReply:
    """An assistant message calling one tool (e.g. `Bash` with `{"command": "ls"}`), optionally after some text."""

    name: str
    input: dict[str, Any]
    text: str = ""
    tool_use_id: str = ""


@dataclass(frozen=True)
class ErrorReply:
    """An API error instead of a message (400 `invalid_request_error` is one the CLI does not retry)."""

    message: str
    status: int = 400
    kind: str = "invalid_request_error"


Reply = TextReply | ToolUseReply | ErrorReply


class FakeAnthropic(FakeUpstream):
    """The fake Anthropic API. `script(...)` queues replies; `requests` records everything received."""

    def __init__(self, default_reply: str = "Hello from the fake Anthropic API.") -> None:
        self.default_reply = default_reply
        self._script: deque[Reply] = deque()
        self._script_lock = threading.Lock()
        self._ids = itertools.count(1)
        super().__init__()

    # -- scripting --------------------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next conversation calls (a plain string is a `TextReply`)."""
        with self._script_lock:
            self._script.extend(TextReply(r) if isinstance(r, str) else r for r in replies)

    def script_tool_then_text(self, command: str, text: str) -> None:
        """Queue "run this Bash command", then (after the tool result comes back) `text`."""
        self.script(ToolUseReply("Bash", {"command": command, "description": "Run the scripted command"}),
                    TextReply(text))

    def pending(self) -> int:
        """How many scripted replies are still waiting."""
        with self._script_lock:
            return len(self._script)

    def conversation_requests(self) -> list[RecordedRequest]:
        """The model calls that carried the tool list (the agent's turns, not side calls)."""
        return [r for r in self.requests_to("/v1/messages") if is_conversation_call(r.json)]

    # -- routes -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/api/hello", self._hello)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if is_conversation_call(body):
            with self._script_lock:
                if self._script:
                    return self._script.popleft()
        return TextReply(self.default_reply)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "invalid_request_error", "body is not JSON")
        if not isinstance(body, dict) or "messages" not in body:
            return _error(400, "invalid_request_error", "messages: field required")
        reply = self._next_reply(body)
        if isinstance(reply, ErrorReply):
            return _error(reply.status, reply.kind, reply.message)
        model = str(body.get("model") or DEFAULT_MODEL)
        message = self._message(reply, model)
        if body.get("stream"):
            return await write_sse(request, message_events(message))
        return web.json_response(message)

    def _message(self, reply: TextReply | ToolUseReply, model: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if isinstance(reply, TextReply):
            content.append({"type": "text", "text": reply.text})
            stop = "end_turn"
        else:
            if reply.text:
                content.append({"type": "text", "text": reply.text})
            content.append({"type": "tool_use", "id": reply.tool_use_id or self._new_id("toolu"),
                            "name": reply.name, "input": reply.input})
            stop = "tool_use"
        return {
            "id": self._new_id("msg"), "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 8, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0},
        }

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    async def _count_tokens(self, request: web.Request) -> web.Response:
        return web.json_response({"input_tokens": max(1, len(await request.read()) // 4)})

    async def _models(self, request: web.Request) -> web.Response:
        models = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                  for m in (DEFAULT_MODEL, "claude-opus-4-1", "claude-haiku-4-5")]
        return web.json_response({"data": models, "has_more": False, "first_id": models[0]["id"],
                                  "last_id": models[-1]["id"]})

    async def _hello(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "hello"})


def is_conversation_call(body: Any) -> bool:
    """True for the agent's own turns: Claude Code sends its tool list with those and not with side calls."""
    return isinstance(body, dict) and bool(body.get("tools"))


def message_events(message: dict[str, Any]) -> Sse:
    """The SSE events the Messages API streams for `message` (text as two deltas, tool input as JSON deltas)."""
    sse = Sse()
    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    sse.add("message_start", {"type": "message_start", "message": start})
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            sse.add("content_block_start", {"type": "content_block_start", "index": index,
                                            "content_block": {"type": "text", "text": ""}})
            text = block["text"]
            for piece in (text[: len(text) // 2], text[len(text) // 2:]):
                if piece:
                    sse.add("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "text_delta", "text": piece}})
        else:
            sse.add("content_block_start", {"type": "content_block_start", "index": index,
                                            "content_block": {**block, "input": {}}})
            sse.add("content_block_delta", {"type": "content_block_delta", "index": index,
                                            "delta": {"type": "input_json_delta",
                                                      "partial_json": json.dumps(block["input"])}})
        sse.add("content_block_stop", {"type": "content_block_stop", "index": index})
    sse.add("message_delta", {"type": "message_delta",
                              "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                              "usage": {"output_tokens": message["usage"]["output_tokens"]}})
    sse.add("message_stop", {"type": "message_stop"})
    return sse


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)


__all__ = ["ErrorReply", "FakeAnthropic", "TextReply", "ToolUseReply", "Reply", "message_events",
           "is_conversation_call", "DEFAULT_MODEL"]
