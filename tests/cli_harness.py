"""Runs the real `clauderon` CLI against a throwaway home, and cleans up every engine and container."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.home import Home


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


class Cli:
    def __init__(self, home: Path, *, image: str, network: str = "auto") -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        (home / "config.toml").write_text(
            f'[docker]\nimage = "{image}"\nnetwork = "{network}"\n[engine]\non_exit = "stop"\n'
            # No title calls: they would take the fake upstreams' scripted replies meant for the agents' turns
            # (tests/test_titles.py turns them on).
            '[titles]\nenabled = false\n'
        )
        self.env = {**os.environ, "CLAUDERON_HOME": str(home)}

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "clauderon_tui.cli", *args], env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"clauderon {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return result

    def wait_screen(self, name: str, needle: str, timeout: float = 30) -> str:
        """Poll `clauderon screen` until `needle` shows (a deadline for slow machines, not a speed check)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            result = self("screen", name, check=False)
            text = result.out
            if needle in text:
                return text
            time.sleep(0.3)
        raise AssertionError(f"{needle!r} never appeared on {name}'s screen:\n{text}")

    def engine_pid(self) -> int | None:
        info = self.home / "engine.json"
        try:
            return json.loads(info.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            return None

    def kill_engine(self, sig: int = signal.SIGKILL) -> None:
        pid = self.engine_pid()
        if pid:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    def cleanup(self) -> None:
        self("engine", "stop", check=False, timeout=60)
        self.kill_engine()
        kill_home_processes(self.home)  # an engine handed over to after the stop (a test that failed early)
        remove_home_containers(Home(self.home).home_id)


def kill_home_processes(home: Path) -> None:
    """SIGKILL every process of this user whose environment names `home` as CLAUDERON_HOME."""
    marker = f"CLAUDERON_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def remove_home_containers(home_id: str) -> None:
    import docker

    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"clauderon.home={home_id}"}):
        container.remove(force=True)
