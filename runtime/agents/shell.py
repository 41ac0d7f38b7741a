"""The shell agent: a login bash in the sandbox, with no model, hooks or transcript of its own."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from runtime.agents.base import Agent, AgentCommand
from runtime.models import Session


class ShellAgent(Agent):
    """`bash -l`: the user drives; nothing to set up, resume or follow."""

    name: ClassVar[str] = "shell"
    label: ClassVar[str] = "a login shell (no agent)"
    takes_prompt: ClassVar[bool] = False

    def command(self, session: Session, *, resume: bool, agent_home: Path | None = None) -> AgentCommand:
        """`bash -l`, the same on resume."""
        return AgentCommand(["bash", "-l"])


__all__ = ["ShellAgent"]
