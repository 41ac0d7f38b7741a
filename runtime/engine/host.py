"""Hosting the one engine of a home: the exclusive lock, its own event loop thread, the socket, and handoff.

Whichever process takes `engine.lock` first hosts the engine (the terminal app, `clauderon serve`, or a
headless `clauderon engine`); everyone else is a client over the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.settings import LoadedSettings

if TYPE_CHECKING:  # imported at boot (`_boot`), not when this module loads
    from runtime.api.server import ApiServer
    from runtime.engine.core import Engine

log = logging.getLogger(__name__)


def try_lock(home: Home, wait: bool = False) -> int | None:
    """The engine lock's fd when this process now holds it, else None (another engine runs)."""
    fd = os.open(home.engine_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    os.set_inheritable(fd, False)
    return fd


def engine_running(home: Home) -> bool:
    fd = try_lock(home)
    if fd is None:
        return True
    os.close(fd)
    return False


def socket_answers(path: Path) -> bool:
    """Whether something accepts connections on the unix socket `path` (a stale file does not)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def setup_logging(home: Home, name: str = "engine") -> None:
    """Log to `CLAUDERON_HOME/logs/<name>.log` (never to the terminal the app draws on)."""
    handler = logging.FileHandler(home.logs / f"{name}.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    if not any(isinstance(h, logging.FileHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.INFO)


class EngineHost:
    """Runs an `Engine` and its `ApiServer` on a private event loop thread of this process."""

    def __init__(self, home: Home, loaded: LoadedSettings, lock_fd: int, *, standalone: bool = False) -> None:
        self.home = home
        self.loaded = loaded
        self.lock_fd: int | None = lock_fd
        self.standalone = standalone
        self.loop = asyncio.new_event_loop()
        self.engine: Engine | None = None
        self.server: ApiServer | None = None
        self.stopped = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="clauderon-engine", daemon=True)

    def start(self, timeout: float = 60.0) -> None:
        """Boot the engine and wait until it serves its socket."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Boot the engine on its thread and return at once (the app draws its first frame meanwhile)."""
        self._thread.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the engine serves its socket; raises `ClauderonError` if it failed to boot."""
        if not self._ready.wait(timeout):
            raise ClauderonError(f"the engine did not start within {timeout:.0f}s; see {self.home.logs / 'engine.log'}")
        if self._error is not None:
            raise self._error if isinstance(self._error, ClauderonError) else ClauderonError(
                f"the engine failed to start: {self._error}; see {self.home.logs / 'engine.log'}"
            )

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._boot())
        except BaseException as exc:  # reported to start()'s caller
            log.exception("engine failed to start")
            self._error = exc
            self._ready.set()
            self._release()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._shutdown())
        self.loop.close()
        self._release()
        self.stopped.set()

    async def _boot(self) -> None:
        from runtime.api.server import ApiServer
        from runtime.engine.core import Engine

        engine = self.engine = Engine(self.home, self.loaded)
        await engine.start()
        server = self.server = ApiServer(engine, on_stop_request=self.request_stop if self.standalone else None)
        socket_path = self.home.socket_path
        await server.start(socket_path)
        info = {"pid": os.getpid(), "socket": str(socket_path), "started_at": time.time(),
                "standalone": self.standalone}
        self.home.engine_info.write_text(json.dumps(info))
        if socket_path.parent != self.home.root:
            self.home.socket_pointer.write_text(str(socket_path))
        log.info("engine %d serving %s", os.getpid(), socket_path)

    async def _shutdown(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.engine is not None:
            await self.engine.stop()
        socket_path = self.home.socket_path
        socket_path.unlink(missing_ok=True)
        if socket_path.parent != self.home.root:
            with contextlib.suppress(OSError):  # the short directory, once nothing else uses it
                socket_path.parent.rmdir()
        self.home.engine_info.unlink(missing_ok=True)

    def _release(self) -> None:
        if self.lock_fd is not None:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
            os.close(self.lock_fd)
            self.lock_fd = None

    def request_stop(self) -> None:
        """Stop from any thread; returns at once."""
        self.loop.call_soon_threadsafe(self.loop.stop)

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self.request_stop()
            self._thread.join(timeout)

    def running_count(self) -> int:
        if self.engine is None:
            return 0
        return sum(s.status == "running" for s in self.engine.store.sessions(include_archived=False))

    def handoff(self) -> int:
        """Give the engine to a background `clauderon engine` so running agents keep their engine; its pid."""
        proc = spawn_background_engine(self.home, wait_lock=True)
        log.info("handing the engine over to background engine pid %d", proc.pid)
        self.stop()
        return proc.pid


def spawn_background_engine(home: Home, *, wait_lock: bool = False) -> subprocess.Popen[bytes]:
    """Start a detached headless `clauderon engine` (own session, stdio to its log)."""
    args = [sys.executable, "-m", "clauderon_tui.cli", "engine"]
    if wait_lock:
        args.append("--wait-lock")
    env = {**os.environ, "CLAUDERON_HOME": str(home.root)}
    # The child gets its own copy of the log descriptor; ours is closed once it is spawned.
    with open(home.logs / "engine-background.log", "ab") as log_file:
        return subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, start_new_session=True, env=env,
            cwd="/", close_fds=True,
        )


def wait_for_socket(home: Home, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> Path:
    """Wait until an engine serves the home's socket; fail fast with its last log line if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = home.socket_path
        # The lock says an engine process exists; only a real connection says it serves. A socket file
        # left by an engine killed with -9 is still there while its successor boots.
        if engine_running(home) and socket_answers(path):
            return path
        if proc is not None and proc.poll() is not None and not engine_running(home):
            raise ClauderonError(f"the background engine exited at start: {_last_log_line(home)}")
        time.sleep(0.05)
    raise ClauderonError(f"no engine answered within {timeout:.0f}s; see {home.logs / 'engine-background.log'}")


def _last_log_line(home: Home) -> str:
    for name in ("engine-background.log", "engine.log"):
        try:
            lines = [line for line in (home.logs / name).read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            continue
        if lines:
            return lines[-1].strip()
    return f"no log; see {home.logs}"
