"""Terminal benchmarks: ingest throughput of `TerminalEmulator` beside stock pyte and tmux.

Run: ``.venv/bin/python -m bench.terminal [--mb 20] [--sizes 80x24,200x50]``.

Also, in the same run: the real app's frame interval while one session floods output (headless,
beside the same app idle; `--ui-mb`, `--ui-seconds`, `--no-ui`), and the time from starting `clauderon`
in tmux to the first frame showing the session list (200 sessions beside 0 and a minimal Textual app;
`--ff-counts`, `--no-first-frame`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyte

from bench.common import seed_home
from clauderon_tui.consoles import FEED_CHUNK as FEED_CHUNK_UI
from runtime.terminal import TerminalEmulator

CHUNK = 4096  # what a pty or docker attach read typically returns
WORDS = ("error", "warning", "compiling", "src/runtime/engine.py", "ok", "PASSED", "test_terminal",
         "GET /v1/messages 200", "claude", "diff --git", "+    return value", "-    pass", "█▇▆▅",
         "→", "✓", "•")


def generate_coloured_log(size: int, seed: int = 1, *, random_truecolour: bool = False) -> bytes:
    """Deterministic coloured log output of exactly `size` bytes: 16/256/truecolour SGR, bold,
    short lines and long (wrapping) lines, a little non-ASCII.

    Truecolour comes from a 64-colour palette, as a theme or syntax highlighter would emit;
    `random_truecolour` draws every one at random instead (a worst case for cell caching).
    """
    rng = random.Random(seed)
    palette = [(rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)) for _ in range(64)]
    out: list[bytes] = []
    total = 0
    line_no = 0
    while total < size:
        line_no += 1
        parts = [f"\x1b[2m{line_no:08d}\x1b[0m "]
        for _ in range(rng.choice((1, 2, 4, 8, 30)) if rng.random() < 0.9 else rng.randint(40, 80)):
            kind = rng.random()
            if kind < 0.3:
                parts.append(f"\x1b[{rng.choice((31, 32, 33, 34, 35, 36, 91, 92, 93))}m")
            elif kind < 0.45:
                parts.append(f"\x1b[38;5;{rng.randint(16, 255)}m")
            elif kind < 0.55:
                r, g, b = ((rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
                           if random_truecolour else rng.choice(palette))
                parts.append(f"\x1b[38;2;{r};{g};{b}m")
            elif kind < 0.6:
                parts.append("\x1b[1m")
            parts.append(rng.choice(WORDS))
            parts.append(" ")
        parts.append("\x1b[0m\r\n")
        line = "".join(parts).encode()
        out.append(line)
        total += len(line)
    return b"".join(out)[:size]


@dataclass
class IngestResult:
    name: str
    cols: int
    rows: int
    seconds: float
    size: int

    @property
    def mb_per_s(self) -> float:
        return self.size / self.seconds / 1e6 if self.seconds > 0 else float("inf")


def _chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


def measure_ingest_emulator(data: bytes, cols: int, rows: int) -> tuple[IngestResult, TerminalEmulator]:
    """Feed `data` in read-sized chunks to our emulator."""
    chunks = _chunks(data)
    emulator = TerminalEmulator(cols, rows, on_reply=lambda _: None)
    start = time.perf_counter()
    for chunk in chunks:
        emulator.feed(chunk)
    elapsed = time.perf_counter() - start
    return IngestResult("clauderon", cols, rows, elapsed, len(data)), emulator


def measure_ingest_stock(data: bytes, cols: int, rows: int) -> tuple[IngestResult, pyte.Screen]:
    """Feed `data` in the same chunks to stock `pyte.Screen` + `pyte.ByteStream`."""
    chunks = _chunks(data)
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    start = time.perf_counter()
    for chunk in chunks:
        stream.feed(chunk)
    elapsed = time.perf_counter() - start
    return IngestResult("stock pyte", cols, rows, elapsed, len(data)), screen


def measure_ingest_tmux(path: Path, cols: int, rows: int) -> IngestResult | None:
    """Time a detached tmux session of the same size `cat`-ing the file (None without tmux)."""
    if shutil.which("tmux") is None:
        return None
    socket = f"clauderon-bench-{os.getpid()}"
    base = ["tmux", "-L", socket, "-f", "/dev/null"]
    try:
        start = time.perf_counter()
        subprocess.run([*base, "new-session", "-d", "-x", str(cols), "-y", str(rows),
                        f"cat {path}; tmux wait-for -S done; sleep 30"], check=True)
        subprocess.run([*base, "wait-for", "done"], check=True, timeout=600)
        elapsed = time.perf_counter() - start
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)
    return IngestResult("tmux", cols, rows, elapsed, path.stat().st_size)


def same_screen(ours: TerminalEmulator, stock: pyte.Screen) -> bool:
    """Whether our emulator ended with exactly stock pyte's visible screen and cursor."""
    screen = ours.screen
    for y in range(stock.lines):
        if [screen.buffer[y][x] for x in range(stock.columns)] != [stock.buffer[y][x] for x in range(stock.columns)]:
            return False
    return (screen.cursor.x, screen.cursor.y) == (stock.cursor.x, stock.cursor.y)


