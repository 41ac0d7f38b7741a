"""An agent's permission mode: cycling it (shift+tab in its terminal) and reading back the mode it shows.

Claude Code says its mode only on screen, in the line under its input box, and in the `permission_mode` of
its hook payloads (which come only with the next prompt or tool call). A shift+tab typed straight into the
terminal changes the mode without a hook, so the engine reads the mode off its own emulator's screen: once
a second while the session runs (`watch_permission_mode`, a few thousand characters matched against one
pattern), and right after a `cycle_permission_mode` it sent itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from runtime.agents.registry import agent_named, all_agents
from runtime.errors import Conflict
from runtime.models import Session, Status
from runtime.store import Store
from runtime.terminal import TerminalStream

log = logging.getLogger(__name__)

SHIFT_TAB = b"\x1b[Z"
"""What a terminal sends for shift+tab (back-tab, CSI Z)."""
CYCLE_WAIT_SECONDS = 3.0
"""How long a cycle waits for the screen to show another mode before it answers with what is shown."""


class ModeEngine(Protocol):
    """What reading and cycling the mode uses of the engine (`runtime.engine.core.Engine` is one)."""

    store: Store

    def require_known(self, ref: str) -> Session: ...

    def stream(self, ref: str) -> TerminalStream: ...

    async def apply(self, session_id: str, **changes: Any) -> Session | None: ...


async def watch_permission_mode(engine: ModeEngine, session_id: str, *, interval: float = 1.0) -> None:
    """Keep `permission_mode` as the agent's screen shows it, while the session runs (an engine task)."""
    while True:
        session = engine.store.find(session_id)
        if session is None or session.status != Status.RUNNING:
            return
        await _read_mode(engine, session)
        await asyncio.sleep(interval)


async def cycle_permission_mode(engine: ModeEngine, ref: str) -> Session:
    """Send shift+tab to the session's agent and answer the session with the mode it shows next."""
    session = engine.require_known(ref)
    agent = agent_named(session.agent)
    if not agent.supports_mode_cycle:
        cyclers = ", ".join(a.name for a in all_agents() if a.supports_mode_cycle)
        raise Conflict(f"the {session.agent} agent has no permission modes to cycle (only {cyclers} has)")
    stream = engine.stream(ref)
    before = agent.mode_on_screen(stream.screen_text())
    await stream.write(SHIFT_TAB)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CYCLE_WAIT_SECONDS
    while loop.time() < deadline:
        await asyncio.sleep(0.05)
        shown = agent.mode_on_screen(stream.screen_text())
        if shown is not None and shown != before:
            break
    return await _read_mode(engine, session)


async def _read_mode(engine: ModeEngine, session: Session) -> Session:
    """Store the mode the session's screen shows (when it shows one); the session as it is now."""
    try:
        screen = engine.stream(session.id).screen_text()
    except Conflict:  # no terminal (stopped between two looks)
        return session
    mode = agent_named(session.agent).mode_on_screen(screen)
    if mode is not None and mode != session.permission_mode:  # the store is written only on a change
        await engine.apply(session.id, permission_mode=mode)
    return engine.store.find(session.id) or session


__all__ = ["CYCLE_WAIT_SECONDS", "SHIFT_TAB", "ModeEngine", "cycle_permission_mode", "watch_permission_mode"]
