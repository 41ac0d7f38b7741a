"""The store under concurrent writers from several processes, and its recovery from corruption."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from pathlib import Path

import pytest

from runtime.home import Home
from runtime.models import Session, Status
from runtime.store import SCHEMA_VERSION, Store


def _session(name: str, **kw) -> Session:
    return Session(name=name, repo_path="/r", base_branch="main", branch=f"clauderon/{name}",
                   worktree_path=f"/w/{name}", **kw)


def _increment(root: str, n: int) -> None:
    store = Store(Home.open(root))
    for _ in range(n):
        with store.transaction():
            value = store.get_meta("counter", 0)
            store.set_meta("counter", value + 1)


def test_four_processes_never_lose_an_update(short_tmp: Path) -> None:
    root = str(short_tmp / "h")
    Store(Home.open(root))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment, args=(root, 50)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert Store(Home.open(root)).get_meta("counter") == 200
    json.loads((Path(root) / "db.json").read_text())  # still one valid document


def test_put_find_update_remove_leaves_tombstone(short_tmp: Path) -> None:
    store = Store(Home.open(short_tmp / "h"))
    s = store.put(_session("alpha"))
    assert store.get("alpha").id == s.id
    assert store.get(s.id).name == "alpha"
    store.update("alpha", status=Status.RUNNING)
    assert store.get("alpha").status == Status.RUNNING
    store.remove(s)
    assert store.find("alpha") is None
    assert store.is_tombstoned(s.id)


def test_recent_repos_most_recent_first_and_bounded(short_tmp: Path) -> None:
    store = Store(Home.open(short_tmp / "h"))
    for i in range(25):
        store.add_recent_repo(f"/repo/{i}")
    store.add_recent_repo("/repo/3")
    repos = store.recent_repos()
    assert repos[0] == "/repo/3"
    assert len(repos) == 20


def _retype(field: str, value: object):
    """Damage: one field of every session document given a value of the wrong type."""
    def damage(text: str) -> str:
        data = json.loads(text)
        for document in data["sessions"].values():
            document[field] = value
        return json.dumps(data)
    return damage


@pytest.mark.parametrize("damage", [
    lambda t: t[: len(t) // 2], lambda t: "\x00garbage{{", lambda t: "[1, 2]",
    _retype("status", 42), _retype("created_at", "yesterday"), _retype("mounts", "not-a-list"),
    _retype("name", ["x"]), lambda t: json.dumps({**json.loads(t), "sessions": [1, 2]}),
], ids=["truncated", "garbage", "array", "status-int", "created-text", "mounts-text", "name-list", "table-list"])
def test_corrupt_db_recovers_from_last_good_backup(short_tmp: Path, caplog, damage) -> None:
    home = Home.open(short_tmp / "h")
    store = Store(home)
    store.put(_session("keepme"))
    store._db.storage._last_backup = 0  # force a backup on the next write
    store.put(_session("second"))
    backups = list(home.backups.glob("db.*.json"))
    assert backups, "a rolling backup should exist"
    home.db_file.write_text(damage(home.db_file.read_text()))
    with caplog.at_level(logging.WARNING):
        recovered = Store(home)
    names = {s.name for s in recovered.sessions()}
    assert "keepme" in names
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "db.json" in warnings[0] and "backups" in warnings[0] and "db.corrupt-" in warnings[0]
    assert recovered.recovered_from is not None
    assert list(home.root.glob("db.corrupt-*.json")), "the damaged file is kept for inspection"


def test_backups_are_bounded(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    store = Store(home, backup_count=3)
    for i in range(8):
        store._db.storage._last_backup = 0
        store.put(_session(f"s{i}"))
    assert len(list(home.backups.glob("db.*.json"))) <= 3


def test_newer_schema_is_refused(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    store = Store(home)
    store.set_meta("schema_version", SCHEMA_VERSION + 1)
    with pytest.raises(Exception, match="newer than this clauderon"):
        Store(home)


def test_home_is_private(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    assert os.stat(home.root).st_mode & 0o777 == 0o700
    Store(home)
    assert os.stat(home.db_file).st_mode & 0o077 == 0


def test_the_record_file_follows_what_re_adoption_reads_and_nothing_else(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    store = Store(home)
    session = store.put(_session("rec", proxy_password_hash="ab" * 32, access_mode="read-write"))
    path = home.records / f"{session.id}.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    written = path.stat().st_mtime_ns, path.stat().st_ino
    store.update("rec", status=Status.RUNNING, error="x")  # churn re-adoption recomputes: not rewritten
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == written
    store.update("rec", access_mode="read-only")
    record = store.adoption_record(session.id)
    assert record is not None and record.access_mode == "read-only" and record.proxy_password_hash == "ab" * 32
    path.write_text('{"id": 5}')
    assert store.adoption_record(session.id) is None  # a file that does not validate is not trusted
    store.remove(store.get("rec"))
    assert not path.exists()


def test_the_public_list_is_rendered_once_per_version_of_the_store(short_tmp: Path) -> None:
    store = Store(Home.open(short_tmp / "h"))
    store.put(_session("one"))
    first = store.public_list()
    assert store.public_list() is first  # unchanged store: the same rendering
    assert [s["name"] for s in json.loads(first)] == ["one"]
    assert "proxy_password_hash" not in first.decode()
    store.put(_session("two"))
    assert [s["name"] for s in json.loads(store.public_list())] == ["one", "two"]


def test_a_read_outside_a_transaction_does_not_wait_for_the_writer(short_tmp: Path) -> None:
    """The engine's loop reads while the writer thread is inside a transaction (a slow fsync): it gets
    the last committed state at once, and the new one as soon as it is committed."""
    import threading

    store = Store(Home.open(short_tmp / "h"))
    store.put(_session("before", error="old"))
    store.sessions()  # the view is read
    inside, release = threading.Event(), threading.Event()

    def slow_write() -> None:
        with store.transaction():
            store.update("before", error="new")
            inside.set()
            release.wait(10)

    writer = threading.Thread(target=slow_write)
    writer.start()
    try:
        assert inside.wait(10)
        reader = threading.Thread(target=lambda: results.append(store.find("before")))
        results: list = []
        reader.start()
        reader.join(2)
        assert results and results[0].error in ("old", "new"), "the read waited for the writer's lock"
    finally:
        release.set()
        writer.join(10)
    assert store.find("before").error == "new"


def test_a_write_by_another_process_is_seen(short_tmp: Path) -> None:
    root = short_tmp / "h"
    first = Store(Home.open(root))
    first.put(_session("mine"))
    assert [s.name for s in first.sessions()] == ["mine"]
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_put_named, args=(str(root), "theirs"))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert [s.name for s in first.sessions()] == ["mine", "theirs"]
    assert first.find("theirs") is not None
    assert b"theirs" in first.public_list()


def _put_named(root: str, name: str) -> None:
    Store(Home.open(root)).put(_session(name))
