"""What each agent runs inside its sandbox: the command line and the environment of the agent process.

Checked against Claude Code 2.1.197 and Codex 0.171.0 (native binaries from their npm packages, run
under a pty against fake upstreams):

- `claude --session-id <uuid> "<prompt>"` starts a conversation whose transcript lands in
  `~/.claude/projects/<cwd with / as ->/<uuid>.jsonl`; `claude --resume <uuid>` continues it, but exits
  with "No conversation found" when there is no transcript (an agent started without a prompt and never
  used). `--session-id` cannot be combined with `--resume`/`--continue` (without `--fork-session`).
- `codex resume --last` continues the most recent conversation in this CODEX_HOME and cwd, and simply
  starts a fresh one when there is none.
- Codex refuses to start when `CODEX_HOME` does not exist; `runtime.agents.setup` creates it.

The first-run dialogs both CLIs would show are skipped by the files `runtime.agents.setup` writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from runtime.backends.registry import capabilities_of
from runtime.errors import ClauderonError
from runtime.models import Session

# Where the per-session agent home is mounted in a container; it is the agent user's HOME.
CONTAINER_HOME = "/home/agent"

# Both CLIs otherwise phone home for updates, telemetry and error reports. In a sandbox with a
# credential-injecting proxy that is noise at best (an update would also be lost with the container).
CLAUDE_ENV = {
    # Claude Code refuses --dangerously-skip-permissions as root unless told it is in a sandbox.
    "IS_SANDBOX": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    # Otherwise every start tries to fetch the official plugin marketplace (github.com and
    # downloads.claude.ai) even with the variable above.
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}


@dataclass(frozen=True)
class AgentCommand:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def known_agents() -> list[str]:
    return ["shell", "claude", "codex"]


def new_agent_session_id(agent: str) -> str | None:
    """The conversation id clauderon fixes at create: a uuid4 for claude (`--session-id`), else None.

    Codex picks its own thread id; clauderon resumes it with `codex resume --last` instead.
    """
    return str(uuid.uuid4()) if agent == "claude" else None


def agent_command(session: Session, *, resume: bool, agent_home: Path | None = None) -> AgentCommand:
    """The command line for the session's agent (`resume` on restart/unarchive, to continue a conversation).

    `agent_home` is the host path of the session's agent home; when given, a claude resume checks that
    a transcript exists and otherwise starts the same conversation id afresh (resuming a conversation
    that was never written makes Claude Code exit at once).
    """
    if session.agent == "shell":
        return AgentCommand(["bash", "-l"])
    if session.agent == "claude":
        return _claude(session, resume=resume, agent_home=agent_home)
    if session.agent == "codex":
        return _codex(session, resume=resume)
    raise ClauderonError(f"unknown agent {session.agent!r}; choose one of {', '.join(known_agents())}")


def _claude(session: Session, *, resume: bool, agent_home: Path | None) -> AgentCommand:
    argv = ["claude"]
    if session.skip_permissions:
        argv.append("--dangerously-skip-permissions")
    session_id = session.agent_session_id
    can_resume = resume and (agent_home is None or claude_transcript_exists(agent_home, session_id))
    if can_resume:
        argv += ["--resume", session_id] if session_id else ["--continue"]
    elif session_id:
        argv += ["--session-id", session_id]
    if session.initial_prompt and not resume:
        # "--" so a prompt that starts with "-" is not taken for an option.
        argv += ["--", session.initial_prompt]
    return AgentCommand(argv, dict(CLAUDE_ENV))


def _codex(session: Session, *, resume: bool) -> AgentCommand:
    # --no-daemon: one process, no shared background app-server left in the container; it is the
    # mode the tests exercise.
    argv = ["codex", "--no-daemon"]
    if session.skip_permissions:
        argv.append("--dangerously-bypass-approvals-and-sandbox")
    else:
        # The container is the sandbox: Codex's own (bubblewrap) sandbox cannot nest in it, so
        # commands run unsandboxed inside it and the model asks for approval when it sees fit.
        argv += ["--sandbox", "danger-full-access", "--ask-for-approval", "on-request"]
    if resume:
        argv += ["resume", "--last"]
    elif session.initial_prompt:
        argv += ["--", session.initial_prompt]
    env: dict[str, str] = {}
    if capabilities_of(session.backend).sandboxed:
        # In a sandbox HOME is CONTAINER_HOME; a local session's HOME is the host agent home and
        # Codex's default ($HOME/.codex) already points there.
        env["CODEX_HOME"] = f"{CONTAINER_HOME}/.codex"
    return AgentCommand(argv, env)


def claude_transcript_exists(agent_home: Path, session_id: str | None) -> bool:
    """Whether Claude Code wrote a transcript for `session_id` (any project dir) in this agent home."""
    projects = agent_home / ".claude" / "projects"
    if not projects.is_dir():
        return False
    if session_id is None:
        return any(projects.glob("*/*.jsonl"))
    return any(projects.glob(f"*/{session_id}.jsonl"))


__all__ = ["CONTAINER_HOME", "CLAUDE_ENV", "AgentCommand", "agent_command", "known_agents",
           "new_agent_session_id", "claude_transcript_exists"]