def run_ingest(size: int, sizes: list[tuple[int, int]], *, stock: bool = True, tmux: bool = True,
               random_truecolour: bool = False) -> list[str]:
    """Run the ingest benchmark; returns report lines."""
    data = generate_coloured_log(size, random_truecolour=random_truecolour)
    palette = "random" if random_truecolour else "64-colour palette"
    lines = [f"ingest of {len(data) / 1e6:.1f} MB coloured log (truecolour: {palette}), {CHUNK}-byte chunks"]
    with tempfile.TemporaryDirectory(prefix="cl-bench-") as tmp:
        path = Path(tmp) / "log.txt"
        path.write_bytes(data)
        lines.append(f"{'size':>8} {'clauderon':>11} {'stock pyte':>11} {'tmux':>11} {'vs pyte':>8} "
                     f"{'vs tmux':>8} same-screen")
        for cols, rows in sizes:
            ours, emulator = measure_ingest_emulator(data, cols, rows)
            theirs = stock_screen = None
            if stock:
                theirs, stock_screen = measure_ingest_stock(data, cols, rows)
            tmux_result = measure_ingest_tmux(path, cols, rows) if tmux else None

            def cell(result: IngestResult | None) -> str:
                return f"{result.mb_per_s:8.2f}MB/s" if result else f"{'-':>11}"

            vs_pyte = f"{ours.mb_per_s / theirs.mb_per_s:7.2f}x" if theirs else f"{'-':>8}"
            vs_tmux = f"{ours.mb_per_s / tmux_result.mb_per_s:7.2f}x" if tmux_result else f"{'-':>8}"
            same = "yes" if stock_screen is None or same_screen(emulator, stock_screen) else "NO"
            lines.append(f"{cols}x{rows:<5} {cell(ours)} {cell(theirs)} {cell(tmux_result)} {vs_pyte} "
                         f"{vs_tmux} {same}")
    return lines


# -- UI: frame interval while one session floods ---------------------------------------------------------------
UI_SIZE = (200, 50)
TICK = 0.010  # the responsiveness probe's period


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class UiResult:
    name: str
    ticks: list[float]
    """Actual intervals (s) between runs of a 10 ms `set_interval` ticker."""
    frames: list[float]
    """Intervals (s) between consecutive screen updates the compositor produced."""
    consumed: int
    """Bytes the shown session's emulator was fed."""
    seconds: float
    gc_pauses: list[float]
    """Durations (s) of the garbage collector's full (generation 2) collections while sampling."""


