"""Per-session proxy identities: who a connection belongs to and what it may do.

Passwords are 32 random bytes (256 bits), so only a SHA-256 of each is kept: with that much entropy a slow
KDF (scrypt) adds no resistance to guessing, and it would cost tens of milliseconds on every CONNECT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from proxy.errors import ProxyError
from proxy.traffic import AgentTraffic

ACCESS_MODES = ("read-write", "read-only")
EGRESS_POLICIES = ("open", "allowlist")


def hash_password(password: str) -> str:
    """The stored form of a session proxy password."""
    return "sha256:" + hashlib.sha256(password.encode()).hexdigest()


def new_proxy_password() -> tuple[str, str]:
    """A fresh (password, hash) pair; the engine keeps only the hash."""
    password = secrets.token_urlsafe(32)
    return password, hash_password(password)


@dataclass
class SessionProxyConfig:
    """What the proxy knows about one session. Persist it (it holds no secret) and register it again
    after an engine restart so running containers keep working."""

    session_id: str
    name: str
    password_hash: str
    agent: str = ""
    """The agent's name, for people reading a config; the proxy acts on `traffic`."""
    credential_names: set[str] = field(default_factory=set)
    access_mode: str = "read-write"
    egress: str = "open"
    allowlist: list[str] = field(default_factory=list)
    traffic: AgentTraffic = field(default_factory=AgentTraffic)
    """The agent's model hosts, calls and credentials (from the engine's agent; `agent` is only its name)."""

    def __post_init__(self) -> None:
        if self.access_mode not in ACCESS_MODES:
            raise ProxyError(f"access mode {self.access_mode!r} is not one of {', '.join(ACCESS_MODES)}")
        if self.egress not in EGRESS_POLICIES:
            raise ProxyError(f"egress policy {self.egress!r} is not one of {', '.join(EGRESS_POLICIES)}")
        self.credential_names = set(self.credential_names)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["credential_names"] = sorted(self.credential_names)
        data["traffic"] = self.traffic.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionProxyConfig:
        fields = dict(data)
        fields["traffic"] = AgentTraffic.from_dict(fields.get("traffic") or {})
        return cls(**fields)


class SessionRegistry:
    """The registered sessions, looked up from the proxy thread and changed from the engine's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, SessionProxyConfig] = {}

    def register(self, cfg: SessionProxyConfig) -> None:
        with self._lock:
            self._sessions[cfg.session_id] = cfg

    def unregister(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def get(self, session_id: str) -> SessionProxyConfig | None:
        return self._sessions.get(session_id)

    def set_access_mode(self, session_id: str, mode: str) -> None:
        if mode not in ACCESS_MODES:
            raise ProxyError(f"access mode {mode!r} is not one of {', '.join(ACCESS_MODES)}")
        with self._lock:
            cfg = self._sessions.get(session_id)
            if cfg is None:
                raise ProxyError(f"session {session_id} is not registered with the proxy")
            cfg.access_mode = mode

    def authenticate(self, proxy_authorization: str | None) -> SessionProxyConfig | None:
        """The session a `Proxy-Authorization: Basic ...` header proves, or None."""
        if not proxy_authorization:
            return None
        scheme, _, encoded = proxy_authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        cfg = self._sessions.get(user)
        if cfg is None or not hmac.compare_digest(hash_password(password), cfg.password_hash):
            return None
        return cfg
