"""A fake Gemini API (`generativelanguage.googleapis.com`) for the real Gemini CLI.

The CLI's turns are `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`: the reply streams as SSE
`data:` lines, each a `GenerateContentResponse`. Without `-m` each turn first asks a small model to rate the
prompt (`:generateContent`, a JSON reply with `complexity_score`); other JSON side calls get the same object,
which also says the user speaks next. A reply chunk needs `finishReason`, or the CLI retries the turn.
Scripted replies go to the streamed turns, in order; a `FunctionCallReply` asks the CLI to run a tool
(`run_shell_command`), whose result comes back as a `functionResponse` part in the next turn.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import FakeUpstream, RecordedRequest

DEFAULT_MODEL = "gemini-2.5-pro"
# The answer to every non-streamed JSON side call: a routing score (>= 1), and "the user speaks next".
SIDE_CALL_ANSWER = {"complexity_reasoning": "a simple request", "complexity_score": 1,
                    "reasoning": "the model answered", "next_speaker": "user"}


@dataclass(frozen=True)
class TextReply:
    """A model turn with one text part."""

    text: str


@dataclass(frozen=True)
class FunctionCallReply:
    """A model turn asking the CLI to call a tool."""

    name: str
    args: dict[str, Any]


Reply = TextReply | FunctionCallReply


def shell_call(command: str) -> FunctionCallReply:
    """The Gemini CLI's shell tool."""
    return FunctionCallReply("run_shell_command", {"command": command, "description": "run it"})


class FakeGemini(FakeUpstream):
    """The fake Gemini API. `script(...)` queues turn replies; `requests` records everything."""

    def __init__(self, default_reply: str = "Hello from the fake Gemini API.") -> None:
        self.default_reply = default_reply
        self._script: deque[Reply] = deque()
        self._script_lock = threading.Lock()
        super().__init__()

    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next streamed turns (a plain string is a `TextReply`)."""
        with self._script_lock:
            self._script.extend(TextReply(r) if isinstance(r, str) else r for r in replies)

    def pending(self) -> int:
        """How many scripted replies are still waiting."""
        with self._script_lock:
            return len(self._script)

    def turn_requests(self) -> list[RecordedRequest]:
        """The streamed turns, oldest first."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(":streamGenerateContent")]

    def model_requests(self) -> list[RecordedRequest]:
        """Every model call (turns and side calls)."""
        return [r for r in self.requests if r.method == "POST" and r.path.startswith("/v1beta/models/")]

    def add_routes(self, app: web.Application) -> None:
        # `{call}` is `<model>:<method>`: the colon is part of one path segment.
        app.router.add_post("/v1beta/models/{call}", self._model_call)
        app.router.add_get("/v1beta/models", self._models)

    async def _model_call(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["call"].partition(":")
        if method == "streamGenerateContent":
            return await self._stream(request, model)
        if method == "generateContent":
            return web.json_response(_response(model, [{"text": json.dumps(SIDE_CALL_ANSWER)}]))
        if method == "countTokens":
            return web.json_response({"totalTokens": 10})
        return web.json_response({"error": {"code": 404, "message": f"no method {method}", "status": "NOT_FOUND"}},
                                 status=404)

    async def _stream(self, request: web.Request, model: str) -> web.StreamResponse:
        with self._script_lock:
            reply = self._script.popleft() if self._script else TextReply(self.default_reply)
        if isinstance(reply, TextReply):
            # Two chunks, so the CLI really assembles a stream; the last one carries finishReason.
            half = len(reply.text) // 2
            chunks = [_response(model, [{"text": reply.text[:half]}], finish=False),
                      _response(model, [{"text": reply.text[half:]}])]
        else:
            chunks = [_response(model, [{"functionCall": {"name": reply.name, "args": reply.args}}])]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
        await response.write_eof()
        return response

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": f"models/{DEFAULT_MODEL}", "displayName": DEFAULT_MODEL}]})


def _response(model: str, parts: list[dict[str, Any]], *, finish: bool = True) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "modelVersion": model,
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}}


__all__ = ["DEFAULT_MODEL", "FakeGemini", "FunctionCallReply", "TextReply", "shell_call"]
