"""The detached process that holds one local session's pty: `python -m runtime.backends.local_holder SPEC`.

Why a separate process: the agent must outlive the engine (a restart, a `kill -9`), so the pty master
cannot live in the engine. The launcher forks once; the child calls `setsid` (no controlling terminal,
its own process group), redirects stdio to the session's log and becomes the holder; the launcher
exits as soon as the holder reports "ok <pid>" (or an error) on a pipe, so the engine reaps it at once
and the holder is re-parented to init.

The holder spawns the command under a pty (ptyprocess), keeps a ring buffer of recent output, serves a
unix socket, writes a JSON state file (pid, socket, session and home ids, status, exit code) that
`LocalBackend` reads after an engine restart, and exits when the program exits, after telling attached
clients its exit status and removing its socket.

Wire protocol (both directions): frames of a 1-byte type, a 4-byte big-endian length, then the payload.
The client's first frame says what it wants:
    ATTACH  b"a" (empty or b"r")  holder answers READY b"k" (with b"r": then the ring buffer as one OUTPUT
                                frame), then streams OUTPUT b"o" frames, and finally
                                EXIT b"x" (payload: the exit code as ASCII) before closing;
                                after READY the client may send INPUT b"i" (bytes for the program) and
                                RESIZE b"r" (payload: cols and rows as two big-endian uint16).
    TAIL    b"t" (uint32 max)   holder answers one OUTPUT frame with the last `max` bytes and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import signal
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from proxy import atomic_write

if TYPE_CHECKING:
    from ptyprocess import PtyProcess

log = logging.getLogger("clauderon.local_holder")

HEADER = struct.Struct(">cI")
ATTACH, TAIL, READY, OUTPUT, INPUT, RESIZE, EXIT = b"a", b"t", b"k", b"o", b"i", b"r", b"x"
REPLAY = b"r"  # ATTACH payload: send the ring buffer (output since start, bounded) first
RING_BYTES = 256 * 1024
# A viewer this far behind is dropped rather than letting the holder's memory grow without bound.
MAX_CLIENT_BACKLOG = 8 * 1024 * 1024
# Input queued for the program beyond what its pty takes; past this the viewer's socket is no longer read.
MAX_PENDING_INPUT = 1024 * 1024
REPAIR_SECONDS = 0.5
"""How often a holder checks that its state file still says what it is."""


def process_identity(pid: int | None) -> str | None:
    """What tells this process from a later one given the same pid (after a reboot, or pid reuse): the
    boot's id and the process's start time in clock ticks since boot. None when it cannot be read."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return f"{current_boot_id()}:{int(stat.rsplit(b')', 1)[1].split()[19])}"
    except (OSError, IndexError, ValueError):
        return None


