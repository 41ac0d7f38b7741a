"""Attach and exec over the Kubernetes websocket channel protocol, adapted to asyncio.

The official client's `kubernetes.stream.stream` gives a blocking `WSClient`. Frames carry a channel
byte: 0 stdin, 1 stdout, 2 stderr, 3 the final status (JSON), 4 terminal resize (JSON
`{"Width": w, "Height": h}`). It must be opened with `binary=True`: in text mode every frame is
decoded on its own, so a UTF-8 character split across two frames turns into replacement characters.

`stream()` swaps `call_api` on the `ApiClient` it is given for the duration of the call, so it must
never share a client with other threads' ordinary requests: every stream gets a fresh `CoreV1Api`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from websocket import WebSocketException

from runtime.backends.base import Attachment, ExecResult
from runtime.errors import ClauderonError

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, STATUS, RESIZE = 0, 1, 2, 3, 4
_POLL_SECONDS = 0.2  # how long the reader blocks per wait, so close() is noticed promptly
_CHUNK = 64 * 1024

ApiFactory = Callable[[], "CoreV1Api"]  # returns a fresh CoreV1Api on its own ApiClient


class ChannelStream(Protocol):
    """What is used of the client's `WSClient` (which is unannotated), opened with `binary=True`."""

    def is_open(self) -> bool: ...

    def update(self, timeout: float = 0) -> None: ...

    def read_channel(self, channel: int, timeout: float = 0) -> bytes: ...

    def write_channel(self, channel: int, data: bytes) -> None: ...

    def close_channel(self, channel: int) -> None: ...

    def close(self, **kwargs: Any) -> None: ...


def exit_code_of(status_json: bytes | str) -> int | None:
    """The exit code in a channel-3 status (`Success` is 0); None when there is none."""
    if not status_json:
        return None
    try:
        status = json.loads(status_json)
    except ValueError:
        return None
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                return None
    return None


def open_stream(api_factory: ApiFactory, kind: str, namespace: str, pod: str, *, container: str,
                command: list[str] | None = None, tty: bool, stdin: bool) -> ChannelStream:
    """A connected `WSClient` for `kind` `attach` or `exec` (blocking; run it in a thread)."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    api = api_factory()
    kwargs: dict[str, Any] = dict(container=container, stdin=stdin, stdout=True, stderr=not tty, tty=tty,
                                  _preload_content=False, binary=True)
    try:
        if kind == "exec":
            ws: ChannelStream = stream(api.connect_get_namespaced_pod_exec, pod, namespace, command=command, **kwargs)
        else:
            ws = stream(api.connect_get_namespaced_pod_attach, pod, namespace, **kwargs)
        return ws
    except ApiException as exc:
        raise ClauderonError(f"cannot {kind} into pod {pod} in namespace {namespace}: {_handshake_error(exc)}",
                             status=503) from exc


def _handshake_error(exc: ApiException) -> str:
    """One line from a failed websocket upgrade: the API's Status message, else the status line.

    websocket-client reports `Handshake status 404 Not Found -+-+- {headers} -+-+- {body}`."""
    parts = str(exc.reason or exc.status).split(" -+-+- ")
    try:
        message = json.loads(parts[-1]).get("message") if len(parts) > 1 else None
    except (ValueError, AttributeError):
        message = None
    return f"{message} ({parts[0]})" if message else parts[0].splitlines()[0]


class KubeAttachment(Attachment):
    """A TTY attach stream; a reader thread feeds an asyncio queue so `read()` never blocks the loop."""

    def __init__(self, ws: ChannelStream, loop: asyncio.AbstractEventLoop,
                 exit_code_fallback: Callable[[], int | None] | None = None) -> None:
        """`exit_code_fallback` (called on the reader thread) finds the exit code when channel 3 has none:
        some runtimes end an attach stream without a status."""
        self._ws = ws
        self._fallback = exit_code_fallback
        self._loop = loop
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._closing = threading.Event()
        self._ended = False
        self.exit_code: int | None = None
        """The program's exit code from channel 3, once the stream has ended with one."""
        self._thread = threading.Thread(target=self._pump, name="kube-attach", daemon=True)

    def start(self, first: bytes = b"") -> None:
        """Begin delivering output, after `first` (a replay of what was printed earlier)."""
        if first:
            self._queue.put_nowait(first)
        self._thread.start()

    def take_buffered(self) -> bytes:
        """Everything the live stream delivered so far (before `start`), removed from the stream."""
        self._ws.update(timeout=0)
        data = self._ws.read_channel(STDOUT) or b""
        return data

    def _pump(self) -> None:
        ws = self._ws
        try:
            while not self._closing.is_set() and ws.is_open():
                ws.update(timeout=_POLL_SECONDS)
                data = (ws.read_channel(STDOUT) or b"") + (ws.read_channel(STDERR) or b"")
                if data:
                    self._loop.call_soon_threadsafe(self._queue.put_nowait, data)
            self.exit_code = exit_code_of(ws.read_channel(STATUS))
            if self.exit_code is None and self._fallback is not None:
                self.exit_code = self._fallback()
        except Exception as exc:  # a dropped connection ends the stream like an exit does
            log.info("attach stream ended: %s", exc)
        finally:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, b"")

    async def read(self) -> bytes:
        if self._ended:
            return b""
        data = await self._queue.get()
        if not data:
            self._ended = True
        return data

    async def _send(self, channel: int, data: bytes) -> None:
        if not self._ws.is_open():
            return
        try:
            await asyncio.to_thread(self._ws.write_channel, channel, data)
        except (WebSocketException, OSError) as exc:
            # The stream is ending; `read()` reports that with b"" once the reader has drained it.
            log.debug("dropped %d bytes for channel %d: %s", len(data), channel, exc)

    async def write(self, data: bytes) -> None:
        if data:
            await self._send(STDIN, data)

    async def resize(self, cols: int, rows: int) -> None:
        await self._send(RESIZE, json.dumps({"Width": cols, "Height": rows}).encode())

    async def close(self) -> None:
        self._closing.set()
        # Let the reader stop first (it wakes every _POLL_SECONDS), so two threads never read the socket.
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 2 * _POLL_SECONDS + 1)
        await asyncio.to_thread(close_stream, self._ws)


