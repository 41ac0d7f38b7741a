"""Errors the proxy answers for a model API in that API's own shape, so the agent's CLI shows their message.

An agent's CLI reads a model API's error body and shows its message (Claude Code prints an Anthropic
`error.message`, Codex an OpenAI `error.message`); a plain-text body would show as a bare status. Which shape
a session's model API speaks is its agent's `AgentTraffic.error_shape`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _anthropic(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "authentication_error", "message": message}}


def _openai(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}


def _google(message: str) -> dict[str, Any]:
    return {"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED"}}


SHAPES: dict[str, Callable[[str], dict[str, Any]]] = {"anthropic": _anthropic, "openai": _openai, "google": _google}
"""Error shape name -> the JSON body of an authentication error saying `message`."""


NO_RETRY = {"x-should-retry": "false"}
"""The APIs' own word that asking again will not help: the Anthropic and OpenAI SDKs, and Claude Code's retry loop
(which otherwise retries a 401 ten times over minutes before it shows anything), honour it."""


def authentication_error(shape: str, message: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a 401 saying `message` in the model API's `shape` (plain text if unknown)."""
    build = SHAPES.get(shape)
    if build is None:
        return f"clauderon proxy: {message}\n".encode(), {"Content-Type": "text/plain", **NO_RETRY}
    return json.dumps(build(message)).encode(), {"Content-Type": "application/json", **NO_RETRY}


__all__ = ["NO_RETRY", "SHAPES", "authentication_error"]
