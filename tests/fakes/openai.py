"""A fake OpenAI API for the real Codex CLI: streamed `POST /v1/responses` (also under chatgpt.com's
`/backend-api/codex/`), the websocket it tries first, `/v1/models`, and the OAuth token endpoint of
`auth.openai.com` (`POST /oauth/token`).

Codex first opens a websocket to `/v1/responses`; this fake refuses the upgrade with 426 so Codex falls back to
the streamed POST at once. Codex 0.171 sends its tools as an `additional_tools` input item, not `tools`, and
names each thread with a side call that asks for a JSON schema (`text.format`); scripted replies go to the
other calls (the agent's turns), in order, and side calls get a small JSON object.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import FakeUpstream, RecordedRequest, Sse, write_sse

DEFAULT_MODEL = "gpt-5-codex"


@dataclass(frozen=True)
class TextReply:
    """An assistant message with one `output_text` part."""

    text: str


@dataclass(frozen=True)
class FunctionCallReply:
    """A `function_call` output item with JSON `arguments`.

    Codex 0.171's function tools: `wait`, `request_user_input`...
    """

    name: str
    arguments: dict[str, Any]
    call_id: str = ""


@dataclass(frozen=True)
class CustomToolCallReply:
    """A `custom_tool_call` output item: a freeform tool such as Codex 0.171's `exec` (JavaScript source)."""

    name: str
    input: str
    call_id: str = ""


Reply = TextReply | FunctionCallReply | CustomToolCallReply


def codex_shell_call(command: str) -> CustomToolCallReply:
    """Codex 0.171 runs commands through its `exec` tool: JavaScript calling the nested `exec_command` tool."""
    script = f"const out = await tools.exec_command({{cmd: {json.dumps(command)}}});\ntext(out);\n"
    return CustomToolCallReply("exec", script)


class FakeOpenAI(FakeUpstream):
    """The fake OpenAI API and OAuth server. `script(...)` queues replies; `requests` records everything."""

    def __init__(self, default_reply: str = "Hello from the fake OpenAI API.", websocket_status: int = 426) -> None:
        self.default_reply = default_reply
        self.websocket_status = websocket_status
        self._script: deque[Reply] = deque()
        self._script_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.websocket_attempts = 0
        self.refreshes = 0
        super().__init__()

    # -- scripting --------------------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next turns (a plain string is a `TextReply`)."""
        with self._script_lock:
            self._script.extend(TextReply(r) if isinstance(r, str) else r for r in replies)

    def pending(self) -> int:
        """How many scripted replies are still waiting."""
        with self._script_lock:
            return len(self._script)

    def response_requests(self) -> list[RecordedRequest]:
        """The streamed POSTs to `/v1/responses` (not the websocket attempts)."""
        return [r for r in self.requests if r.method == "POST" and r.json is not None
                and r.path in ("/v1/responses", "/backend-api/codex/responses")]

    def turn_requests(self) -> list[RecordedRequest]:
        """The agent's own turns: response requests other than structured side calls (thread titles)."""
        return [r for r in self.response_requests() if not wants_json_schema(r.json)]

    def token_requests(self) -> list[RecordedRequest]:
        """What the CLI sent to the OAuth token endpoint."""
        return self.requests_to("/oauth/token")

    # -- routes -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        # `/v1/...` is api.openai.com (API keys); `/backend-api/codex/...` is chatgpt.com (ChatGPT OAuth).
        for path in ("/v1/responses", "/backend-api/codex/responses"):
            app.router.add_get(path, self._websocket_attempt)
            app.router.add_post(path, self._responses)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)
        app.router.add_post("/oauth/token", self._token)

    async def _websocket_attempt(self, request: web.Request) -> web.Response:
        # Refused with "426 Upgrade Required" plus a JSON error: the upgrade fails at once and Codex
        # takes its HTTP path instead of waiting on a socket.
        self.websocket_attempts += 1
        error = {"message": "websocket transport not available", "type": "invalid_request_error"}
        return web.json_response({"error": error}, status=self.websocket_status)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if wants_json_schema(body):
            # A side call (Codex names its threads this way): answer with an object, not the script.
            return TextReply(json.dumps({"title": "Fake task"}))
        with self._script_lock:
            if self._script:
                return self._script.popleft()
        return TextReply(self.default_reply)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "body must be an object")
        reply = self._next_reply(body)
        model = str(body.get("model") or DEFAULT_MODEL)
        sse = response_events(f"resp_fake{next(self._ids):06d}", model, reply, next(self._ids))
        if body.get("stream"):
            return await write_sse(request, sse)
        completed = next(data for event, data in sse.events if event == "response.completed")
        return web.json_response(completed["response"])

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [_model_entry(DEFAULT_MODEL), _model_entry("gpt-5")]})

    async def _model(self, request: web.Request) -> web.Response:
        return web.json_response(_model_entry(request.match_info["model"]))

    async def _token(self, request: web.Request) -> web.Response:
        # A refresh answers new (fake) tokens; recorded so a test can check what the client sent.
        self.refreshes += 1
        n = self.refreshes
        return web.json_response({
            "id_token": fake_id_token(f"fake-account-{n}"),
            "access_token": f"fake-access-token-{n}",
            "refresh_token": f"fake-refresh-token-{n}",
            "token_type": "Bearer",
            "expires_in": 3600,
        })