def close_stream(ws: ChannelStream) -> None:
    """Close the websocket and its socket: when the server closed first, `WebSocket.close()` returns early
    and would leave the socket open."""
    try:
        ws.close()
    except (WebSocketException, OSError) as exc:
        log.debug("closing a stream: %s", exc)
    sock = getattr(ws, "sock", None)  # the websocket-client socket, not part of the channel interface
    if sock is not None:
        sock.shutdown()


def join_replay(log_bytes: bytes, live: bytes) -> bytes:
    """The pod log followed by the live bytes it does not already end with.

    The attach opens before the log is read, so whatever the program printed in between is in both:
    drop the longest prefix of `live` that the log ends with."""
    for k in range(min(len(log_bytes), len(live)), 0, -1):
        if log_bytes.endswith(live[:k]):
            return log_bytes + live[k:]
    return log_bytes + live


def run_exec(api_factory: ApiFactory, namespace: str, pod: str, container: str, argv: list[str], *,
             stdin: bytes | None = None, timeout: float = 600.0) -> ExecResult:
    """Run `argv` in the pod without a TTY, feeding `stdin`, and collect its output (blocking).

    Input is written and then the stream is read to its end; a command that must know where its input
    ends reads an exact byte count (`head -c N`), because only the v5 protocol can close stdin."""
    ws = open_stream(api_factory, "exec", namespace, pod, container=container, command=argv,
                     tty=False, stdin=stdin is not None)
    try:
        if stdin is not None:
            for start in range(0, len(stdin), _CHUNK):
                ws.write_channel(STDIN, stdin[start:start + _CHUNK])
                ws.update(timeout=0)  # keep draining output so neither side's buffers fill up
            ws.close_channel(STDIN)
        out, err = bytearray(), bytearray()
        status = b""
        deadline = _Deadline(timeout)
        while ws.is_open():
            if deadline.passed():
                raise ClauderonError(f"`{' '.join(argv[:3])} ...` in pod {pod} took longer than {timeout:.0f}s",
                                     status=504)
            ws.update(timeout=min(1.0, deadline.left()))
            out += ws.read_channel(STDOUT) or b""
            err += ws.read_channel(STDERR) or b""
            status += ws.read_channel(STATUS) or b""
        out += ws.read_channel(STDOUT) or b""
        err += ws.read_channel(STDERR) or b""
        status += ws.read_channel(STATUS) or b""
        return ExecResult(bytes(out), bytes(err), exit_code_of(status))
    finally:
        close_stream(ws)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def passed(self) -> bool:
        return self.left() <= 0
