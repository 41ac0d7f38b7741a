"""The Docker daemon out of reach when the engine starts: a state of the engine, not of its sessions.

The engine talks to Docker through a socket forwarder the test can cut. With it cut, a restarted engine
keeps the running session as it was (not `failed`), keeps serving the sandbox's proxy credentials (the
container is still running: its agent must not get 407), says Docker is unreachable, and once the
forwarder is back it re-adopts the session and its terminal is live again.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from pathlib import Path

import docker
import pytest

from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

DOCKER_SOCKET = "/var/run/docker.sock"


class SocketForwarder:
    """A unix socket that forwards every connection to the Docker daemon's, until `cut()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []

    def open(self) -> None:
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(self.path))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listener and every forwarded connection, and remove the socket file."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._open.clear()
        self.path.unlink(missing_ok=True)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            daemon = socket.socket(socket.AF_UNIX)
            daemon.connect(DOCKER_SOCKET)
            self._open += [client, daemon]
            for src, dst in ((client, daemon), (daemon, client)):
                threading.Thread(target=_pipe, args=(src, dst), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def test_docker_unreachable_at_start_keeps_the_session_and_re_adopts_it(short_tmp: Path, git_repo: Path) -> None:
    forwarder = SocketForwarder(short_tmp / "docker.sock")
    forwarder.open()
    cli = Cli(short_tmp / "home", image=TEST_AGENT_IMAGE)
    cli.env["DOCKER_HOST"] = f"unix://{forwarder.path}"
    try:
        cli("create", "--repo", str(git_repo), "--name", "keep", "--agent", "shell")
        cli.wait_screen("keep", "/workspace")
        cli.kill_engine(signal.SIGKILL)
        forwarder.cut()

        [record] = cli("list", "--json", timeout=90).json()  # a fresh engine, Docker out of reach
        assert record["status"] == "running", record
        status = cli("engine", "status", "--json").json()
        assert status["backends"]["docker"]["available"] is False
        # The container runs on: its agent still reaches the proxy with its credentials (no 407).
        container = docker.from_env().containers.get("clauderon-keep")
        code, out = container.exec_run(
            ["sh", "-c", 'curl -s -o /dev/null -w "%{http_code}" --noproxy "" -x "$HTTPS_PROXY" http://127.0.0.1:9/'])
        assert out.decode().strip() not in ("407", "000", ""), out

        forwarder.open()  # Docker is back: the engine re-adopts the session by itself
        _wait_live(cli, "keep")
        cli("send", "keep", "--enter", "echo back-$((6*7))")
        cli.wait_screen("keep", "back-42", timeout=60)
        [record] = cli("list", "--json").json()
        assert record["status"] == "running"
    finally:
        forwarder.cut()
        forwarder.open()
        cli.cleanup()
        forwarder.cut()


def _wait_live(cli: Cli, name: str, timeout: float = 60) -> None:
    """Wait until the session's terminal is live again (the engine retries Docker with a backoff); a
    deadline for slow machines, not a speed check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cli("screen", name, check=False).code == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"the terminal of {name} never came back after Docker returned")
