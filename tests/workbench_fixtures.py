"""Fixed workbench data for the TUI tests: a small worktree on disk, a diff answer and info answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fake_engine import FROZEN_NOW, FakeEngineClient, sample_sessions

SESSION_ID = "id-fix-login"

APP_PY = '''"""Login handling."""

from dataclasses import dataclass


@dataclass
class Credentials:
    user: str
    password: str


def login(creds: Credentials) -> bool:
    """True when the user may log in."""
    if not creds.user:
        return False
    return check_password(creds.user, creds.password)
'''


def make_worktree(root: Path) -> Path:
    """A worktree with a tracked tree, a changed file, a new file, a binary and a deleted file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("# webapp\n\nA small web app.\n")
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "login.py").write_text(APP_PY)
    (root / "src" / "session.py").write_text("SESSION_TTL = 3600\n")
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_login.py").write_text("def test_login():\n    assert True\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64)
    return root


MARKS = {"src/login.py": "M", "tests/test_login.py": "?", "logo.png": "A", "old.txt": "D"}

DIFF: dict[str, Any] = {
    "base": "main", "branch": "clauderon/fix-login-bug", "merge_base": "3f2a9c1d" + "0" * 32,
    "committed": {
        "files": [
            {"path": "src/login.py", "status": "M", "added": 3, "removed": 1, "binary": False,
             "patch": "diff --git a/src/login.py b/src/login.py\nindex 1111111..2222222 100644\n"
                      "--- a/src/login.py\n+++ b/src/login.py\n"
                      "@@ -12,5 +12,7 @@ def login(creds: Credentials) -> bool:\n"
                      "     \"\"\"True when the user may log in.\"\"\"\n-    if not creds.user:\n"
                      "+    if not creds.user or not creds.password:\n+        return False\n"
                      "+    if len(creds.password) > 1024:\n         return False\n"
                      "     return check_password(creds.user, creds.password)\n"},
            {"path": "logo.png", "status": "A", "added": None, "removed": None, "binary": True, "patch": ""},
        ],
        "added": 3, "removed": 1, "truncated": False,
    },
    "uncommitted": {
        "files": [
            {"path": "old.txt", "status": "D", "added": 0, "removed": 2, "binary": False,
             "patch": "diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n"
                      "@@ -1,2 +0,0 @@\n-legacy\n-notes\n"},
            {"path": "tests/test_login.py", "status": "?", "added": 2, "removed": 0, "binary": False,
             "patch": "new untracked file tests/test_login.py\n+def test_login():\n+    assert True\n"},
        ],
        "added": 2, "removed": 2, "truncated": False,
    },
}

CPU_SERIES = [2.0, 5.5, 12.0, 48.0, 95.0, 61.0, 30.0, 22.5, 18.0, 40.0, 75.0, 33.0]
MEMORY_SERIES = [m * 1024 * 1024 for m in (210, 215, 230, 260, 340, 360, 350, 330, 320, 335, 380, 372)]


def info_answers() -> list[dict[str, Any]]:
    """One `session_info` answer per sample, for a docker session with mounts and audit lines."""
    container = {
        "id": "4be1c0ffee12", "name": "clauderon-fix-login-bug", "image": "clauderon-agent:latest",
        "state": "running", "started_at": "2026-09-21T10:00:00Z", "network_mode": "host",
        "cpu_limit": None, "memory_limit": None,
        "mounts": [
            {"source": "/home/dev/.clauderon/worktrees/fix-login-bug", "destination": "/workspace", "rw": True},
            {"source": "/home/dev/src/webapp/.git", "destination": "/home/dev/src/webapp/.git", "rw": False},
        ],
    }
    audit = [
        {"ts": FROZEN_NOW - 120, "session": SESSION_ID, "host": "api.anthropic.com", "method": "POST",
         "path": "/v1/messages", "credential": "anthropic", "status": 200, "blocked": None},
        {"ts": FROZEN_NOW - 60, "session": SESSION_ID, "host": "github.com", "method": "GET",
         "path": "/acme/webapp.git/info/refs", "credential": "github", "status": 200, "blocked": None},
        {"ts": FROZEN_NOW - 30, "session": SESSION_ID, "host": "evil.example", "method": "GET", "path": "/",
         "credential": None, "status": None, "blocked": "egress"},
    ]
    return [{"container": container, "reason": "", "audit": audit,
             "stats": {"cpu_percent": cpu, "memory_bytes": mem, "memory_limit": 2 * 1024 ** 3,
                       "taken_at": FROZEN_NOW}}
            for cpu, mem in zip(CPU_SERIES, MEMORY_SERIES, strict=True)]


def workbench_client(tmp: Path) -> FakeEngineClient:
    """The sample sessions, with fix-login-bug's worktree, diff and info filled in."""
    client = FakeEngineClient(sample_sessions(), echo=False)
    client.worktrees[SESSION_ID] = make_worktree(tmp / "wt")
    client.marks[SESSION_ID] = dict(MARKS)
    client.diffs[SESSION_ID] = DIFF
    client.infos[SESSION_ID] = info_answers()
    return client
