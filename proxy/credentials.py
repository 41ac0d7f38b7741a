"""Where real credentials come from, and the questions the rest of clauderon asks about them.

Lookup order per credential: environment variables (a value starting with `op://` is resolved through
1Password), then `[onepassword.credentials]` references, then `CLAUDERON_HOME/secrets/<name>` (must be
0600). `[onepassword] enabled = false` skips every `op://` reference. Codex OAuth tokens come from the
environment or from Codex's `auth.json`. Values never leave this process except in requests the proxy sends
upstream.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from proxy.atomicfile import atomic_write
from proxy.errors import ProxyError
from proxy.secrets_1p import OnePasswordResolver, SecretResolver

logger = logging.getLogger(__name__)

# Credential name -> environment variables checked in order.
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "github_token": ("GITHUB_TOKEN", "GH_TOKEN"),
    "anthropic_oauth_token": ("CLAUDE_CODE_OAUTH_TOKEN",),
    "anthropic_api_key": ("ANTHROPIC_API_KEY",),
    "openai_api_key": ("OPENAI_API_KEY", "CODEX_API_KEY"),
    "gemini_api_key": ("GEMINI_API_KEY",),
    "pagerduty_token": ("PAGERDUTY_TOKEN", "PAGERDUTY_API_KEY"),
    "sentry_auth_token": ("SENTRY_AUTH_TOKEN",),
    "grafana_api_key": ("GRAFANA_API_KEY",),
    "npm_token": ("NPM_TOKEN",),
    "docker_token": ("DOCKER_TOKEN",),
    "k8s_token": ("K8S_TOKEN",),
    "talos_token": ("TALOS_TOKEN",),
}
CODEX_OAUTH = "codex_oauth"
"""The name the Codex OAuth token set goes by in credential sets and reports."""
CODEX_TOKENS_FILE = "codex-tokens.json"
"""In the home: where refreshed Codex tokens go when they came from the environment."""
CODEX_ENV = ("CODEX_ACCESS_TOKEN", "CODEX_REFRESH_TOKEN", "CODEX_ID_TOKEN", "CODEX_ACCOUNT_ID")
"""The environment variables holding the Codex OAuth token set (access and refresh token both needed)."""
CREDENTIAL_NAMES: tuple[str, ...] = (*ENV_NAMES, CODEX_OAUTH)


def how_to_provide(names: Sequence[str], secrets_dir: Path) -> str:
    """How a person gives clauderon one of the credentials `names` (alternatives; any one will do), as one
    clause: Codex's sign-in, the environment, a 1Password reference, or a file in `secrets_dir`."""
    ways = ["sign in with `codex login` on this machine"] if CODEX_OAUTH in names else []
    keys = [name for name in names if name in ENV_NAMES]
    if keys:
        home = Path.home()
        shown = Path("~") / secrets_dir.relative_to(home) if secrets_dir.is_relative_to(home) else secrets_dir
        ways += [f"set {' or '.join(ENV_NAMES[name][0] for name in keys)}",
                 "add an op:// reference under [onepassword.credentials] in proxy.toml",
                 f"put it in {shown / keys[-1]} (chmod 600)"]
    return ", or ".join(ways)


def masked(value: str | None) -> str:
    """At most the first 4 and last 4 characters; short values show less, very short ones nothing."""
    if not value:
        return ""
    n = len(value)
    if n >= 16:
        return f"{value[:4]}…{value[-4:]}"
    if n >= 8:
        return f"{value[:2]}…{value[-2:]}"
    return "…"


@dataclass
class CodexTokens:
    """Codex's ChatGPT-login tokens, and where to write refreshed ones back."""

    access_token: str
    refresh_token: str
    id_token: str = ""
    account_id: str = ""
    path: Path | None = None
    """The `auth.json` they came from (refreshed tokens are written back there), or none for env vars."""

    def values(self) -> list[str]:
        return [v for v in (self.access_token, self.refresh_token, self.id_token) if v]


@dataclass
class Credential:
    """One resolved credential (or the reason it is missing)."""

    name: str
    value: str | None = None
    source: str = ""
    error: str = ""

    @property
    def available(self) -> bool:
        return bool(self.value)