async def _measure_ui(data: bytes | None, seconds: float) -> UiResult:
    """Run the real `ClauderonApp` headless on a `FakeEngineClient` with one running session.

    With `data`, the session's console returns it in `CHUNK`-sized reads as fast as the app reads
    (each read yields to the loop once, as a socket that always has data would); without it the
    app sits idle. Two series are sampled for `seconds` after the console is attached:
    - ticks: the actual interval of a 10 ms `set_interval` ticker. Textual paints from timers on this
      same event loop, so any stall shows here: it is the longest the next frame (or a key) waits.
    - frames: the gaps between `App._display` calls with a compositor update, each rendered to
      terminal escape codes (headless Textual skips that step; we do it and discard the bytes, so the
      cost of a real frame is counted).
    """
    from textual._compositor import CompositorUpdate

    from tests.fake_engine import FakeConsole, FakeEngineClient, fake_app, make_session

    class FloodConsole(FakeConsole):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.offset = 0
            self.started = asyncio.Event()

        async def read(self) -> bytes:
            if data is None or self.closed:
                return await super().read()
            self.started.set()
            await asyncio.sleep(0)
            if self.offset >= len(data):
                return await super().read()  # the program went quiet: wait like a real socket
            chunk = data[self.offset:self.offset + CHUNK]
            self.offset += len(chunk)
            return chunk

    class FloodClient(FakeEngineClient):
        async def console(self, ref: str, cols: int, rows: int, *, active: bool = False) -> FakeConsole:
            session = self._find(ref)
            console = FloodConsole(session.id, cols or 80, rows or 24, b"", echo=False)
            self.consoles[session.id] = console
            return console

    client = FloodClient([make_session("flood", agent="shell")], echo=False)
    app = fake_app(client)
    frames: list[float] = []
    ticks: list[float] = []
    sampling = False
    last_frame: float | None = None
    original_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        nonlocal last_frame
        original_display(screen, renderable)
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)  # what a real terminal driver would write
            now = time.perf_counter()
            if sampling and last_frame is not None:
                frames.append(now - last_frame)
            last_frame = now

    app._display = display
    gc_pauses: list[float] = []
    gc_started = 0.0

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        nonlocal gc_started
        if info.get("generation") != 2:
            return
        if phase == "start":
            gc_started = time.perf_counter()
        elif sampling:
            gc_pauses.append(time.perf_counter() - gc_started)

    gc.callbacks.append(on_gc)
    try:
        async with app.run_test(size=UI_SIZE) as pilot:
            for _ in range(500):
                if app.terminal.channel is not None and app.terminal.channel.state == "live":
                    break
                await pilot.pause(0.01)
            channel = app.terminal.channel
            assert channel is not None and channel.state == "live", "the flood session's console never attached"
            fed = 0
            original_pump = channel.pump

            def pump(budget: int = FEED_CHUNK_UI) -> bool:
                nonlocal fed
                before = len(channel.pending)
                result: bool = original_pump(budget)
                fed += before - len(channel.pending)
                return result

            channel.pump = pump
            last_tick = time.perf_counter()

            def tick() -> None:
                nonlocal last_tick
                now = time.perf_counter()
                if sampling:
                    ticks.append(now - last_tick)
                last_tick = now

            app.set_interval(TICK, tick)
            sampling = True
            start = time.perf_counter()
            await asyncio.sleep(seconds)
            elapsed = time.perf_counter() - start
            sampling = False
            consumed = fed
            await pilot.press("ctrl+q")
    finally:
        gc.callbacks.remove(on_gc)
    return UiResult("flood" if data is not None else "idle", ticks, frames, consumed, elapsed, gc_pauses)


def run_ui(size: int, seconds: float) -> list[str]:
    """Frame interval of the real app, idle vs one session flooding `size` bytes; returns report lines."""
    data = generate_coloured_log(size)
    idle = asyncio.run(_measure_ui(None, seconds))
    flood = asyncio.run(_measure_ui(data, seconds))
    lines = [f"UI under flood: ClauderonApp {UI_SIZE[0]}x{UI_SIZE[1]} headless, one session streaming "
             f"{len(data) / 1e6:.1f} MB, {seconds:.0f} s sampled (goal: ticker p99 <= 50 ms)",
             f"{'':22} {'idle':>22} {'flood':>22}",
             ]

    def stats(values: list[float]) -> str:
        if not values:
            return f"{'(none)':>22}"
        return f"{_percentile(values, 50) * 1e3:6.1f} / {_percentile(values, 99) * 1e3:6.1f} ms (n={len(values):4d})"

    lines.append(f"{'10ms ticker med / p99':22} {stats(idle.ticks):>22} {stats(flood.ticks):>22}")
    lines.append(f"{'frame gap med / p99':22} {stats(idle.frames):>22} {stats(flood.frames):>22}")
    lines.append(f"{'frames per second':22} {len(idle.frames) / idle.seconds:22.1f} "
                 f"{len(flood.frames) / flood.seconds:22.1f}")
    def pauses(result: UiResult) -> str:
        worst = f", max {max(result.gc_pauses) * 1e3:.0f} ms" if result.gc_pauses else ""
        return f"{len(result.gc_pauses)}{worst}"

    lines.append(f"{'full GC pauses':22} {pauses(idle):>22} {pauses(flood):>22}")
    lines.append(f"{'view consumed':22} {idle.consumed / idle.seconds / 1e6:18.2f}MB/s "
                 f"{flood.consumed / flood.seconds / 1e6:18.2f}MB/s")
    return lines


# -- first frame: `clauderon` start to the session list on screen ------------------------------------------------
def _tmux_first_frame(command: str, ready: Callable[[str], bool], *, timeout: float = 30.0,
                      home: Path | None = None) -> tuple[float | None, float | None]:
    """Seconds from starting `command` in a 200x50 tmux pane until the pane first shows anything, and
    until `ready(pane text)` holds (None: never).

    The pane is polled every 10 ms, so each figure is at most ~10 ms (plus one capture) late.
    """
    socket = f"cl-ff-{os.getpid()}"
    base = ["tmux", "-L", socket, "-f", "/dev/null"]
    elapsed: float | None = None
    painted: float | None = None
    try:
        start = time.perf_counter()
        subprocess.run([*base, "new-session", "-d", "-x", "200", "-y", "50", command], check=True)
        deadline = start + timeout
        while time.perf_counter() < deadline:
            pane = subprocess.run([*base, "capture-pane", "-p", "-t", "0"], capture_output=True, text=True).stdout
            if painted is None and pane.strip():
                painted = time.perf_counter() - start
            if ready(pane):
                elapsed = time.perf_counter() - start
                break
            time.sleep(0.01)
        subprocess.run([*base, "send-keys", "-t", "0", "C-q"], capture_output=True)
        for _ in range(300):  # let the app leave (and stop the engine it hosted) before the server goes
            if subprocess.run([*base, "has-session"], capture_output=True).returncode != 0:
                break
            time.sleep(0.02)
    finally:
        if home is not None:
            subprocess.run([sys.executable, "-m", "clauderon_tui.cli", "engine", "stop"], capture_output=True,
                           env={**os.environ, "CLAUDERON_HOME": str(home)}, timeout=60)
        subprocess.run([*base, "kill-server"], capture_output=True)
    return painted, elapsed


