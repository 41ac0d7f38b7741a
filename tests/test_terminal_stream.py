"""TerminalStream with an in-memory attachment: replies, viewers, resync, prefill, resize."""

from __future__ import annotations

import asyncio

import pytest

from runtime.backends.base import Attachment
from runtime.terminal import ChunkKind, ScreenReplica, TerminalStream, Viewer


class FakeAttachment(Attachment):
    """A program's terminal in memory: tests push output and inspect input and sizes."""

    def __init__(self) -> None:
        self.output: asyncio.Queue[bytes] = asyncio.Queue()
        self.writes: list[bytes] = []
        self.resizes: list[tuple[int, int]] = []
        self.closed = False
        self._reading = False

    def push(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.output.put_nowait(chunk)

    def finish(self) -> None:
        self.output.put_nowait(b"")

    async def idle(self) -> None:
        """Wait until the stream has consumed everything pushed and waits for more."""
        while not (self.output.empty() and self._reading):
            await asyncio.sleep(0)

    async def read(self) -> bytes:
        self._reading = True
        try:
            return await self.output.get()
        finally:
            self._reading = False

    async def write(self, data: bytes) -> None:
        self.writes.append(data)

    async def resize(self, cols: int, rows: int) -> None:
        for _ in range(3):  # let concurrent resizes interleave
            await asyncio.sleep(0)
        self.resizes.append((cols, rows))

    async def close(self) -> None:
        self.closed = True


async def started(stream: TerminalStream, prefill: bytes = b"") -> tuple[FakeAttachment, asyncio.Task]:
    attachment = FakeAttachment()
    task = asyncio.create_task(stream.run(attachment, prefill))
    await attachment.idle()
    return attachment, task


def drain(viewer: Viewer, replica: ScreenReplica) -> list[ChunkKind]:
    kinds = []
    while (chunk := viewer.get_nowait()) is not None:
        kinds.append(chunk.kind)
        replica.apply(chunk)
    return kinds


@pytest.mark.parametrize("viewers", [0, 3])
async def test_queries_answered_exactly_once(viewers: int) -> None:
    stream = TerminalStream("s1", 40, 10)
    subscribed = [stream.subscribe() for _ in range(viewers)]
    attachment, task = await started(stream)
    attachment.push(b"hello\x1b[6n", b"\x1b[c")
    await attachment.idle()
    assert attachment.writes == [b"\x1b[1;6R", b"\x1b[?62;22c"]
    for viewer in subscribed:
        replica = ScreenReplica.for_viewer(viewer)
        drain(viewer, replica)
        assert replica.emulator.text() == "hello"
    attachment.finish()
    await task
    assert stream.ended.is_set()


async def test_prefill_is_shown_but_not_answered() -> None:
    stream = TerminalStream("s1", 40, 10)
    attachment, task = await started(stream, prefill=b"old screen\x1b[6n\x1b[c\x1b[>c\r\n")
    assert attachment.writes == []
    assert stream.screen_text() == "old screen"
    attachment.push(b"\x1b[5n")
    await attachment.idle()
    assert attachment.writes == [b"\x1b[0n"]
    attachment.finish()
    await task


async def test_late_joiner_gets_screen_then_live_bytes() -> None:
    stream = TerminalStream("s1", 30, 6)
    attachment, task = await started(stream)
    attachment.push(b"\x1b[31mfirst\r\n", b"\xe4\xb8")  # the late joiner arrives mid-character
    await attachment.idle()
    viewer = stream.subscribe()
    replica = ScreenReplica.for_viewer(viewer)
    attachment.push(b"\x80second\x1b[?1049hALT\x1b[?1049l")
    await attachment.idle()
    drain(viewer, replica)
    assert replica.emulator.text() == stream.screen_text() == "first\n一second"
    assert replica.emulator.buffer[0][0].fg == "red"
    attachment.finish()
    await task


async def test_split_utf8_across_reads() -> None:
    stream = TerminalStream("s1", 20, 4)
    viewer = stream.subscribe()
    replica = ScreenReplica.for_viewer(viewer)
    attachment, task = await started(stream)
    data = "ünï 一😀".encode()
    attachment.push(*(data[i:i + 1] for i in range(len(data))))
    await attachment.idle()
    drain(viewer, replica)
    assert stream.screen_text() == replica.emulator.text() == "ünï 一😀"
    attachment.finish()
    await task


async def test_slow_viewer_is_resynced_without_blocking() -> None:
    stream = TerminalStream("s1", 20, 5, viewer_backlog=500)
    slow = stream.subscribe()
    fast = stream.subscribe()
    slow_replica, fast_replica = ScreenReplica.for_viewer(slow), ScreenReplica.for_viewer(fast)
    attachment, task = await started(stream)
    fast_kinds = []
    for i in range(100):
        attachment.push(b"\x1b[3%dmline %d\r\n" % (i % 8, i))
        await attachment.idle()
        fast_kinds += drain(fast, fast_replica)
    assert slow.resyncs >= 1 and fast.resyncs == 0
    assert slow.pending_bytes <= 500
    slow_kinds = drain(slow, slow_replica)
    assert slow_kinds[0] is ChunkKind.RESYNC
    assert set(fast_kinds) == {ChunkKind.DATA}
    expected = stream.emulator
    for replica in (slow_replica, fast_replica):
        assert replica.emulator.text() == expected.text()
        assert [[replica.emulator.buffer[y][x] for x in range(20)] for y in range(5)] == \
            [[expected.buffer[y][x] for x in range(20)] for y in range(5)]
    attachment.finish()
    await task


async def test_resize_latest_wins_and_active_viewer_size() -> None:
    stream = TerminalStream("s1", 80, 24)
    a = stream.subscribe(100, 30)
    b = stream.subscribe(90, 20)
    attachment, task = await started(stream)
    assert attachment.resizes == [(80, 24)]  # the program learns the size on attach
    await asyncio.gather(stream.resize(100, 30, viewer=a), stream.resize(90, 20, viewer=b))
    assert (stream.emulator.cols, stream.emulator.rows) == (90, 20)
    assert attachment.resizes[-1] == (90, 20)
    await stream.write(b"x", viewer=a)  # a becomes active: its size wins
    assert (stream.emulator.cols, stream.emulator.rows) == (100, 30)
    assert attachment.resizes[-1] == (100, 30) and attachment.writes == [b"x"]
    replica = ScreenReplica.for_viewer(b)
    kinds = drain(b, replica)
    assert kinds.count(ChunkKind.RESIZE) == 3
    assert (replica.emulator.cols, replica.emulator.rows) == (100, 30)
    attachment.finish()
    await task


async def test_rerun_with_fresh_attachment_keeps_screen() -> None:
    stream = TerminalStream("s1", 20, 4)
    viewer = stream.subscribe()
    first, task = await started(stream)
    first.push(b"before restart\r\n")
    first.finish()
    await task
    assert stream.ended.is_set() and not stream.running
    await stream.resize(30, 5)
    second, task = await started(stream)
    assert not stream.ended.is_set()
    assert second.resizes == [(30, 5)]
    second.push(b"after\x1b[6n")
    await second.idle()
    assert second.writes == [b"\x1b[2;6R"] and first.writes == []
    assert stream.screen_text() == "before restart\nafter"
    kinds = drain(viewer, ScreenReplica.for_viewer(viewer))
    assert ChunkKind.ENDED in kinds
    second.finish()
    await task


async def test_ring_buffer_is_bounded_and_unsubscribe_ends_iteration() -> None:
    stream = TerminalStream("s1", 20, 4, ring_bytes=100)
    viewer = stream.subscribe()
    attachment, task = await started(stream)
    payload = bytes(range(48, 58)) * 30
    attachment.push(*(payload[i:i + 7] for i in range(0, len(payload), 7)))
    await attachment.idle()
    assert stream.recent_output() == payload[-100:]
    stream.unsubscribe(viewer)
    received = b"".join([chunk.data async for chunk in viewer])
    assert received == payload
    assert stream.viewers == 0
    attachment.finish()
    await task


async def test_write_without_attachment_is_dropped() -> None:
    stream = TerminalStream("s1", 20, 4)
    await stream.write(b"nobody listens")  # must not raise
    assert stream.title == "" and stream.snapshot()[:2] == (20, 4)


async def test_waiting_viewer_wakes_for_each_chunk() -> None:
    stream = TerminalStream("s1", 20, 4)
    viewer = stream.subscribe()
    received: list[bytes] = []

    async def consume() -> None:
        async for chunk in viewer:
            if chunk.kind is ChunkKind.ENDED:
                return
            received.append(chunk.data)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)  # the consumer is now parked in get()
    attachment, task = await started(stream)
    attachment.push(b"one ", b"two ", b"three")
    attachment.finish()
    await task
    await consumer
    assert b"".join(received) == b"one two three"


async def test_close_viewers_ends_every_feed() -> None:
    stream = TerminalStream("s1", 20, 4)
    viewers = [stream.subscribe() for _ in range(3)]
    stream.close_viewers()
    assert stream.viewers == 0
    for viewer in viewers:
        assert viewer.closed and [chunk async for chunk in viewer] == []
