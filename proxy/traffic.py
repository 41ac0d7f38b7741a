"""What the proxy must know about a session's agent, handed to it by the engine (the proxy names no agent).

An agent's `AgentTraffic` says which hosts serve its model (always reachable, even under an egress
allowlist), which calls a read-only session may still make to them, and which model credentials it can
use, in preference order, with the environment variable that carries each one's placeholder. (How a
credential is injected or refreshed is the credential's business, whichever agent holds it: `proxy.rules`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ModelCall = tuple[str, str, str]
"""(method, host, path prefix)."""


@dataclass(frozen=True)
class ModelCredential:
    """A credential an agent can call its model with, and how the agent takes its placeholder."""

    name: str
    """The credential's name (`anthropic_api_key`, `codex_oauth`, ...)."""
    env: str | None = None
    """The environment variable carrying its placeholder; None when the agent reads it from a file."""


@dataclass(frozen=True)
class AgentTraffic:
    """One agent's model traffic, as data for the proxy."""

    model_hosts: tuple[str, ...] = ()
    """Hosts (exact, or `*.suffix`) of the model API, reachable under any egress policy."""
    model_calls: tuple[ModelCall, ...] = ()
    """The writes a read-only session may still make: the model calls (and the sign-in's token refresh)."""
    model_credentials: tuple[ModelCredential, ...] = field(default=())
    """In preference order: the first the host has wins; the last is the fallback when it has none."""
    error_shape: str = ""
    """How its model API words an error (`proxy.model_errors.SHAPES`: `anthropic`, `openai`, `google`), so the
    agent's CLI shows what the proxy answers for it (a missing credential); empty: plain text."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (lists for tuples)."""
        return {"model_hosts": list(self.model_hosts), "model_calls": [list(c) for c in self.model_calls],
                "model_credentials": [{"name": c.name, "env": c.env} for c in self.model_credentials],
                "error_shape": self.error_shape}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentTraffic:
        """The inverse of `to_dict`."""
        return cls(
            model_hosts=tuple(data.get("model_hosts", ())),
            model_calls=tuple((str(m), str(h), str(p)) for m, h, p in data.get("model_calls", ())),
            model_credentials=tuple(ModelCredential(c["name"], c.get("env"))
                                    for c in data.get("model_credentials", ())),
            error_shape=str(data.get("error_shape", "")),
        )


__all__ = ["AgentTraffic", "ModelCall", "ModelCredential"]
