"""The audit log: one JSON line per request in `CLAUDERON_HOME/audit.jsonl`, rotated by size.

A line never holds a credential value, only the name of the credential injected.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any, Protocol

logger = logging.getLogger(__name__)

AUDIT_FILE = "audit.jsonl"
MAX_BYTES = 10 * 1024 * 1024
KEEP = 3
RESERVE_BYTES = 64 * 1024
"""Free space below which requests are refused: their audit lines could not be written."""


class AuditLog:
    """Appends audit lines; rotates `audit.jsonl` -> `.1` -> ... -> `.<keep>` past `max_bytes`."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        self.error: str | None = None
        """Why the last line could not be written (None while the audit works)."""
        self._last_retry = 0.0

    def problem(self) -> str | None:
        """Why a request must not go out now: the last line failed, or the disk is (nearly) full. The proxy
        fails closed on it: no audit, no request."""
        if self.error is not None:
            # Try again (at most once a second) with a line of its own, so the first request after the
            # disk has room is not refused for a past failure.
            now = time.monotonic()
            if now - self._last_retry < 1.0:
                return self.error
            self._last_retry = now
            self.write({"ts": round(time.time(), 3), "event": "audit_resumed", "after": self.error})
            if self.error is not None:
                return self.error
        try:
            stats = os.statvfs(self.path.parent)
        except OSError as exc:
            return f"cannot check the audit log's disk: {exc}"
        if stats.f_bavail * stats.f_frsize < RESERVE_BYTES:
            return f"no space left for the audit log in {self.path.parent}"
        return None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (a dict of JSON-able values); a failure is kept in `error`, not raised."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                fh = self._fh
                if fh is None:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    fh = self._fh = os.fdopen(fd, "a", buffering=1)
                fh.write(line)
                fh.flush()
                if fh.tell() >= self.max_bytes:
                    self._rotate(fh)
                self.error = None
            except OSError as exc:
                self.error = f"cannot write the audit log {self.path}: {exc.strerror or exc}"
                logger.error("%s", self.error)
                if self._fh is not None:  # reopen next time: a half-written buffer must not linger
                    with contextlib.suppress(OSError):
                        self._fh.close()
                    self._fh = None

    def _rotate(self, fh: IO[str]) -> None:
        fh.close()
        self._fh = None
        for i in range(self.keep - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def close(self) -> None:
        """Close the open file (the next write reopens it)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class AuditHome(Protocol):
    """The one thing `read_audit` needs of a clauderon home: its directory."""

    @property
    def root(self) -> Path: ...


def read_audit(home: AuditHome, session_id: str | None = None, limit: int | None = 100) -> list[dict[str, Any]]:
    """The newest `limit` audit records (oldest first), optionally for one session, across rotated files."""
    base = Path(home.root) / AUDIT_FILE
    files = [base.with_name(f"{base.name}.{i}") for i in range(KEEP, 0, -1)] + [base]
    out: deque[dict[str, Any]] = deque(maxlen=limit)
    for path in files:
        try:
            with path.open() as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue  # a torn last line after a crash
                    if session_id is None or rec.get("session") == session_id:
                        out.append(rec)
        except FileNotFoundError:
            continue
    return list(out)
