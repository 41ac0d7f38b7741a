"""Every state file in a home, truncated or garbled while the engine is down: the next command either
works with nothing lost (the running session is still there and still live) or says in one line which
file is wrong and how to fix it. Never a traceback, never a session dropped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli_harness import Cli

pytestmark = pytest.mark.timeout(180)

# (file, whether a broken copy may stop the engine with one line naming it, because only the user can
# say what it should hold)
STATE_FILES = [
    ("db.json", False),
    ("engine.json", False),
    ("proxy.port", False),
    ("records/{id}.json", False),
    ("run/{id}.json", False),
    ("config.toml", True),
]
DAMAGE = {
    "truncated": b"",
    "garbled": b'{"sessions": [\x00\xff\xfe not json nor toml ]]] \x1b[31m',
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("name,user_owned", STATE_FILES, ids=[f[0].split("/")[0] for f in STATE_FILES])
def test_a_damaged_state_file_loses_nothing(local_cli: Cli, git_repo: Path, name: str, user_owned: bool,
                                            damage: str) -> None:
    cli = local_cli
    session = cli("create", "--repo", str(git_repo), "--name", "keep", "--agent", "shell", "--json").json()
    cli("engine", "stop")
    target = cli.home / name.format(id=session["id"])
    # engine.json goes with a clean stop; a killed engine leaves it behind, lying
    assert target.exists() or name == "engine.json", f"{target} is not where the engine keeps it"
    target.write_bytes(DAMAGE[damage])

    result = cli("list", "--json", check=False, timeout=90)
    if result.code != 0:
        assert user_owned, f"damaged {name} stopped clauderon: {result.err}"
        assert len(result.err.strip().splitlines()) == 1 and target.name in result.err, result.err
        assert "Traceback" not in result.err
        target.write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')  # the user fixes it
        result = cli("list", "--json", timeout=90)
    [kept] = [s for s in result.json() if s["name"] == "keep"]
    assert kept["status"] == "running", kept
    cli("send", "keep", "--enter", "echo alive-$((6*7))")
    cli.wait_screen("keep", "alive-42")
    assert os.stat(cli.home / "db.json").st_size > 0
