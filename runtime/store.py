"""The session store: tinydb behind one lock, written atomically, with a schema version and backups.

tinydb is not safe across threads or processes, so every access is a transaction that takes an flock,
drops tinydb's cache and writes with write-to-temp + fsync + rename. A truncated or garbled `db.json` is
recovered from the newest good backup with one warning line naming both files, and so is one whose
documents do not validate (a wrongly typed field).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from proxy import atomic_write
from runtime.errors import ClauderonError, NotFound
from runtime.home import Home
from runtime.models import Session, Status, Tombstone

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FileVersion = tuple[int, int, int, int]
"""What identifies one version of the store file: inode, mtime in ns, size, and our own write count."""
RECENT_REPOS_KEPT = 20
BACKUP_INTERVAL_S = 30.0
VOLATILE = {"status", "agent_status", "agent_detail", "progress", "error", "sandbox_changes", "pr", "disk_bytes",
            "updated_at"}
"""Session fields a record file does not follow: re-adoption sets or recomputes them."""


class AtomicJSONStorage(Storage):
    """tinydb storage: atomic replace on write, recovery from backups on a corrupt read."""

    def __init__(self, path: str, backups: str, backup_count: int = 5,
                 validate: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = Path(path)
        self.backups = Path(backups)
        self.backup_count = backup_count
        self.validate = validate
        """Raises ValueError when a parsed store is not one this clauderon can use (a wrongly typed field)."""
        self.recovered_from: Path | None = None
        self._last_backup = 0.0
        self.writes = 0
        """Writes made through this storage: a file rewritten within one mtime tick is still seen to change."""
        self._trusted: tuple[int, int, int] | None = None  # (inode, mtime, size) of a file known good

    def _parse(self, text: str) -> dict[str, Any]:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        if self.validate is not None:
            self.validate(data)
        return data

    def read(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as fh:
                stat = os.fstat(fh.fileno())
                raw = fh.read()
        except FileNotFoundError:
            return None
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        try:
            text = raw.decode()  # garbled bytes are a corrupt store too (UnicodeDecodeError is a ValueError)
            if identity == self._trusted:  # validated before, or written by us: parse only
                trusted: dict[str, Any] = json.loads(text)
                return trusted
            data = self._parse(text)
        except ValueError as exc:
            return self._recover(exc)
        self._trusted = identity
        return data

    def _backup_files(self) -> list[Path]:
        if not self.backups.exists():
            return []
        return sorted(self.backups.glob("db.*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)

    def _recover(self, problem: Exception) -> dict[str, Any]:
        """Replace an unusable store by the newest backup that parses and validates; one warning line."""
        for backup in self._backup_files():
            try:
                data = self._parse(backup.read_text())
            except (ValueError, OSError):
                continue
            break
        else:
            backup, data = None, {}
        broken = self.path.with_name(f"db.corrupt-{int(time.time())}.json")
        os.replace(self.path, broken)
        log.warning(
            "store %s was unusable (%s; kept as %s); recovered from %s",
            self.path, str(problem).splitlines()[0][:200], broken.name,
            backup if backup else "nothing (no good backup: starting empty)",
        )
        self.recovered_from = backup or broken
        self.write(data, backup=False)
        return data

    def write(self, data: dict[str, Any], *, backup: bool = True) -> None:
        text = json.dumps(data)
        if backup:
            self._rotate_backup()
        self.writes += 1
        atomic_write(self.path, text, mode=0o600)
        stat = os.stat(self.path)
        self._trusted = (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _rotate_backup(self) -> None:
        """Keep the current good file as a backup at most every BACKUP_INTERVAL_S, `backup_count` deep."""
        now = time.time()
        if now - self._last_backup < BACKUP_INTERVAL_S or not self.path.exists():
            return
        self._last_backup = now
        self.backups.mkdir(mode=0o700, exist_ok=True)
        target = self.backups / f"db.{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}.json"
        try:
            os.link(self.path, target)  # the old inode stays intact: atomic_write replaces, never rewrites
        except OSError:
            return
        for old in self._backup_files()[self.backup_count:]:
            old.unlink(missing_ok=True)

    def close(self) -> None:
        pass


def validate_tables(data: dict[str, Any]) -> None:
    """Every table is documents by id and every document has the shape its model needs, so one wrongly
    typed field is caught at read time (and recovered from a backup) instead of stopping the engine later."""
    models: dict[str, type[BaseModel]] = {"sessions": Session, "tombstones": Tombstone}
    for table, documents in data.items():
        if not isinstance(documents, dict) or not all(isinstance(d, dict) for d in documents.values()):
            raise ValueError(f"table {table!r} is not a set of documents")
        model = models.get(table)
        for doc_id, document in documents.items():
            try:
                if model is not None:
                    model.model_validate(document)
                elif table == "meta" and not isinstance(document.get("key"), str):
                    raise ValueError("meta row without a key")
                elif table == "recent_repos" and not (isinstance(document.get("path"), str)
                                                      and isinstance(document.get("used_at"), (int, float))):
                    raise ValueError("recent repository without a path or time")
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise ValueError(f"{table} document {doc_id}: {exc}") from exc


Migration = Callable[[TinyDB], None]
# version -> function that upgrades a store at version-1 to this version.
MIGRATIONS: dict[int, Migration] = {}


class Store:
    """Sessions, tombstones, recent repos and small engine facts (`meta`), one transaction at a time."""

    def __init__(self, home: Home, backup_count: int = 5) -> None:
        self.home = home
        self._records_written: dict[str, dict[str, Any]] = {}
        self._rendered: tuple[tuple[FileVersion | None, bool], bytes] | None = None
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clauderon-store")
        """The engine's thread for frequent writes (`Engine.apply`): one at a time, off its loop."""
        self._thread_lock = threading.RLock()
        self._lock_fd: int | None = None
        self._depth = 0
        self._holder: int | None = None  # the thread inside a transaction
        self._view: tuple[FileVersion | None, list[dict[str, Any]]] | None = None
        self._db = TinyDB(
            str(home.db_file), storage=AtomicJSONStorage, backups=str(home.backups), backup_count=backup_count,
            validate=validate_tables,
        )
        with self.transaction() as db:
            self._migrate(db)

    @property
    def recovered_from(self) -> Path | None:
        """The corrupt file or backup the store was recovered from when it was opened, if it was."""
        # The store is always opened with AtomicJSONStorage (see __init__); tinydb types it as its base.
        return cast(AtomicJSONStorage, self._db.storage).recovered_from

    @contextmanager
    def transaction(self) -> Iterator[TinyDB]:
        """Exclusive access across threads and processes; reads inside see every earlier commit."""
        with self._thread_lock:
            if self._depth == 0:
                self._holder = threading.get_ident()
                self._lock_fd = os.open(self.home.db_lock, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
                self._db.clear_cache()
                for table in self._db.tables():
                    self._db.table(table).clear_cache()
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None
                    self._holder = None

    def _migrate(self, db: TinyDB) -> None:
        meta = db.table("meta")
        row = meta.get(Query().key == "schema_version")
        version = row["value"] if row else (SCHEMA_VERSION if not db.table("sessions") else 0)
        if version > SCHEMA_VERSION:
            raise ClauderonError(
                f"{self.home.db_file} has schema version {version}, newer than this clauderon ({SCHEMA_VERSION}); "
                "upgrade clauderon"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            if target in MIGRATIONS:
                MIGRATIONS[target](db)
        meta.upsert({"key": "schema_version", "value": SCHEMA_VERSION}, Query().key == "schema_version")

    # meta -----------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.transaction() as db:
            row = db.table("meta").get(Query().key == key)
            return row["value"] if row else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.table("meta").upsert({"key": key, "value": value}, Query().key == key)

    # sessions -------------------------------------------------------------------------------------
    def sessions(self, include_archived: bool = True) -> list[Session]:
        return self._sessions_of(self._session_rows()[1], include_archived)

    @staticmethod
    def _sessions_of(rows: list[dict[str, Any]], include_archived: bool) -> list[Session]:
        sessions = [Session.model_validate(r) for r in rows]
        if not include_archived:
            sessions = [s for s in sessions if s.status != Status.ARCHIVED]
        return sorted(sessions, key=lambda s: s.created_at)

    def _session_rows(self) -> tuple[FileVersion | None, list[dict[str, Any]]]:
        """The session rows and the version of the file they were read from (None inside a transaction).

        Outside a transaction they are read without the lock: a write replaces the file whole, so any
        open finds a complete version, and a read on the engine's loop never waits for the writer
        thread's fsync. The rows of the version read last are kept, not parsed again. A version is the
        file's identity plus this process's write count (a rewrite within one mtime tick still counts)."""
        if self._holder == threading.get_ident():
            return None, self._locked_session_rows()
        # Read before the open: never newer than the file. The storage is always AtomicJSONStorage.
        writes = cast(AtomicJSONStorage, self._db.storage).writes
        try:
            with open(self.home.db_file, "rb") as fh:
                stat = os.fstat(fh.fileno())
                version = (stat.st_ino, stat.st_mtime_ns, stat.st_size, writes)
                if self._view is not None and self._view[0] == version:
                    return self._view
                data = json.loads(fh.read())
            validate_tables(data)
            rows = list(data.get("sessions", {}).values())
        except (OSError, ValueError, AttributeError):  # missing or unusable: the locked read recovers it
            return None, self._locked_session_rows()
        self._view = (version, rows)
        return self._view

    def _locked_session_rows(self) -> list[dict[str, Any]]:
        with self.transaction() as db:
            # tinydb's Document is an untyped dict subclass; the rows are JSON objects.
            return cast(list[dict[str, Any]], db.table("sessions").all())

    def public_list(self, include_archived: bool = True) -> bytes:
        """The sessions as the API lists them, as JSON, rendered once per version of the store file: at a
        hundred sessions validating and rendering costs tens of milliseconds, and lists are asked for far
        more often than the store changes."""
        version, rows = self._session_rows()
        key = (version, include_archived)
        if version is not None and self._rendered is not None and self._rendered[0] == key:
            return self._rendered[1]
        body = json.dumps([s.public() for s in self._sessions_of(rows, include_archived)]).encode()
        self._rendered = (key, body)
        return body

    def find(self, id_or_name: str) -> Session | None:
        rows = self._session_rows()[1]
        row = next((r for r in rows if r["id"] == id_or_name), None) or \
            next((r for r in rows if r["name"] == id_or_name), None)
        return Session.model_validate(row) if row else None

    def get(self, id_or_name: str) -> Session:
        session = self.find(id_or_name)
        if session is None:
            raise NotFound(f"no session named {id_or_name!r}; `clauderon list --all` shows them")
        return session

    def put(self, session: Session) -> Session:
        session.touch()
        with self.transaction() as db:
            db.table("sessions").upsert(session.model_dump(mode="json"), Query().id == session.id)
            self._write_record(session)
        return session

    def update(self, id_or_name: str, **changes: Any) -> Session:
        """Read-modify-write one session under the lock."""
        with self.transaction():
            session = self.get(id_or_name)
            for key, value in changes.items():
                setattr(session, key, value)
            return self.put(session)

    def remove(self, session: Session) -> None:
        """Delete the record and leave a tombstone."""
        with self.transaction() as db:
            db.table("sessions").remove(Query().id == session.id)
            tomb = Tombstone(id=session.id, name=session.name, backend_id=session.backend_id)
            db.table("tombstones").upsert(tomb.model_dump(mode="json"), Query().id == session.id)
            self._record_path(session.id).unlink(missing_ok=True)
            self._records_written.pop(session.id, None)

    # adoption records -----------------------------------------------------------------------------
    # Docker fixes a container's labels at creation, so what can change later and what re-adoption needs
    # (access mode, egress, the proxy-password hash, the agent's conversation id, the sandbox id) is kept
    # in a file per session, 0600 in the home, written with the store. Re-adoption reads it when the store
    # does not know a sandbox (db lost) or knows an older state of it (restored from a backup).
    def _record_path(self, session_id: str) -> Path:
        return self.home.records / f"{session_id}.json"

    def _write_record(self, session: Session) -> None:
        record = session.model_dump(mode="json", exclude=VOLATILE)
        if self._records_written.get(session.id) == record:
            return  # agent-status churn: nothing re-adoption reads has changed
        self.home.records.mkdir(mode=0o700, exist_ok=True)
        atomic_write(self._record_path(session.id), json.dumps({**record, "updated_at": session.updated_at}),
                     mode=0o600)
        self._records_written[session.id] = record

    def adoption_record(self, session_id: str) -> Session | None:
        """The session as its record file has it, or None (no file, or one that does not validate)."""
        try:
            return Session.model_validate_json(self._record_path(session_id).read_bytes())
        except (OSError, ValueError):
            return None

    def is_tombstoned(self, session_id: str) -> bool:
        with self.transaction() as db:
            return db.table("tombstones").contains(Query().id == session_id)

    # recent repos ---------------------------------------------------------------------------------
    def add_recent_repo(self, path: str, image: str | None = None) -> None:
        """`path` is the newest recent repository; `image`, when given, the last image a session used on it."""
        with self.transaction() as db:
            table = db.table("recent_repos")
            previous = table.search(Query().path == path)
            image = image or next((row["image"] for row in previous if isinstance(row.get("image"), str)), None)
            table.remove(Query().path == path)
            table.insert({"path": path, "used_at": time.time(), **({"image": image} if image else {})})
            rows = sorted(table.all(), key=lambda r: r["used_at"], reverse=True)
            for stale in rows[RECENT_REPOS_KEPT:]:
                table.remove(Query().path == stale["path"])

    def recent_repos(self) -> list[str]:
        with self.transaction() as db:
            rows = db.table("recent_repos").all()
        return [r["path"] for r in sorted(rows, key=lambda r: r["used_at"], reverse=True)]

    def last_images(self) -> dict[str, str]:
        """The image the last session of each recent repository used, by repository path."""
        with self.transaction() as db:
            rows = db.table("recent_repos").all()
        return {r["path"]: r["image"] for r in rows if isinstance(r.get("image"), str)}
