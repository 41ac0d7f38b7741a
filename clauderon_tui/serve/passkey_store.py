"""The passkeys `clauderon serve` accepts: `CLAUDERON_HOME/passkeys.json`, mode 0600, replaced atomically.

Only public material is kept (credential id, COSE public key, sign counter, a name and two dates), but the
file decides who may drive every session, so it is private to the user and never half-written: each change
goes to a temporary file in the same folder (created 0600), is fsynced, then renamed over the old one.
One `serve` process owns it; a lock keeps its own request handlers from interleaving writes.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from proxy import atomic_write

FILE_NAME = "passkeys.json"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn writes ids."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    """The inverse of `b64url` (padding optional)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_count_ok(stored: int, offered: int) -> bool:
    """Whether an assertion's signature counter is acceptable after `stored`.

    Authenticators without a counter report 0 forever (synced passkeys do): that is allowed. Otherwise the
    counter must grow; one that stands still or goes back means a cloned authenticator or a replay.
    """
    if stored == 0 and offered == 0:
        return True
    return offered > stored


@dataclass
class Passkey:
    """One registered credential."""

    credential_id: str
    """base64url credential id."""
    public_key: str
    """base64url COSE public key."""
    sign_count: int
    name: str
    created: float
    """Unix time of registration."""
    last_used: float | None = None
    """Unix time of the last login with it (None: never)."""


class PasskeyStoreError(Exception):
    """The passkey file cannot be read or written (the message says which file and why)."""


class PasskeyStore:
    """Load, change and atomically save the passkeys of one home."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.user_id, self._keys = self._load()

    def _load(self) -> tuple[bytes, dict[str, Passkey]]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return secrets.token_bytes(16), {}
        except (OSError, ValueError) as exc:
            raise PasskeyStoreError(f"cannot read {self.path}: {exc}") from exc
        try:
            keys = {k["credential_id"]: Passkey(**k) for k in raw.get("passkeys", [])}
            return from_b64url(raw["user_id"]), keys
        except (KeyError, TypeError, ValueError) as exc:
            raise PasskeyStoreError(f"{self.path} is not a passkey file: {exc}") from exc

    def _save(self) -> None:
        data = {"user_id": b64url(self.user_id), "passkeys": [asdict(k) for k in self._keys.values()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(data, indent=1), mode=0o600)

    # -- queries -------------------------------------------------------------------------------------------------
    def all(self) -> list[Passkey]:
        """Every passkey, oldest first."""
        return sorted(self._keys.values(), key=lambda k: k.created)

    def get(self, credential_id: str) -> Passkey | None:
        """The passkey with this base64url id, if registered."""
        return self._keys.get(credential_id)

    def __len__(self) -> int:
        return len(self._keys)

    # -- changes -------------------------------------------------------------------------------------------------
    def add(self, credential_id: bytes, public_key: bytes, sign_count: int, name: str) -> Passkey:
        """Register a credential and save."""
        key = Passkey(credential_id=b64url(credential_id), public_key=b64url(public_key), sign_count=sign_count,
                      name=name.strip()[:64] or "passkey", created=time.time())
        with self._lock:
            self._keys[key.credential_id] = key
            self._save()
        return key

    def record_use(self, credential_id: str, sign_count: int) -> None:
        """A login with this passkey: refuse a counter that did not grow, else store it and the time."""
        with self._lock:
            key = self._keys[credential_id]
            if not sign_count_ok(key.sign_count, sign_count):
                raise ValueError(f"sign counter {sign_count} did not grow past {key.sign_count}")
            key.sign_count = sign_count
            key.last_used = time.time()
            self._save()

    def remove(self, credential_id: str) -> None:
        """Forget a passkey; the last one cannot be removed (nobody could log in any more)."""
        with self._lock:
            if credential_id not in self._keys:
                raise KeyError(credential_id)
            if len(self._keys) == 1:
                raise ValueError("the last passkey cannot be removed")
            del self._keys[credential_id]
            self._save()
