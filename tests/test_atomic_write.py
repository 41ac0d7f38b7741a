"""`proxy.atomic_write`, the one helper every file replacement goes through."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from proxy import atomic_write


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_writes_text_and_bytes_with_exactly_the_mode_asked_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "shared.json", "{}", mode=0o644)
    finally:
        os.umask(old)
    atomic_write(tmp_path / "secret", b"\x00key", mode=0o600)
    assert (tmp_path / "shared.json").read_text() == "{}"
    assert _mode(tmp_path / "shared.json") == 0o644
    assert (tmp_path / "secret").read_bytes() == b"\x00key"
    assert _mode(tmp_path / "secret") == 0o600


def test_replaces_an_existing_file_and_takes_the_new_mode(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old")
    target.chmod(0o666)
    atomic_write(target, "new", mode=0o600)
    assert target.read_text() == "new"
    assert _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_replaces_a_planted_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = tmp_path / "records.json"
    planted.symlink_to(victim)
    atomic_write(planted, "mine", mode=0o600)
    assert not planted.is_symlink()
    assert planted.read_text() == "mine"
    assert victim.read_text() == "precious"


def test_a_symlink_at_a_temporary_name_is_never_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever name the temporary file gets, it is created exclusively: a symlink already there fails the
    create (mkstemp then tries another name) instead of being written through."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    names = iter(["planted", "fresh"])
    monkeypatch.setattr("tempfile._RandomNameSequence.__next__", lambda self: next(names))
    (tmp_path / ".state.json.planted.tmp").symlink_to(victim)
    atomic_write(tmp_path / "state.json", "new", mode=0o600)
    assert victim.read_text() == "precious"
    assert (tmp_path / "state.json").read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "session.json"
    target.write_text("old")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output"):
        atomic_write(target, "new", mode=0o600)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["session.json"]


def test_the_rename_is_made_durable_by_syncing_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr("os.fsync", recording_fsync)
    atomic_write(tmp_path / "a.json", "{}", mode=0o600)
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".a.json.")  # the data, before the rename
    assert synced[1] == str(tmp_path)  # then the directory entry


def test_the_serve_token_file_stays_private_after_its_token_is_used(tmp_path: Path) -> None:
    """It was written 0600 by `publish` but with the umask's mode by `consume` (a bug the one helper fixed)."""
    from clauderon_tui.serve.auth import TokenFile

    tokens = TokenFile(tmp_path / "serve-token.json")
    old = os.umask(0o022)
    try:
        tokens.publish("https://example.test", "one-time-token", pid=1)
        assert _mode(tokens.path) == 0o600
        assert tokens.consume("one-time-token") and not tokens.consume("one-time-token")
    finally:
        os.umask(old)
    assert _mode(tokens.path) == 0o600


def test_call_sites_keep_their_modes(tmp_path: Path) -> None:
    from runtime.agents.home import write_agent_file

    agent_home = tmp_path / "agent"
    agent_home.mkdir()
    written = write_agent_file(agent_home, ".claude/settings.json", "{}", mode=0o644)
    assert _mode(written) == 0o644 and _mode(write_agent_file(agent_home, ".claude.json", "{}")) == 0o600
    (agent_home / "victim").write_text("precious")
    (agent_home / ".codex").symlink_to(agent_home / "victim")
    write_agent_file(agent_home, ".codex", "mine")
    assert (agent_home / "victim").read_text() == "precious"
