"""One terminal stream per running session: attaching to its sandbox, pumping its output into the
stream, and telling the engine when the attachment ends by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from runtime.engine.backend_set import BackendSet
from runtime.engine.records import SessionRecords
from runtime.errors import Conflict
from runtime.gc_policy import release_discarded
from runtime.models import Session
from runtime.settings import EngineSettings
from runtime.terminal import TerminalStream

log = logging.getLogger(__name__)

StreamEnded = Callable[[str], Awaitable[None]]
"""Called with the session id when an attachment ended without being stopped (the program exited, the
daemon went away, the network dropped)."""


class TerminalStreams:
    """The sessions' terminal streams and the tasks that pump them."""

    def __init__(self, settings: EngineSettings, records: SessionRecords, backends: BackendSet) -> None:
        self.settings = settings
        self.records = records
        self.backends = backends
        self.streams: dict[str, TerminalStream] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._on_ended: list[StreamEnded] = []

    def when_ended(self, callback: StreamEnded) -> None:
        """Call `callback` whenever an attachment ends by itself."""
        self._on_ended.append(callback)

    def stream(self, ref: str) -> TerminalStream:
        """The live terminal of a session (by id or name); Conflict when it has none."""
        session = self.records.get(ref)
        stream = self.streams.get(session.id)
        if stream is None:
            raise Conflict(f"session {session.name} is {session.status}; its terminal is not live "
                           f"(`clauderon restart {session.name}`)")
        return stream

    def is_pumping(self, session_id: str) -> bool:
        """Whether an attachment of the session is being pumped right now."""
        pump = self._pumps.get(session_id)
        return pump is not None and not pump.done()

    def is_attached(self, session_id: str) -> bool:
        """Whether the session has an attachment that was not stopped and did not end."""
        return session_id in self._pumps

    async def start(self, session: Session, prefill: bytes = b"", *, fresh: bool = False) -> TerminalStream:
        """Attach and pump. `fresh` (a just-started sandbox) replays its output from the start;
        otherwise `prefill` (recent output recovered after an engine restart) seeds the screen."""
        attachment = await self.backends.of(session).attach(session.backend_id or "", replay=fresh)
        stream = self.streams.get(session.id)
        if stream is None:
            stream = TerminalStream(session.id, scrollback=self.settings.scrollback_lines,
                                    ring_bytes=self.settings.ring_buffer_bytes)
            self.streams[session.id] = stream
        self._pumps[session.id] = asyncio.ensure_future(self._pump(session.id, stream, attachment, prefill))
        return stream

    async def _pump(self, session_id: str, stream: TerminalStream, attachment: Any, prefill: bytes) -> None:
        try:
            await stream.run(attachment, prefill=prefill)
        except asyncio.CancelledError:
            await attachment.close()
            raise
        except Exception:  # a broken attach must not take the engine down
            log.exception("terminal stream for %s failed", session_id)
        if self._pumps.get(session_id) is not asyncio.current_task():
            return
        self._pumps.pop(session_id, None)
        for callback in self._on_ended:
            await callback(session_id)

    async def stop(self, session_id: str) -> None:
        """Stop pumping the session's attachment; its stream (and its viewers) stay."""
        task = self._pumps.pop(session_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def drop(self, session_id: str) -> None:
        """Forget a session's terminal for good (archive, delete): its viewers are told it ended."""
        stream = self.streams.pop(session_id, None)
        if stream is not None:
            stream.close_viewers()
            del stream
            release_discarded()

    async def stop_all(self) -> None:
        """Detach from every session (they keep running)."""
        for session_id in list(self._pumps):
            await self.stop(session_id)
