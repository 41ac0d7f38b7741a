"""What each agent runs inside its sandbox. The shell is built in; claude and codex arrive with the proxy."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ClauderonError
from .models import Session

# Where the per-session agent home is mounted in a container; it is the agent user's HOME.
CONTAINER_HOME = "/home/agent"


@dataclass(frozen=True)
class AgentCommand:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def agent_command(session: Session, *, resume: bool) -> AgentCommand:
    """The command line for the session's agent (`resume` on restart/unarchive, to continue a conversation)."""
    if session.agent == "shell":
        return AgentCommand(["bash", "-l"])
    raise ClauderonError(f"agent {session.agent!r} is not available yet in this build; use --agent shell")


def known_agents() -> list[str]:
    return ["shell", "claude", "codex"]
