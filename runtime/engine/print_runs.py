"""Print-mode sessions (`clauderon create --print`): the prompt runs headless to its end, its outcome is kept
on the session, and the sandbox goes.

A print session's sandbox is made like any other (worktree, own repository, proxy, sealed network, placeholder
credentials only), but its own program only waits (`print_sandbox_command`). Once it runs, the engine runs the
agent's print command in it (`Agent.print_command`) without a TTY, so stdout comes apart from the CLI's log and
the exit status is the agent process's own. Then: the final message from stdout (`Agent.print_outcome`), the
session's commits brought back (the sandbox must still run for that), the sandbox removed, and the session
stopped with `print_run` filled in. The worktree and agent home stay: the diff, the transcript and landing work
as for any stopped session.

An engine that stops during a run loses the run's output (the exec belonged to it): the next engine finishes
the session with `exit_status` None and says why in `result`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from runtime.agents.base import AgentCommand
from runtime.agents.registry import agent_named, all_agents
from runtime.errors import ClauderonError
from runtime.git.branch_sync import SandboxRepository
from runtime.models import AgentStatus, PrintRun, Session, Status

if TYPE_CHECKING:
    from runtime.backends.base import Backend
    from runtime.engine.backend_set import BackendSet
    from runtime.engine.egress import Egress
    from runtime.engine.records import SessionRecords
    from runtime.engine.streams import TerminalStreams
    from runtime.home import Home

log = logging.getLogger(__name__)

PRINT_TIMEOUT_S = 6 * 3600.0
"""The longest a print run may take; the agent is killed after it."""
MAX_RESULT_CHARS = 20_000
"""What of a final message is kept on the session (the transcript holds the rest)."""
WAITING = ("echo 'clauderon: a print run; the agent runs headless and this sandbox goes when it ends'; "
           "exec sleep infinity")


def print_sandbox_command(session: Session) -> AgentCommand | None:
    """For a print session: its sandbox's own program, which waits (the run is exec'd into it) with the print
    command's environment; None for an interactive session."""
    if session.print_run is None:
        return None
    run = agent_named(session.agent).print_command(session)
    return AgentCommand(["sh", "-c", WAITING], run.env if run is not None else {})


def refuse_print(agent_name: str, prompt: str, backend: str, *, sandboxed: bool, plan_mode: bool = False) -> None:
    """One line when a create cannot run in print mode: an agent without it, no prompt, no sandbox, plan mode."""
    probe = Session(name="print", repo_path="/", base_branch="", branch="", worktree_path="/", agent=agent_name,
                    initial_prompt=prompt, backend=backend)
    if agent_named(agent_name).print_command(probe) is None:
        takers = " or ".join(a.name for a in all_agents()
                             if a.print_command(probe.model_copy(update={"agent": a.name})) is not None)
        raise ClauderonError(f"the {agent_name} agent has no print mode; use --agent {takers}")
    if not prompt.strip():
        raise ClauderonError("print mode runs a prompt: give it with --prompt")
    if plan_mode:
        raise ClauderonError("--plan and --print do not go together: a print run cannot stop to ask, so it "
                             "bypasses permissions; drop one of them")
    if not sandboxed:
        raise ClauderonError(f"print mode runs in a sandbox and the {backend} backend has none: "
                             "use --backend docker or kubernetes")


class SessionOperations(Protocol):
    """What a print run needs of the engine's `Lifecycle` (named here, not imported: it makes the runs)."""

    records: SessionRecords
    backends: BackendSet
    streams: TerminalStreams
    egress: Egress

    def lock_for(self, session_id: str) -> asyncio.Lock: ...

    async def pull(self, ref: str) -> dict[str, Any]: ...

    async def drop_sandbox(self, backend: Backend, backend_id: str) -> None: ...


