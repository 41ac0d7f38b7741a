"""The event bus never blocks its publisher; a subscriber that falls behind is ended, not waited for."""

from __future__ import annotations

from runtime.events import MAX_PENDING_EVENTS, EventBus


async def test_fan_out_and_close() -> None:
    bus = EventBus()
    a, b = bus.subscribe(), bus.subscribe()
    bus.publish({"n": 1})
    assert a.get_nowait() == {"n": 1} and b.get_nowait() == {"n": 1}
    bus.close()
    assert a.get_nowait() is None and b.get_nowait() is None


async def test_slow_subscriber_is_ended_and_others_keep_going() -> None:
    bus = EventBus()
    slow, fast = bus.subscribe(), bus.subscribe()
    for n in range(MAX_PENDING_EVENTS + 5):
        bus.publish({"n": n})
        fast.get_nowait()
    drained = [slow.get_nowait() for _ in range(slow.qsize())]
    assert drained[-1] is None  # the end marker, so its client reconnects from a fresh snapshot
    bus.publish({"n": "after"})
    assert fast.get_nowait() == {"n": "after"}
    assert slow.empty()
