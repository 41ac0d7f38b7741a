"""Terminal benchmarks: ingest throughput of `TerminalEmulator` beside stock pyte and tmux.

Run: ``.venv/bin/python -m bench.terminal [--mb 20] [--sizes 80x24,200x50]``.

Only the ingest part lives here so far; frame-interval and first-frame measurements (the TUI
widget) are meant to be added as further `measure_*` functions and sections in `main()`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyte

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
    args = parser.parse_args(argv)
    for line in run_ingest(int(args.mb * 1e6), _parse_sizes(args.sizes), stock=not args.no_stock,
                           tmux=not args.no_tmux, random_truecolour=args.random_truecolour):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
