"""`clauderon config paths` and `clauderon config env`: where a home's files live, and which environment
variables change what clauderon does, with their values. A secret value is never part of a report: only
its first characters (long values) and its length."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from proxy import AUDIT_FILE, CODEX_ENV, CODEX_TOKENS_FILE, ENV_NAMES, PUBLIC_CERT
from runtime.home import Home
from runtime.original_config import env_keys
from runtime.settings import Section, Settings, is_secret_setting


def home_paths(home: Home, environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Each file and directory clauderon keeps (name, path, whether it exists, what it holds)."""
    environ = os.environ if environ is None else environ
    codex_auth = environ.get("CODEX_AUTH_JSON_PATH") or str(Path(environ.get("HOME") or Path.home())
                                                            / ".codex" / "auth.json")
    rows: list[tuple[str, Path, str]] = [
        ("home", home.root, "CLAUDERON_HOME (default ~/.clauderon)"),
        ("config.toml", home.config_file, "settings"),
        ("proxy.toml", home.proxy_config_file, "the proxy's settings: [proxy], [routes], [onepassword]"),
        ("docker-config.toml", home.docker_config_file, "the original clauderon's Docker settings, read if there"),
        ("secrets", home.secrets, "credential files, one per name, mode 0600"),
        ("store", home.db_file, "the session store"),
        ("store backups", home.backups, "copies of the store"),
        ("records", home.records, "one file per session for re-adoption"),
        ("worktrees", home.worktrees, "one git worktree per session"),
        ("agent homes", home.agent_homes, "one home directory per session's agent"),
        ("logs", home.logs, "the engine's, app's and proxy's logs"),
        ("audit", home.root / AUDIT_FILE, "every request through the proxy (credential names, never values)"),
        ("proxy CA", home.proxy_ca / PUBLIC_CERT, "the CA certificate sandboxes trust (its key stays beside it)"),
        ("engine socket", home.socket_path, "the engine's API (unix socket)"),
        ("engine info", home.engine_info, "the running engine's pid and socket"),
        # runtime/engine/sealed.py: one directory per sealed session (the home's short socket dir if too long).
        ("sealed sockets", home.run / "proxy", "per-session proxy sockets of sealed sandboxes"),
        ("themes", home.themes, "your theme files"),
        ("codex tokens", home.root / CODEX_TOKENS_FILE, "refreshed Codex tokens that came from the environment"),
        ("codex auth.json", Path(codex_auth).expanduser(), "Codex's sign-in, read for codex_oauth"),
    ]
    return [{"name": name, "path": str(path), "exists": path.exists(), "what": what} for name, path, what in rows]


# Variables outside the credential and settings tables, and what each changes.
OTHER_VARIABLES: dict[str, str] = {
    "CLAUDERON_HOME": "the home (default ~/.clauderon)",
    "OP_SERVICE_ACCOUNT_TOKEN": "1Password service account: resolves op:// references",
    "CODEX_AUTH_JSON_PATH": "where codex_oauth is read (default ~/.codex/auth.json)",
    "DOCKER_HOST": "Docker engine address, unless [docker] base_url is set",
    "KUBECONFIG": "kubeconfig file, unless [kubernetes] kubeconfig is set",
    "XDG_RUNTIME_DIR": "where sockets go when the home's path is too long for one",
    "XDG_CACHE_HOME": "cache of `clauderon image build` (default ~/.cache)",
    "HOME": "~ in every default path (the home, ~/.codex/auth.json, ~/.kube/config)",
    **{name: "host-side git (push, fetch); never passed into a sandbox"
       for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                    "NO_PROXY", "no_proxy")},
}
# Read by clauderon itself (tests, its own child processes, sandboxes): listed only when set.
INTERNAL_VARIABLES: dict[str, str] = {
    "CLAUDERON_SESSION": "set inside sandboxes: the session's name",
    "CLAUDERON_HOLDER_STATUS_FD": "internal: a local session's holder process",
    "CLAUDERON_TEST_PAUSE_CREATE_AT_STEP": "tests only: pauses `create` at a step",
}
SECRET_VARIABLES = {"OP_SERVICE_ACCOUNT_TOKEN", *CODEX_ENV, *(v for names in ENV_NAMES.values() for v in names)}


def masked_value(value: str) -> str:
    """A secret as `sk-a…(40 chars)` (long values) or `set (12 chars)`: never enough to use or guess it."""
    if len(value) >= 16:
        return f"{value[:4]}…({len(value)} chars)"
    return f"set ({len(value)} chars)"


def _url_without_password(value: str) -> str:
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return masked_value(value)
    if not password:
        return value
    user = f"{parts.username}:" if parts.username else ":"
    return parts._replace(netloc=f"{user}…@{parts.netloc.rsplit('@', 1)[1]}").geturl()


def _shown(value: str, secret: bool) -> str:
    if value.startswith("op://"):
        return f"{value} (1Password reference)"  # vault, item and field names, not the secret
    if secret:
        return masked_value(value)
    return _url_without_password(value) if "@" in value else value  # a proxy URL may carry a password


@dataclass(frozen=True)
class _Variable:
    affects: str
    secret: bool


def _known_variables(environ: Mapping[str, str]) -> dict[str, _Variable]:
    known: dict[str, _Variable] = {}
    for credential, names in ENV_NAMES.items():
        for index, name in enumerate(names):
            shadow = next((n for n in names[:index] if environ.get(n)), None)
            known[name] = _Variable(f"credential {credential}" + (f" (unused: {shadow} is set)" if shadow else ""),
                                    True)
    for name in CODEX_ENV:
        known[name] = _Variable("credential codex_oauth", True)
    for name, affects in OTHER_VARIABLES.items():
        known[name] = _Variable(affects, name in SECRET_VARIABLES)
    for name, affects in INTERNAL_VARIABLES.items():
        if name in environ:
            known[name] = _Variable(affects, False)
    for name, spec in env_keys().items():
        effect = f"setting {spec.target}" if spec.target else "ignored"
        known[name] = _Variable(f"{effect} (from the original clauderon)", False)
    for section_name in Settings.model_fields:
        section = getattr(Settings(), section_name)
        if isinstance(section, Section):
            for key in type(section).model_fields:
                name = f"CLAUDERON_{section_name}_{key}".upper()
                if name in environ:  # dozens exist: only the ones in use are listed
                    known[name] = _Variable(f"setting {section_name}.{key}", is_secret_setting(key))
    return known


def environment_report(environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Each variable that affects clauderon (name, whether set, the value as shown, what it affects), then
    any other `CLAUDERON_*` variable that is set (nothing reads it: a typo?). Secrets are masked."""
    environ = os.environ if environ is None else environ
    rows = []
    known = _known_variables(environ)
    for name, variable in known.items():
        value = environ.get(name)
        shown = _shown(value, variable.secret) if value else "-"
        rows.append({"name": name, "set": value is not None, "value": shown, "affects": variable.affects})
    for name in sorted(environ):
        if name.startswith("CLAUDERON_") and name not in known:  # unknown: masked, it may be a misspelt secret
            rows.append({"name": name, "set": True, "value": _shown(environ[name], secret=True),
                         "affects": "nothing: clauderon does not read it (a typo?)"})
    return rows