class PrintRuns:
    """Runs print sessions' prompts and finishes them (one per engine)."""

    def __init__(self, home: Home, lifecycle: SessionOperations, spawn: Callable[..., object]) -> None:
        self.home = home
        self.lifecycle = lifecycle
        self.records = lifecycle.records
        self.spawn = spawn

    def start(self, session: Session) -> None:
        """A print session's sandbox runs: run its prompt in the background."""
        self.spawn(self._run(session.id))

    async def recover(self) -> None:
        """At engine start: a run the previous engine began cannot be heard back; finish it as cut off."""
        for session in self.records.store.sessions():
            run = session.print_run
            if run is not None and run.finished_at is None and session.status in (Status.RUNNING, Status.STOPPED):
                await self._finish(session.id, None, "the engine stopped during the print run, so its result was "
                                   "lost (the transcript may hold it)")

    async def _run(self, session_id: str) -> None:
        session = self.records.store.get(session_id)
        agent = agent_named(session.agent)
        command = agent.print_command(session)
        backend = self.lifecycle.backends.of(session)
        exit_status: int | None = None
        try:
            if command is None or not isinstance(backend, SandboxRepository) or not session.backend_id:
                raise ClauderonError(f"the {session.agent} agent cannot run in print mode on {session.backend}")
            ran = await backend.exec(session.backend_id, command.argv, timeout=PRINT_TIMEOUT_S)
            exit_status = ran.exit_code
            outcome = agent.print_outcome(ran.stdout.decode(errors="replace"), ran.stderr.decode(errors="replace"))
            if outcome is not None:
                result = outcome.result
                if outcome.failed and exit_status == 0:
                    exit_status = 1  # a CLI that reported an error yet exited 0 still failed
            else:
                lines = ran.stderr.decode(errors="replace").strip().splitlines()
                result = (f"the agent printed no result (exit {exit_status})"
                          + (f": {lines[-1].strip()}" if lines else ""))
        except ClauderonError as exc:
            result = f"the print run did not finish: {exc}"
        except Exception as exc:  # never leave the session running for good
            log.exception("print run of %s failed", session.name)
            result = f"the print run did not finish: {exc.__class__.__name__}: {exc}"
        await self._finish(session_id, exit_status, result)

    async def _finish(self, session_id: str, exit_status: int | None, result: str) -> None:
        """Keep the outcome, bring the commits back, remove the sandbox, and stop the session."""
        lifecycle = self.lifecycle
        session = self.records.store.find(session_id)
        if session is None or session.print_run is None:
            return  # deleted meanwhile
        async with lifecycle.lock_for(session_id):
            session = self.records.store.get(session_id)
            backend = lifecycle.backends.of(session)
            if session.backend_id and (session.own_repository or backend.capabilities.copies_workspace):
                try:
                    await lifecycle.pull(session_id)
                except ClauderonError as exc:
                    log.warning("print run of %s: its commits did not come back: %s", session.name, exc)
            await lifecycle.streams.stop(session_id)
            lifecycle.streams.drop(session_id)
            if session.backend_id:
                try:
                    await lifecycle.drop_sandbox(backend, session.backend_id)
                except ClauderonError as exc:
                    log.warning("print run of %s: the sandbox could not be removed: %s", session.name, exc)
            lifecycle.egress.forget(session)
            await lifecycle.egress.sealed.close(session_id)
            if len(result) > MAX_RESULT_CHARS:
                result = result[:MAX_RESULT_CHARS] + f"…[{len(result) - MAX_RESULT_CHARS} more characters]"
            run = PrintRun(exit_status=exit_status, result=result, transcript=self._transcript(session),
                           finished_at=time.time())
            await self.records.update(session_id, status=Status.STOPPED, backend_id=None, print_run=run,
                                      agent_status=AgentStatus.EXITED,
                                      agent_detail={"reason": "finished" if exit_status == 0 else "failed"})

    def _transcript(self, session: Session) -> str | None:
        """The run's transcript as a path inside the agent home (its own conversation's when the agent names it)."""
        agent_home = self.home.agent_home(session.id)
        try:
            found = agent_named(session.agent).find_transcripts(agent_home, session.agent_session_id)
            found = found or agent_named(session.agent).find_transcripts(agent_home)
        except OSError:
            return None
        return found[-1].relative_to(agent_home).as_posix() if found else None

