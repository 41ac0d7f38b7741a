"""Terminals the engine discards are freed: create / flood / delete rounds leave its memory flat.

Freezing the heap every half second (to keep full collections off the frame path) once moved every
terminal screen into the permanent generation, where its reference cycles were never collected: six
rounds of this grew the engine by ~200 MiB."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import Cli

ROUNDS = 6
LINES = 20_000


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@pytest.mark.timeout(600)
def test_engine_memory_stays_flat_across_create_flood_delete_rounds(local_cli: Cli, git_repo: Path) -> None:
    cli = local_cli
    sizes: list[float] = []
    for round_ in range(ROUNDS):
        name = f"flood-{round_}"
        cli("create", "--repo", str(git_repo), "--name", name, "--agent", "shell")
        marker = f"flood-done-{round_}"
        cli("send", name, "--enter",
            f"seq -f 'line %06g of a log that scrolls off the top of the screen' {LINES}; echo {marker}")
        cli.wait_screen(name, marker, timeout=120)
        cli("delete", name, "--force")
        pid = cli.engine_pid()
        assert pid, "the engine went away"
        sizes.append(rss_mib(pid))
    after_second = sizes[1]
    assert sizes[-1] <= after_second * 1.10, f"engine RSS by round (MiB): {[round(s) for s in sizes]}"
