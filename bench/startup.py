"""Start-up with an engine already running: the CLI's request path and the app's first frame.

CLI: wall time of `clauderon list` (a fresh process, engine already running) beside the least a client
process could do: a Python interpreter sending the same GET over the same unix socket with the stdlib.
App: from starting `clauderon` in a 200x50 tmux pane (the engine already running in the background, so the
app only joins it) to the pane first showing anything and to the sidebar showing the sessions, with 0 and
200 sessions, beside a minimal Textual app (one Static) in the same pane.
Medians of RUNS after one warm-up run each (the spread beside them), with byte-code caching on as in any
install (PYTHONDONTWRITEBYTECODE, if set, would recompile clauderon's modules every start but not the
baseline's). Reported, not a test: `.venv/bin/python -m bench.startup`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import seed_home  # noqa: E402 - after the path is set

RUNS = 5
MINIMAL_APP = ("from textual.app import App\nfrom textual.widgets import Static\n"
               "class A(App):\n    def compose(self):\n        yield Static('minimal-ready')\nA().run()\n")
BARE_REQUEST = """
import http.client, socket, sys
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
c = Unix("clauderon"); c.request("GET", "/api/v1/sessions?all=1"); print(len(c.getresponse().read()))
"""


CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def tmux_first_frame(command: str, ready: Callable[[str], bool], timeout: float = 30.0) -> tuple[float, float]:
    """Seconds from starting `command` in a 200x50 tmux pane to its first paint, and to `ready(pane text)`."""
    base = ["tmux", "-L", f"cl-start-{os.getpid()}", "-f", "/dev/null"]
    painted: float | None = None
    try:
        start = time.perf_counter()
        subprocess.run([*base, "new-session", "-d", "-x", "200", "-y", "50", command], check=True, env=CHILD_ENV)
        while time.perf_counter() < start + timeout:
            pane = subprocess.run([*base, "capture-pane", "-p", "-t", "0"], capture_output=True, text=True).stdout
            if painted is None and pane.strip():
                painted = time.perf_counter() - start
            if ready(pane):
                return painted or 0.0, time.perf_counter() - start
            time.sleep(0.01)
        raise RuntimeError(f"{command!r} never got ready in {timeout:.0f} s")
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)
        time.sleep(0.2)  # let the app's process leave before the next run


def timed_process(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def runs(measure: Callable[[], float]) -> list[float]:
    measure()  # warm-up: byte-code caches and the page cache
    return [measure() for _ in range(RUNS)]


def figure(times: list[float]) -> str:
    low, high = min(times) * 1000, max(times) * 1000
    return f"median {statistics.median(times) * 1000:5.0f} ms (min {low:.0f}, max {high:.0f})"


def with_engine(root: Path, fn: Callable[[dict[str, str]], None]) -> None:
    env = {**CHILD_ENV, "CLAUDERON_HOME": str(root), "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "clauderon_tui.cli"]
    subprocess.run([*cli, "engine", "--background"], env=env, check=True, capture_output=True)
    try:
        fn(env)
    finally:
        subprocess.run([*cli, "engine", "stop"], env=env, capture_output=True, timeout=60)


def main() -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="cl-start-", dir="/tmp") as tmp:
        base = Path(tmp)
        script = base / "minimal.py"
        script.write_text(MINIMAL_APP)
        minimal = runs(lambda: tmux_first_frame(f"{python} {script}", lambda pane: "minimal-ready" in pane)[1])

        for count in (0, 200):
            root = base / f"home{count}"
            seed_home(root, count)

            def run(env: dict[str, str], count: int = count, root: Path = root) -> None:
                if count == 0:
                    bare = runs(lambda: timed_process([python, "-c", BARE_REQUEST, str(root / "engine.sock")], env))
                    ours = runs(lambda: timed_process([python, "-m", "clauderon_tui.cli", "list"], env))
                    print(f"`clauderon list`, engine running:        {figure(ours)} | baseline stdlib GET over "
                          f"the socket {figure(bare)} | ratio {statistics.median(ours) / statistics.median(bare):.2f}",
                          flush=True)

                def ready(pane: str) -> bool:
                    return ("No sessions yet" in pane) if count == 0 else " bench-" in pane  # a row of the list

                command = f"cd {ROOT} && CLAUDERON_HOME={root} {python} -m clauderon_tui.cli"
                tmux_first_frame(command, ready)  # warm-up
                times = [tmux_first_frame(command, ready) for _ in range(RUNS)]
                shown, painted = [t[1] for t in times], [t[0] for t in times]
                print(f"app start to the session list, {count:3} sessions, engine running: {figure(shown)} "
                      f"(first paint {statistics.median(painted) * 1000:.0f} ms) | baseline minimal Textual app "
                      f"{figure(minimal)} | ratio {statistics.median(shown) / statistics.median(minimal):.2f}",
                      flush=True)

            with_engine(root, run)


if __name__ == "__main__":
    main()