@dataclass
class CredentialStore:
    """Resolves and holds the host's real credentials; thread-safe for the proxy thread and the engine."""

    secrets_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    onepassword_refs: Mapping[str, str] = field(default_factory=dict)
    resolver: SecretResolver | None = None
    onepassword_enabled: bool = True
    """False (`[onepassword] enabled = false`): no `op://` reference is resolved, from env or settings."""
    codex_auth_path: Path | None = None
    tokens_file: Path | None = None
    """Where refreshed Codex tokens go when they came from env vars rather than a file."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._creds: dict[str, Credential] = {}
        self._codex: CodexTokens | None = None
        self._real_values: frozenset[str] = frozenset()
        self._loaded = False

    # --- loading -------------------------------------------------------------------------------------

    def load(self) -> None:
        """Resolve every known credential now (1Password calls happen here, once)."""
        creds = {name: self._lookup(name) for name in ENV_NAMES}
        codex = self._lookup_codex()
        with self._lock:
            self._creds = creds
            self._codex = codex
            self._recompute_real_values()
            self._loaded = True

    def load_missing(self) -> None:
        """Look up again only the credentials this store lacks (one added since the engine started: a
        `secrets/` file, a `codex login`); a credential it holds is never replaced (Codex's refresh token
        may have been used up since it was read)."""
        self._ensure_loaded()
        found = {name: self._lookup(name) for name, cred in self._creds.items() if not cred.available}
        codex = self._lookup_codex() if self._codex is None else None
        with self._lock:
            self._creds.update({name: cred for name, cred in found.items() if cred.available})
            if self._codex is None:
                self._codex = codex
            self._recompute_real_values()

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self.load()

    def _resolve_ref(self, name: str, ref: str) -> str | None:
        if self.resolver is None:  # one SDK client for every reference (each authentication is a round trip)
            self.resolver = OnePasswordResolver(self.environ.get("OP_SERVICE_ACCOUNT_TOKEN", ""))
        try:
            return self.resolver.resolve(ref)
        except ProxyError as exc:
            # A 1Password outage must not take every credential down: log it and use the next source.
            logger.warning("credential %s: %s; trying the next source", name, exc)
            return None

    def _lookup(self, name: str) -> Credential:
        skipped = ""
        for env in ENV_NAMES.get(name, ()):
            raw = self.environ.get(env, "")
            if not raw:
                continue
            if raw.startswith("op://"):
                if not self.onepassword_enabled:
                    skipped = f"env {env} is a 1Password reference, and [onepassword] enabled = false"
                    continue
                value = self._resolve_ref(name, raw)
                if value:
                    return Credential(name, value, f"1password (env {env})")
                continue
            return Credential(name, raw, f"env {env}")
        ref = self.onepassword_refs.get(name)
        if ref and self.onepassword_enabled:
            value = self._resolve_ref(name, ref)
            if value:
                return Credential(name, value, "1password")
        found = self._from_file(name)
        if skipped and not found.available and not found.error:
            found.error = skipped
        return found

    def _from_file(self, name: str) -> Credential:
        path = self.secrets_dir / name
        try:
            st = path.stat()
        except FileNotFoundError:
            return Credential(name)
        if stat.S_IMODE(st.st_mode) & 0o077:
            error = f"{path} is readable by others; run `chmod 600 {path}`"
            logger.error("credential %s refused: %s", name, error)
            return Credential(name, None, f"file {path}", error)
        value = path.read_text().strip()
        return Credential(name, value or None, f"file {path}")

    def _lookup_codex(self) -> CodexTokens | None:
        env = self.environ
        if env.get("CODEX_ACCESS_TOKEN") and env.get("CODEX_REFRESH_TOKEN"):
            return CodexTokens(
                env["CODEX_ACCESS_TOKEN"], env["CODEX_REFRESH_TOKEN"],
                env.get("CODEX_ID_TOKEN", ""), env.get("CODEX_ACCOUNT_ID", ""), None,
            )
        path = self.codex_auth_path
        if path is None:
            path = Path(env["CODEX_AUTH_JSON_PATH"]) if env.get("CODEX_AUTH_JSON_PATH") else (
                Path(env.get("HOME", str(Path.home()))) / ".codex" / "auth.json")
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("codex auth file %s unreadable: %s", path, exc)
            return None
        tokens = data.get("tokens") or {}
        if not (tokens.get("access_token") and tokens.get("refresh_token")):
            return None
        return CodexTokens(tokens["access_token"], tokens["refresh_token"], tokens.get("id_token", ""),
                           tokens.get("account_id", ""), path)

    def _recompute_real_values(self) -> None:
        values = {c.value for c in self._creds.values() if c.value}
        if self._codex:
            values.update(self._codex.values())
        # Very short values would make the tripwire fire on ordinary text; real tokens are long.
        self._real_values = frozenset(v for v in values if len(v) >= 8)

    # --- queries ---------------------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        """The real value of `name`, or None. (Codex OAuth: the access token.)"""
        self._ensure_loaded()
        if name == CODEX_OAUTH:
            return self._codex.access_token if self._codex else None
        cred = self._creds.get(name)
        return cred.value if cred else None

    def has(self, name: str) -> bool:
        """Whether `name` is available on this host."""
        return bool(self.get(name))

    @property
    def codex(self) -> CodexTokens | None:
        """The Codex OAuth tokens, when the host has them."""
        self._ensure_loaded()
        return self._codex

    def real_values(self) -> frozenset[str]:
        """Every real credential value (the tripwire's needles)."""
        self._ensure_loaded()
        return self._real_values

    def is_real_credential_value(self, value: str) -> bool:
        """True when `value` equals, or contains, a real credential (the engine refuses such `--env` values)."""
        if not value:
            return False
        return any(v in value for v in self.real_values())

    def report(self) -> list[dict[str, Any]]:
        """Rows for `clauderon credentials [--json]`: name, available, source, masked (never the value)."""
        self._ensure_loaded()
        rows = []
        for name in ENV_NAMES:
            c = self._creds[name]
            row = {"name": name, "available": c.available, "source": c.source, "masked": masked(c.value)}
            if c.error:
                row["error"] = c.error
            rows.append(row)
        codex = self._codex
        rows.append({
            "name": CODEX_OAUTH, "available": codex is not None,
            "source": ("env CODEX_ACCESS_TOKEN" if codex and codex.path is None else
                       f"file {codex.path}" if codex else ""),
            "masked": masked(codex.access_token) if codex else "",
        })
        return rows

    # --- Codex refresh ---------------------------------------------------------------------------------

    def update_codex_tokens(self, access: str | None, refresh: str | None, id_token: str | None) -> None:
        """Keep refreshed Codex tokens on the host: in memory, and written back where they came from."""
        with self._lock:
            codex = self._codex
            if codex is None:
                return
            codex.access_token = access or codex.access_token
            codex.refresh_token = refresh or codex.refresh_token
            codex.id_token = id_token or codex.id_token
            self._recompute_real_values()
            target = codex.path or self.tokens_file
        if target is not None:
            self._write_codex_file(target, codex)

    @staticmethod
    def _write_codex_file(path: Path, codex: CodexTokens) -> None:
        try:
            data = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:
            data = {}
        tokens = data.setdefault("tokens", {})
        tokens.update({"access_token": codex.access_token, "refresh_token": codex.refresh_token,
                       "id_token": codex.id_token, "account_id": codex.account_id})

        data["last_refresh"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        atomic_write(path, json.dumps(data, indent=2), mode=0o600)


class CredentialHome(Protocol):
    """What the store needs of a clauderon home: where secrets and the Codex token file live."""

    @property
    def root(self) -> Path: ...

    @property
    def secrets(self) -> Path: ...


class OnePasswordReferences(Protocol):
    """The `[onepassword]` settings section: whether it is on, and credential name -> `op://` reference."""

    @property
    def enabled(self) -> bool: ...

    @property
    def credentials(self) -> Mapping[str, str]: ...


class CredentialSettings(Protocol):
    """What the store needs of the settings: the 1Password references."""

    @property
    def onepassword(self) -> OnePasswordReferences: ...


def credential_store_for(home: CredentialHome, settings: CredentialSettings, *,
                         environ: Mapping[str, str] | None = None,
                         resolver: SecretResolver | None = None) -> CredentialStore:
    """The store for a home and its settings (what `clauderon credentials` and the proxy use)."""
    return CredentialStore(
        secrets_dir=home.secrets,
        environ=dict(os.environ if environ is None else environ),
        onepassword_refs=dict(settings.onepassword.credentials),
        resolver=resolver,
        onepassword_enabled=settings.onepassword.enabled,
        tokens_file=home.root / CODEX_TOKENS_FILE,
    )


def credentials_report(home: CredentialHome, settings: CredentialSettings, *,
                       environ: Mapping[str, str] | None = None,
                       resolver: SecretResolver | None = None) -> list[dict[str, Any]]:
    """`clauderon credentials [--json]` without a running proxy."""
    return credential_store_for(home, settings, environ=environ, resolver=resolver).report()
