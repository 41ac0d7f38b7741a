"""The agents clauderon can run: the one place that lists them. Adding an agent is a module plus a line here."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from runtime.agents.base import Agent
from runtime.agents.claude import ClaudeAgent
from runtime.agents.codex import CodexAgent
from runtime.agents.gemini import GeminiAgent
from runtime.agents.shell import ShellAgent
from runtime.choices import one_of
from runtime.errors import ClauderonError

# The default first: the product runs coding agents (the shell is a tool for looking around a sandbox).
_AGENTS: dict[str, Agent] = {agent.name: agent for agent in (ClaudeAgent(), CodexAgent(), GeminiAgent(), ShellAgent())}
DEFAULT_AGENT = ClaudeAgent.name


def agent_names() -> list[str]:
    """Every agent's name, the default (`claude`) first."""
    return list(_AGENTS)


def agent_named(name: str) -> Agent:
    """The agent called `name`; a `ClauderonError` naming the choices otherwise."""
    agent = _AGENTS.get(name)
    if agent is None:
        raise ClauderonError(f"unknown agent {name!r}; choose one of {', '.join(_AGENTS)}")
    return agent


AgentName = Annotated[str, AfterValidator(one_of(_AGENTS))]
"""A pydantic field type: the name of a registered agent."""


def all_agents() -> list[Agent]:
    """Every agent, in `agent_names` order."""
    return list(_AGENTS.values())


__all__ = ["DEFAULT_AGENT", "AgentName", "agent_named", "agent_names", "all_agents"]
