"""Session records as the engine's loop uses them: reads from the store, writes on the store's writer
thread (one at a time, in order, never on the loop the terminals share), and every change announced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from runtime.errors import NotFound
from runtime.events import EventBus
from runtime.models import AgentStatus, Session
from runtime.store import Store

T = TypeVar("T")
AgentStatusObserver = Callable[[AgentStatus, Session], None]
"""Told the agent status a session had before a stored change, and the session after it."""


class SessionRecords:
    """The store and the event bus together: a change is stored first, then announced."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        self.events = events
        self._agent_status_observers: list[AgentStatusObserver] = []

    def observe_agent_status(self, observer: AgentStatusObserver) -> None:
        """Call `observer` after every stored change that set a session's agent status."""
        self._agent_status_observers.append(observer)

    def get(self, ref: str) -> Session:
        """The session by id or name (NotFound when there is none)."""
        return self.store.get(ref)

    def require_known(self, ref: str) -> Session:
        """The session by id or name, or a NotFound that says how to list them."""
        session = self.store.find(ref)
        if session is None:
            raise NotFound(f"no session named {ref!r}; `clauderon list --all` shows them")
        return session

    def publish(self, session: Session) -> None:
        """Announce a session's current state to every viewer."""
        self.events.publish({"type": "session", "session": session.public()})

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` (store I/O: a read-modify-write, flock and fsync) on the store's writer thread, one at
        a time in order, never on the loop the terminals share. Its errors (a full disk) reach the caller."""
        return await asyncio.get_running_loop().run_in_executor(self.store.writer, fn, *args)

    async def save(self, session: Session) -> Session:
        """Persist and announce a changed session."""
        await self.write(self.store.put, session)
        self.publish(session)
        return session

    async def update(self, session_id: str, **changes: Any) -> Session:
        """Change fields of a stored session and announce it (NotFound when it is gone)."""
        session = await self._change(session_id, changes, always=True)
        assert session is not None
        return session

    async def apply(self, session_id: str, **changes: Any) -> Session | None:
        """`update` for the changes that come often (agent status from hooks, what a branch sync saw): a
        change that changes nothing is neither written nor announced; None when the session is gone."""
        return await self._change(session_id, changes, always=False)

    async def _change(self, session_id: str, changes: dict[str, Any], *, always: bool) -> Session | None:
        def write() -> tuple[AgentStatus, Session] | None:
            with self.store.transaction():
                current = self.store.get(session_id) if always else self.store.find(session_id)
                if current is None or (not always and all(getattr(current, k, None) == v for k, v in changes.items())):
                    return None
                return current.agent_status, self.store.update(session_id, **changes)

        done = await self.write(write)
        if done is None:
            return None
        before, session = done
        self.publish(session)
        if "agent_status" in changes:
            for observer in self._agent_status_observers:
                observer(before, session)  # e.g. a turn that ended brings its commits back
        return session
