"""The audit log: one JSON line per request in `CLAUDERON_HOME/audit.jsonl`, rotated by size.

A line never holds a credential value, only the name of the credential injected.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from pathlib import Path

logger = logging.getLogger(__name__)

AUDIT_FILE = "audit.jsonl"
MAX_BYTES = 10 * 1024 * 1024
KEEP = 3


class AuditLog:
    """Appends audit lines; rotates `audit.jsonl` -> `.1` -> ... -> `.<keep>` past `max_bytes`."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self._fh = None

    def write(self, record: dict) -> None:
        """Append one record (a dict of JSON-able values)."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                if self._fh is None:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    self._fh = os.fdopen(fd, "a", buffering=1)
                self._fh.write(line)
                if self._fh.tell() >= self.max_bytes:
                    self._rotate()
            except OSError as exc:  # auditing must not take the proxy down; say so loudly instead
                logger.error("cannot write audit log %s: %s", self.path, exc)

    def _rotate(self) -> None:
        self._fh.close()
        self._fh = None
        for i in range(self.keep - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def read_audit(home, session_id: str | None = None, limit: int | None = 100) -> list[dict]:
    """The newest `limit` audit records (oldest first), optionally for one session, across rotated files."""
    base = Path(home.root) / AUDIT_FILE
    files = [base.with_name(f"{base.name}.{i}") for i in range(KEEP, 0, -1)] + [base]
    out: deque[dict] = deque(maxlen=limit)
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