MINIMAL_APP = ("from textual.app import App\nfrom textual.widgets import Static\n"
               "class A(App):\n    def compose(self):\n        yield Static('minimal-ready')\nA().run()\n")


def run_first_frame(counts: list[int], repeats: int = 3) -> list[str]:
    """Start-to-first-frame of the real `clauderon` (in tmux) per session count, beside a minimal Textual app."""
    if shutil.which("tmux") is None:
        return ["first frame: skipped (no tmux)"]
    python = sys.executable
    cwd = Path(__file__).resolve().parent.parent
    lines = [f"first frame: `clauderon` start until the sidebar shows the sessions, tmux 200x50, "
             f"best/median of {repeats} (goal: <= 1 s)"]
    with tempfile.TemporaryDirectory(prefix="cl-m-", dir="/tmp") as tmp:
        script = Path(tmp) / "minimal.py"
        script.write_text(MINIMAL_APP)
        times = [_tmux_first_frame(f"cd {cwd} && {python} {script}", lambda pane: "minimal-ready" in pane)
                 for _ in range(repeats)]
        lines.append(_ff_line("minimal Textual app", [t[1] for t in times]))
    for count in counts:
        times = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="cl-f-", dir="/tmp") as tmp:
                root = Path(tmp) / "h"
                seed_home(root, count)
                first = "bench-000"

                def ready(pane: str, first: str = first, count: int = count) -> bool:
                    if count == 0:
                        return "No sessions yet" in pane
                    return first in pane

                times.append(_tmux_first_frame(f"cd {cwd} && CLAUDERON_HOME={root} {python} -m clauderon_tui.cli",
                                               ready, home=root))
        lines.append(_ff_line(f"clauderon, {count} sessions", [t[1] for t in times]))
        lines.append(_ff_line("  (first paint of anything)", [t[0] for t in times]))
    return lines


def _ff_line(name: str, times: list[float | None]) -> str:
    got = sorted(t for t in times if t is not None)
    if not got:
        return f"  {name:28} never showed"
    missing = f" ({len(times) - len(got)} never showed)" if len(got) < len(times) else ""
    return f"  {name:28} best {got[0] * 1e3:7.0f} ms  median {got[len(got) // 2] * 1e3:7.0f} ms{missing}"


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    return [(int(c), int(r)) for c, r in (item.split("x") for item in text.split(","))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="log size in MB (default 20)")
    parser.add_argument("--sizes", default="80x24,200x50", help="terminal sizes, e.g. 80x24,200x50")
    parser.add_argument("--no-stock", action="store_true", help="skip stock pyte (slow)")
    parser.add_argument("--no-tmux", action="store_true", help="skip tmux")
    parser.add_argument("--random-truecolour", action="store_true",
                        help="a random truecolour per word (worst case) instead of a palette")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest table")
    parser.add_argument("--ui-mb", type=float, default=20.0, help="flood size for the UI run in MB (default 20)")
    parser.add_argument("--ui-seconds", type=float, default=5.0, help="seconds sampled per UI run (default 5)")
    parser.add_argument("--no-ui", action="store_true", help="skip the frame-interval run")
    parser.add_argument("--ff-counts", default="0,200", help="session counts for the first-frame run")
    parser.add_argument("--no-first-frame", action="store_true", help="skip the first-frame run")
    args = parser.parse_args(argv)
    if not args.no_ingest:
        for line in run_ingest(int(args.mb * 1e6), _parse_sizes(args.sizes), stock=not args.no_stock,
                               tmux=not args.no_tmux, random_truecolour=args.random_truecolour):
            print(line, flush=True)
    if not args.no_ui:
        for line in run_ui(int(args.ui_mb * 1e6), args.ui_seconds):
            print(line, flush=True)
    if not args.no_first_frame:
        for line in run_first_frame([int(c) for c in args.ff_counts.split(",")]):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
