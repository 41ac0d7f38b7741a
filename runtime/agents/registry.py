"""The agents clauderon can run: the one place that lists them. Adding an agent is a module plus a line here."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from runtime.agents.base import Agent
from runtime.agents.claude import ClaudeAgent
from runtime.agents.codex import CodexAgent
from runtime.agents.gemini import GeminiAgent
from runtime.agents.shell import ShellAgent
from runtime.errors import ClauderonError

_AGENTS: dict[str, Agent] = {agent.name: agent for agent in (ShellAgent(), ClaudeAgent(), CodexAgent(), GeminiAgent())}
DEFAULT_AGENT = ShellAgent.name


def agent_names() -> list[str]:
    """Every agent's name, the default (`shell`) first."""
    return list(_AGENTS)


def agent_named(name: str) -> Agent:
    """The agent called `name`; a `ClauderonError` naming the choices otherwise."""
    agent = _AGENTS.get(name)
    if agent is None:
        raise ClauderonError(f"unknown agent {name!r}; choose one of {', '.join(_AGENTS)}")
    return agent


def _known_agent(name: str) -> str:
    if name not in _AGENTS:
        # The message pydantic gives a `Literal` of the names, as before the registry.
        choices = [repr(n) for n in _AGENTS]
        expected = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
    return name


AgentName = Annotated[str, AfterValidator(_known_agent)]
"""A pydantic field type: the name of a registered agent."""


def all_agents() -> list[Agent]:
    """Every agent, in `agent_names` order."""
    return list(_AGENTS.values())


__all__ = ["DEFAULT_AGENT", "AgentName", "agent_named", "agent_names", "all_agents"]
