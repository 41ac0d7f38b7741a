"""The engine's event bus: every UI subscribes and gets a fresh snapshot, then changes as they happen."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

# A subscriber this far behind is dropped; its client reconnects and starts again from a snapshot.
MAX_PENDING_EVENTS = 2000


class EventBus:
    """Fan-out of JSON-able event dicts to any number of subscribers, never blocking the publisher."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(MAX_PENDING_EVENTS)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(queue)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping an event subscriber that fell %d events behind", MAX_PENDING_EVENTS)
                self._subscribers.discard(queue)
                _end(queue)

    def close(self) -> None:
        for queue in list(self._subscribers):
            _end(queue)
        self._subscribers.clear()


def _end(queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Tell a subscriber its feed is over (making room when it is full); its client reconnects to a snapshot."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(None)