def response_events(response_id: str, model: str, reply: Reply, item_number: int) -> Sse:
    """The Responses API SSE events for one reply, in the order and shapes the API streams them."""
    item_id = f"item_fake{item_number:06d}"
    base = {"id": response_id, "object": "response", "created_at": int(time.time()), "model": model,
            "status": "in_progress", "output": []}
    sse = Sse()
    sse.add("response.created", {"type": "response.created", "sequence_number": 0, "response": base})
    if isinstance(reply, TextReply):
        added = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        done = {**added, "status": "completed",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}]}
        sse.add("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": added})
        sse.add("response.content_part.added", {"type": "response.content_part.added", "item_id": item_id,
                                                 "output_index": 0, "content_index": 0,
                                                 "part": {"type": "output_text", "text": "", "annotations": []}})
        half = len(reply.text) // 2
        for piece in (reply.text[:half], reply.text[half:]):
            if piece:
                sse.add("response.output_text.delta", {"type": "response.output_text.delta", "item_id": item_id,
                                                        "output_index": 0, "content_index": 0, "delta": piece})
        sse.add("response.output_text.done", {"type": "response.output_text.done", "item_id": item_id,
                                               "output_index": 0, "content_index": 0, "text": reply.text})
    elif isinstance(reply, CustomToolCallReply):
        call_id = reply.call_id or f"call_fake{item_number:06d}"
        added = {"id": item_id, "type": "custom_tool_call", "status": "in_progress", "name": reply.name,
                 "call_id": call_id, "input": ""}
        done = {**added, "status": "completed", "input": reply.input}
        sse.add("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": added})
        sse.add("response.custom_tool_call_input.delta", {"type": "response.custom_tool_call_input.delta",
                                                           "item_id": item_id, "output_index": 0, "delta": reply.input})
    else:
        call_id = reply.call_id or f"call_fake{item_number:06d}"
        arguments = json.dumps(reply.arguments)
        added = {"id": item_id, "type": "function_call", "status": "in_progress", "name": reply.name,
                 "call_id": call_id, "arguments": ""}
        done = {**added, "status": "completed", "arguments": arguments}
        sse.add("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": added})
        sse.add("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta",
                                                            "item_id": item_id, "output_index": 0, "delta": arguments})
    sse.add("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": done})
    usage = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 8,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 20}
    sse.add("response.completed", {"type": "response.completed", "sequence_number": len(sse.events),
                                   "response": {**base, "status": "completed", "output": [done], "usage": usage}})
    return sse


def wants_json_schema(body: dict[str, Any]) -> bool:
    """True for structured-output calls (Codex's thread title), which expect a JSON object back."""
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    return isinstance(fmt, dict) and fmt.get("type") == "json_schema"


def fake_id_token(account_id: str, email: str = "agent@example.test", plan: str = "pro") -> str:
    """An unsigned JWT shaped like OpenAI's id_token (Codex reads the email, plan and account id claims)."""
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"email": email, "exp": int(time.time()) + 3600, "iat": int(time.time()),
              "https://api.openai.com/auth": {"chatgpt_account_id": account_id, "chatgpt_plan_type": plan}}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.{part({'sig': 'fake'})}"


def _model_entry(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1700000000, "owned_by": "openai"}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}}, status=status)


__all__ = ["FakeOpenAI", "TextReply", "FunctionCallReply", "CustomToolCallReply", "Reply", "codex_shell_call",
           "response_events", "fake_id_token", "wants_json_schema",
           "DEFAULT_MODEL"]