def current_boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """The next (type, payload), or None at end of stream."""
    try:
        header = await reader.readexactly(HEADER.size)
        kind, length = HEADER.unpack(header)
        return kind, await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace the state file (readers never see half a file)."""
    atomic_write(path, json.dumps(state), mode=0o600)


class Absent(enum.Enum):
    """The type of `MISSING`, a sentinel a type checker can tell apart from a state."""

    MISSING = "missing"


MISSING: Final = Absent.MISSING
"""`read_state_file` of a file that does not exist (None means one that exists but is damaged)."""


def read_state_file(path: Path) -> dict[str, Any] | None | Literal[Absent.MISSING]:
    try:
        state = json.loads(path.read_bytes())
    except FileNotFoundError:
        return MISSING
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


class Holder:
    """Owns the pty and the socket for one session; runs until the program exits."""

    def __init__(self, spec: dict[str, Any], proc: PtyProcess) -> None:
        """`proc` is the program, already spawned (`spawn_program`)."""
        self.spec = spec
        self.state_path = Path(spec["state_file"])
        self.socket_path = Path(spec["socket"])
        self.ring = bytearray()
        self.clients: set[asyncio.StreamWriter] = set()
        self.proc = proc
        self.done = asyncio.Event()
        self.ready = asyncio.Event()
        self.exit_code: int | None = None
        self.pending_input = bytearray()
        self.writer_armed = False
        self.input_room = asyncio.Event()
        self.input_room.set()

    def state(self, status: str) -> dict[str, Any]:
        child = self.proc.pid
        return {
            "pid": os.getpid(), "child_pid": child,
            "pid_identity": process_identity(os.getpid()), "child_identity": process_identity(child),
            "socket": str(self.socket_path), "session_id": self.spec["session_id"],
            "home_id": self.spec["home_id"], "name": self.spec["name"], "status": status,
            "exit_code": self.exit_code, "log": self.spec.get("log"), "labels": self.spec.get("labels") or {},
        }

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        if self.socket_path.exists():
            self.socket_path.unlink()
        server = await asyncio.start_unix_server(self.on_client, path=str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        loop.add_reader(self.proc.fd, self.on_output)
        loop.add_signal_handler(signal.SIGCHLD, self.check_child)
        loop.add_signal_handler(signal.SIGTERM, self.terminate)
        running = self.state("running")
        write_state(self.state_path, running)
        self.ready.set()
        repair = asyncio.ensure_future(self.keep_state(running))
        await self.done.wait()
        repair.cancel()
        server.close()
        self.socket_path.unlink(missing_ok=True)
        write_state(self.state_path, self.state("exited"))
        for writer in list(self.clients):
            writer.write(frame(EXIT, str(self.exit_code).encode()))
            writer.close()
        await asyncio.sleep(0)  # let the transports flush the EXIT frames

    def on_output(self) -> None:
        try:
            data = os.read(self.proc.fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every holder of the pty's slave side is gone
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.proc.fd)
            asyncio.ensure_future(self.reap())
            return
        self.ring += data
        if len(self.ring) > RING_BYTES:
            del self.ring[: len(self.ring) - RING_BYTES]
        packet = frame(OUTPUT, data)
        for writer in list(self.clients):
            if writer.transport.get_write_buffer_size() > MAX_CLIENT_BACKLOG:
                log.warning("dropping a viewer that fell %d bytes behind", MAX_CLIENT_BACKLOG)
                self.clients.discard(writer)
                writer.close()
            else:
                writer.write(packet)

    def check_child(self) -> None:
        """SIGCHLD: the program may have exited while a grandchild still holds the pty open."""
        if not self.proc.isalive():
            asyncio.ensure_future(self.reap())

    async def keep_state(self, running: dict[str, Any]) -> None:
        """The engine finds this holder by its state file alone: one damaged or deleted while it runs (a
        crash mid-write elsewhere, a user's mistake) is written again. `running` is what it said at start:
        nothing in it changes while the program runs."""
        while True:
            await asyncio.sleep(REPAIR_SECONDS)
            if read_state_file(self.state_path) != running:
                write_state(self.state_path, running)

    async def reap(self) -> None:
        if self.done.is_set():
            return
        await asyncio.to_thread(self.proc.wait)
        status = self.proc.exitstatus
        self.exit_code = status if status is not None else -(self.proc.signalstatus or 0)
        log.info("program exited with %s", self.exit_code)
        self.done.set()

    def terminate(self) -> None:
        """SIGTERM to the holder: end the program's whole process group, then exit through `reap`."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        asyncio.ensure_future(self.reap())

    async def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await read_frame(reader)
        if first is None:
            writer.close()
            return
        kind, payload = first
        if kind == TAIL:
            (limit,) = struct.unpack(">I", payload)
            writer.write(frame(OUTPUT, bytes(self.ring[-limit:]) if limit else b""))
            await writer.drain()
            writer.close()
            return
        if kind != ATTACH:
            writer.close()
            return
        writer.write(frame(READY))
        if payload == REPLAY and self.ring:
            # Same instant as joining `clients` (no await between): nothing lost, nothing twice.
            writer.write(frame(OUTPUT, bytes(self.ring)))
        self.clients.add(writer)
        try:
            while (message := await read_frame(reader)) is not None:
                kind, payload = message
                if kind == INPUT:
                    self.write_input(payload)
                    await self.input_room.wait()  # back-pressure on the viewer, never a blocked loop
                elif kind == RESIZE and len(payload) == 4:
                    cols, rows = struct.unpack(">HH", payload)
                    self.proc.setwinsize(rows, cols)
        finally:
            self.clients.discard(writer)
            writer.close()

    def write_input(self, data: bytes) -> None:
        """Queue input for the program. Writes never block the loop that also drains the program's output:
        a big paste into a program that echoes it (a shell, an agent's prompt) would otherwise deadlock,
        the pty's input full while its output is never read."""
        self.pending_input += data
        self._flush_input()

    def _flush_input(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending_input:
            try:
                written = os.write(self.proc.fd, self.pending_input)
            except BlockingIOError:
                break
            except OSError:  # the program is gone: its input goes nowhere
                self.pending_input.clear()
                break
            del self.pending_input[:written]
        if self.pending_input and not self.writer_armed:
            loop.add_writer(self.proc.fd, self._flush_input)
            self.writer_armed = True
        elif not self.pending_input and self.writer_armed:
            loop.remove_writer(self.proc.fd)
            self.writer_armed = False
        if len(self.pending_input) < MAX_PENDING_INPUT:
            self.input_room.set()
        else:
            self.input_room.clear()


def spawn_program(spec: dict[str, Any]) -> PtyProcess:
    """Spawn the program under a pty (before the loop runs, so the fork happens in a single-threaded process)."""
    from ptyprocess import PtyProcess

    proc = PtyProcess.spawn(
        spec["command"], cwd=spec["cwd"], env=spec["env"], dimensions=(spec["rows"], spec["cols"]),
    )
    os.set_blocking(proc.fd, False)
    return proc


def _daemonize(log_path: str) -> int | None:
    """Fork; the parent returns the read end of a status pipe, the child (new session) returns None."""
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        return read_end
    os.close(read_end)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    logfd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(logfd, 1)
    os.dup2(logfd, 2)
    os.environ["CLAUDERON_HOLDER_STATUS_FD"] = str(write_end)
    return None


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    spec_path.unlink(missing_ok=True)  # it holds the program's environment: keep it no longer than needed
    status_pipe = _daemonize(spec["log"])
    if status_pipe is not None:  # the launcher: relay the holder's verdict and exit
        with os.fdopen(status_pipe, "rb") as pipe:
            verdict = pipe.read().decode(errors="replace").strip() or "error: the holder died while starting"
        print(verdict, flush=True)
        return 0 if verdict.startswith("ok") else 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    status_fd = int(os.environ.pop("CLAUDERON_HOLDER_STATUS_FD"))
    try:
        proc = spawn_program(spec)
    except Exception as exc:
        os.write(status_fd, f"error: cannot start {spec['command'][0]}: {exc}".encode())
        return 1
    holder = Holder(spec, proc)

    async def run() -> None:
        serving = asyncio.ensure_future(holder.serve())
        ready = asyncio.ensure_future(holder.ready.wait())
        await asyncio.wait([serving, ready], return_when=asyncio.FIRST_COMPLETED)
        if serving.done() and serving.exception():
            os.write(status_fd, f"error: {serving.exception()}".encode())
        else:
            os.write(status_fd, f"ok {os.getpid()}".encode())
        os.close(status_fd)
        await serving

    try:
        asyncio.run(run())
    except Exception:
        log.exception("holder failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
