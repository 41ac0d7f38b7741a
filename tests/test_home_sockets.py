"""Sockets of a home whose path is too long to bind go to a private directory nobody else can pre-create."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.engine.host import EngineHost, try_lock
from runtime.home import Home, is_private_dir
from runtime.settings import load_settings


@pytest.fixture
def long_home(tmp_path: Path, short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_tmp))  # the guessable base, private to this test
    home = Home.open(tmp_path / ("x" * 90))
    assert len(os.fsencode(home.root / "engine.sock")) > 104
    return home


def test_the_short_directory_is_private_and_stable(long_home: Home, short_tmp: Path) -> None:
    path = long_home.socket_path
    assert path.parent == short_tmp / f"clauderon-{os.getuid()}-{long_home.home_id}"
    assert stat.S_IMODE(os.lstat(path.parent).st_mode) == 0o700
    assert long_home.socket_path == path


@pytest.mark.parametrize("plant", ["world-writable", "symlink", "other-owner", "a-file"])
def test_a_pre_created_guessable_directory_is_never_used(long_home: Home, short_tmp: Path, plant: str) -> None:
    guessable = short_tmp / f"clauderon-{os.getuid()}-{long_home.home_id}"
    elsewhere = short_tmp / "attacker"
    elsewhere.mkdir(mode=0o700)
    if plant == "world-writable":
        guessable.mkdir()
        os.chmod(guessable, 0o777)
    elif plant == "symlink":
        guessable.symlink_to(elsewhere)
    elif plant == "other-owner":
        guessable.mkdir(mode=0o700)
        if os.getuid() != 0:
            pytest.skip("needs root to give the directory to another user")
        os.chown(guessable, 65534, 65534)
    else:
        guessable.write_text("")
    chosen = long_home.socket_path.parent
    assert chosen not in (guessable, elsewhere)
    assert is_private_dir(chosen) and chosen.parent == short_tmp
    # Clients of the same home find the same directory (recorded in the home), and it stays chosen.
    assert Home(long_home.root).socket_path.parent == chosen


async def test_an_engine_serves_and_answers_through_the_private_directory(long_home: Home, short_tmp: Path) -> None:
    guessable = short_tmp / f"clauderon-{os.getuid()}-{long_home.home_id}"
    guessable.mkdir()
    os.chmod(guessable, 0o777)  # planted by someone else: the engine must not bind there
    long_home.config_file.write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    host = EngineHost(long_home, load_settings(long_home, environ={}), try_lock(long_home))
    host.start()
    client = EngineClient(Home(long_home.root))
    try:
        assert await client.list_sessions() == []
        assert not any(guessable.iterdir())
    finally:
        await client.close()
        host.stop()
