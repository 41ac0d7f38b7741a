"""Where a clauderon home lives on disk, and the layout inside it.

Everything inside is private to the user: the home is created 0700 and the process umask is 077.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

# A unix socket path longer than this cannot be bound (sun_path is 108 bytes with its NUL).
MAX_UNIX_SOCKET_PATH = 104


def default_home() -> Path:
    return Path(os.environ.get("CLAUDERON_HOME") or Path.home() / ".clauderon").expanduser()


@dataclass(frozen=True)
class Home:
    """Paths inside one `CLAUDERON_HOME`."""

    root: Path

    @classmethod
    def open(cls, root: Path | str | None = None) -> "Home":
        """Resolve and create the home (0700) and set umask 077 for this process."""
        os.umask(0o077)
        path = Path(root).expanduser() if root else default_home()
        path = path.absolute()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        home = cls(path)
        for sub in (home.logs, home.worktrees, home.agent_homes, home.secrets, home.run):
            sub.mkdir(mode=0o700, exist_ok=True)
        return home

    @property
    def home_id(self) -> str:
        """A short stable id for this home, used to label the containers it owns."""
        return hashlib.sha256(str(self.root).encode()).hexdigest()[:12]

    config_file = property(lambda self: self.root / "config.toml")
    proxy_config_file = property(lambda self: self.root / "proxy.toml")
    db_file = property(lambda self: self.root / "db.json")
    db_lock = property(lambda self: self.root / "db.lock")
    backups = property(lambda self: self.root / "backups")
    logs = property(lambda self: self.root / "logs")
    worktrees = property(lambda self: self.root / "worktrees")
    agent_homes = property(lambda self: self.root / "agents")
    secrets = property(lambda self: self.root / "secrets")
    run = property(lambda self: self.root / "run")
    engine_lock = property(lambda self: self.root / "engine.lock")
    engine_info = property(lambda self: self.root / "engine.json")
    socket_pointer = property(lambda self: self.root / "engine.sock.path")
    themes = property(lambda self: self.root / "themes")

    @property
    def socket_path(self) -> Path:
        """`engine.sock` in the home, or a short runtime path when the home's path is too long to bind."""
        natural = self.root / "engine.sock"
        if len(os.fsencode(natural)) <= MAX_UNIX_SOCKET_PATH:
            return natural
        base = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
        return base / f"clauderon-{os.getuid()}-{self.home_id}.sock"

    def worktree(self, name: str) -> Path:
        return self.worktrees / name

    def agent_home(self, session_id: str) -> Path:
        return self.agent_homes / session_id
