"""Run sessions on the host, unsandboxed, each under a pty held by a detached holder process.

The holder (`local_holder`) outlives the engine, so a restarted engine finds its sessions again through
the holders' state files in the home's `run/` folder and re-attaches over their unix sockets.
`backend_id` is the session id: it names the state file (`run/<session_id>.json`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import struct
import sys
from pathlib import Path
from typing import Any

from runtime.backends.base import Attachment, Backend, Found, LaunchSpec, ProgressFn
from runtime.backends.local_holder import (
    ATTACH,
    EXIT,
    INPUT,
    MISSING,
    OUTPUT,
    READY,
    REPAIR_SECONDS,
    REPLAY,
    RESIZE,
    TAIL,
    current_boot_id,
    frame,
    process_identity,
    read_frame,
    read_state_file,
)
from runtime.backends.registry import capabilities_of
from runtime.errors import ClauderonError
from runtime.home import Home, fits_unix_socket
from runtime.models import Status

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STOP_WAIT_SECONDS = 5.0
STATE_READ_ATTEMPTS = 6


# The host variables a local agent inherits; everything else (API keys above all) stays in the engine.
PASSED_HOST_ENV = ("PATH", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR")


class LocalBackend(Backend):
    """Sessions as host processes under a pty. Constructed with the `Home` whose `run/` holds the state."""

    name = "local"
    capabilities = capabilities_of(name)

    def __init__(self, home: Home) -> None:
        self.home = home

    # -- paths and state ---------------------------------------------------------------------------

    def state_file(self, session_id: str) -> Path:
        return self.home.run / f"{session_id}.json"

    def socket_for(self, session_id: str) -> Path:
        """`run/<session>.sock`, or in the home's private short directory when that path is too long to bind."""
        natural = self.home.run / f"{session_id}.sock"
        if fits_unix_socket(natural):
            return natural
        return self.home.short_socket_dir() / f"{session_id}.sock"

    async def _read_state(self, session_id: str) -> dict[str, Any] | None:
        """The holder's state file; a damaged one is rewritten by its holder within a second (it checks
        its file every `REPAIR_SECONDS`), so it is read again for a while before the holder counts as gone."""
        path = self.state_file(session_id)
        for _ in range(STATE_READ_ATTEMPTS):
            state = read_state_file(path)
            if state is MISSING:
                return None
            if state is not None:
                return state
            await asyncio.sleep(REPAIR_SECONDS / 2)
        log.warning("the state file %s is damaged and no holder repaired it", path)
        return None

    # -- Backend ----------------------------------------------------------------------------------

    async def available(self) -> tuple[bool, str]:
        return True, "local processes on this host (no sandbox: the agent sees everything you can)"

    async def create(self, spec: LaunchSpec, progress: ProgressFn | None = None) -> str:
        if not spec.host_workdir or not Path(spec.host_workdir).is_dir():
            raise ClauderonError(f"local session {spec.name} needs an existing host working directory, "
                                 f"got {spec.host_workdir!r}")
        if await self._read_state(spec.session_id) is not None:
            raise ClauderonError(f"local session {spec.session_id} already has a holder: remove it first")
        # Only a plain login environment: the engine's own variables may hold real credentials.
        env = {k: os.environ[k] for k in PASSED_HOST_ENV if k in os.environ}
        env = {**env, "TERM": os.environ.get("TERM", "xterm-256color"), **spec.env}
        env.pop("CLAUDERON_HOLDER_STATUS_FD", None)
        socket_path = str(self.socket_for(spec.session_id))
        launch = {
            "session_id": spec.session_id, "home_id": spec.home_id, "name": spec.name, "labels": spec.labels,
            "command": spec.command, "cwd": spec.host_workdir, "env": env,
            "cols": spec.cols, "rows": spec.rows,
            "socket": socket_path,
            "state_file": str(self.state_file(spec.session_id)),
            "log": str(self.home.logs / f"local-{spec.session_id}.log"),
        }
        spec_file = self.home.run / f"{spec.session_id}.launch.json"
        fd = os.open(spec_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(launch, handle)
        # The launcher exits as soon as the holder is serving; PYTHONPATH only lets it import us.
        python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        launcher_env = {**os.environ, "PYTHONPATH": python_path}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "runtime.backends.local_holder", str(spec_file),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=launcher_env, cwd=str(PROJECT_ROOT),
        )
        out, err = await proc.communicate()
        spec_file.unlink(missing_ok=True)
        verdict = out.decode(errors="replace").strip()
        if proc.returncode != 0 or not verdict.startswith("ok"):
            await self._cleanup(spec.session_id, socket_path)
            detail = verdict or (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise ClauderonError(f"cannot start local session {spec.name}: {detail.removeprefix('error: ')}")
        log.info("local session %s held by pid %s", spec.session_id, verdict.split()[-1])
        return spec.session_id

    async def remove_leftovers(self, session_id: str, name: str, home_id: str) -> None:
        """A local session's holder is known by the session id alone."""
        await self.remove(session_id)

    async def remove(self, backend_id: str) -> None:
        state = await self._read_state(backend_id)
        if state is None:
            return
        if state.get("status") == "running":
            # The program runs in its own session (ptyprocess calls setsid): its pgid is its pid. A pid
            # is signalled only while it is still the process the state file names (not a reused one).
            for key, kill in (("child", os.killpg), ("pid", os.kill)):
                pid = _alive(state, key)
                if pid:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        kill(pid, signal.SIGKILL if kill is os.killpg else signal.SIGTERM)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STOP_WAIT_SECONDS
            while _alive(state) and loop.time() < deadline:
                await asyncio.sleep(0.05)
            if pid := _alive(state):
                os.kill(pid, signal.SIGKILL)
        await self._cleanup(backend_id, state.get("socket"))

    async def pause(self, backend_id: str, paused: bool) -> None:
        """SIGSTOP / SIGCONT to the program's process group (the holder itself keeps serving the terminal)."""
        state = await self._read_state(backend_id)
        pid = _alive(state, "child") if state else None
        if not pid:
            raise ClauderonError(f"session {backend_id} has no running program to {'pause' if paused else 'resume'}")
        try:
            os.killpg(pid, signal.SIGSTOP if paused else signal.SIGCONT)
        except (ProcessLookupError, PermissionError) as exc:
            raise ClauderonError(f"cannot signal the program of {backend_id}: {exc.strerror or exc}") from exc

    async def _cleanup(self, session_id: str, socket: str | None) -> None:
        if socket:
            Path(socket).unlink(missing_ok=True)
        self.state_file(session_id).unlink(missing_ok=True)

    async def status(self, backend_id: str) -> Status:
        state = await self._read_state(backend_id)
        if state is None:
            return Status.FAILED
        return _status_of(state)

    async def lost_in_restart(self, backend_id: str, seen_running_at: float) -> str | None:
        """A holder that was running in an earlier boot of this host went with it."""
        state = await self._read_state(backend_id)
        if state is None or state.get("status") != "running" or not state.get("pid_identity"):
            return None
        booted_in = state["pid_identity"].split(":", 1)[0]
        if booted_in != current_boot_id():
            return "the host restarted"
        return None

    async def list_owned(self, home_id: str) -> list[Found]:
        found = []
        for path in sorted(self.home.run.glob("*.json")):
            if path.name.endswith(".launch.json"):
                continue
            state = await self._read_state(path.stem)
            if state is not None and state.get("home_id") == home_id:
                found.append(Found(session_id=state["session_id"], backend_id=state["session_id"],
                                   status=_status_of(state), labels=state.get("labels") or {}))
        return found

    async def _connect(self, backend_id: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        state = await self._read_state(backend_id)
        if state is None or _status_of(state) != Status.RUNNING:
            raise ClauderonError(f"local session {backend_id} is not running: start it again")
        try:
            return await asyncio.open_unix_connection(state["socket"])
        except OSError as exc:
            raise ClauderonError(f"cannot reach local session {backend_id}'s holder: {exc.strerror or exc}") from exc

    async def attach(self, backend_id: str, *, replay: bool = False) -> Attachment:
        reader, writer = await self._connect(backend_id)
        writer.write(frame(ATTACH, REPLAY if replay else b""))
        first = await read_frame(reader)
        if first is None or first[0] != READY:
            writer.close()
            raise ClauderonError(f"local session {backend_id}'s holder refused the attach")
        return LocalAttachment(reader, writer)

    async def recent_output(self, backend_id: str, max_bytes: int) -> bytes:
        try:
            reader, writer = await self._connect(backend_id)
        except ClauderonError:
            return b""
        try:
            writer.write(frame(TAIL, struct.pack(">I", max(0, max_bytes))))
            reply = await read_frame(reader)
            return reply[1] if reply and reply[0] == OUTPUT else b""
        finally:
            writer.close()


class LocalAttachment(Attachment):
    """One attach connection to a holder, speaking the framed protocol in `local_holder`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ended = False
        self.exit_code: int | None = None
        """The program's exit status once `read` has returned b"" because it exited."""

    async def read(self) -> bytes:
        while not self._ended:
            message = await read_frame(self._reader)
            if message is None:
                self._ended = True
                break
            kind, payload = message
            if kind == OUTPUT and payload:
                return payload
            if kind == EXIT:
                self.exit_code = int(payload or b"0")
                self._ended = True
        return b""

    async def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise ClauderonError("the local session's terminal is detached: attach again to send input")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise ClauderonError(f"the local session's holder went away: {exc}") from exc

    async def write(self, data: bytes) -> None:
        await self._send(frame(INPUT, data))

    async def resize(self, cols: int, rows: int) -> None:
        await self._send(frame(RESIZE, struct.pack(">HH", cols, rows)))

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


def _alive(state: dict[str, Any], which: str = "pid") -> int | None:
    """The holder's (`pid`) or its program's (`child`) pid while that very process runs (not a zombie,
    not a later process given the same pid after a reboot), else None."""
    pid: int | None = state.get("child_pid" if which == "child" else "pid")
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            if handle.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return None
    except (FileNotFoundError, IndexError):
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
    identity = state.get("child_identity" if which == "child" else "pid_identity")
    if identity is not None and process_identity(pid) != identity:
        return None  # the state file names a process that is gone; this pid is someone else's now
    return pid


def _status_of(state: dict[str, Any]) -> Status:
    if state.get("status") == "exited":
        return Status.STOPPED
    # "running" but the holder is gone: it was killed or crashed, so the program went with it.
    return Status.RUNNING if _alive(state) else Status.FAILED
