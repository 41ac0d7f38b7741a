"""The original clauderon's configuration files and environment, read as the original documents them.

People bring their `~/.clauderon` from the original: `config.toml` with `[feature_flags]` and `[server]`,
`proxy.toml` with `[onepassword] enabled/op_path`, and `docker-config.toml`. Each key the original documents
is either mapped onto a setting here (`ORIGINAL_KEYS[...].target`) or accepted and ignored with one warning
per section. Only those documented sections and keys are tolerated: anything else still fails, so a typo can
never pass for an original key (and a typo in `[proxy]` can never widen egress). docs/config.md has the table.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import ClauderonError

NO_EFFECT = object()
"""What a converter returns for a value that asks for what this clauderon does anyway."""

ORIGIN = "from the original clauderon"


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on", "false", "0", "no", "off", ""}:
        return value.strip().lower() in {"true", "1", "yes", "on"}
    raise ValueError(f"{value!r} is not true or false")


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty string")
    return value.strip()


def _webauthn(value: Any) -> Any:
    return "passkey" if _bool(value) else NO_EFFECT  # off: the printed-token login, the default here


def _pull_policy(value: Any) -> str:
    policies = {"if-not-present": "missing", "always": "always", "never": "never"}
    if value not in policies:
        raise ValueError(f"{value!r} is not one of {', '.join(policies)}")
    return policies[value]


def _cpu(value: Any) -> float:
    try:
        cpu = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number of CPUs") from None
    if cpu <= 0:
        raise ValueError(f"{value!r} is not a positive number of CPUs")
    return cpu


_BINARY_UNITS = {"ki": ("k", 1), "mi": ("m", 1), "gi": ("g", 1), "ti": ("g", 1024)}


def _memory(value: Any) -> str:
    """The original's Kubernetes-style sizes (`4Gi`) in Docker's form (`4g`; Docker's units are binary)."""
    text = _text(value)
    match = re.fullmatch(r"(\d+)\s*([kKmMgGtT]i)?([bB])?", text) or re.fullmatch(r"(\d+)\s*([kKmMgG])[bB]?", text)
    if match is None:
        raise ValueError(f"{value!r} is not a memory size like 4Gi or 4g")
    number, unit = int(match.group(1)), (match.group(2) or "").lower()
    if unit in _BINARY_UNITS:
        suffix, factor = _BINARY_UNITS[unit]
        return f"{number * factor}{suffix}"
    return f"{number}{unit}"


@dataclass(frozen=True)
class OriginalKey:
    """One key the original documents, and what it becomes here."""

    file: str
    """`config.toml`, `proxy.toml`, `docker-config.toml` or `env`."""
    section: str
    """Its TOML table (`""` for top-level keys and environment variables)."""
    key: str
    target: str | None
    """`section.key` of the setting it maps to, or None: no meaning here (ignored, with a warning)."""
    note: str
    """How it maps, or why it has no meaning here (warnings and docs/config.md)."""
    convert: Callable[[Any], Any] = _bool
    """Checks the original's value and turns it into the setting's; NO_EFFECT when nothing changes."""
    agrees: tuple[Any, ...] = ()
    """Values of an ignored key that ask for what this clauderon always does: accepted without a warning."""

    @property
    def where(self) -> str:
        return self.key if self.file == "env" else f"[{self.section}] {self.key}" if self.section else self.key


def _flag(name: str, target: str | None, note: str, convert: Callable[[Any], Any] = _bool,
          agrees: tuple[Any, ...] = ()) -> OriginalKey:
    return OriginalKey("config.toml", "feature_flags", name, target, note, convert, agrees)


FEATURE_FLAGS: tuple[OriginalKey, ...] = (
    _flag("enable_webauthn_auth", "serve.auth", 'true: `[serve] auth = "passkey"`; false: the token login',
          _webauthn),
    _flag("enable_ai_metadata", "titles.enabled", "titles and descriptions from the prompt by a small model call"),
    _flag("enable_auto_reconcile", "engine.recreate_missing", "recreate sessions whose sandbox went away"),
    _flag("enable_proxy_port_reuse", None, "one proxy port (`[proxy] port`) serves every session here",
          agrees=(True,)),
    _flag("enable_usage_tracking", None, "no usage tracking here", agrees=(False,)),
    _flag("enable_kubernetes_backend", None, "the kubernetes backend is always available here", agrees=(True,)),
    _flag("enable_experimental_models", None, "each agent's CLI picks its models here", agrees=(False,)),
    _flag("enable_readonly_mode", None, "read-only access mode is always available here", agrees=(True,)),
)

ORIGINAL_KEYS: tuple[OriginalKey, ...] = (
    *FEATURE_FLAGS,
    OriginalKey("config.toml", "server", "bind_addr", "serve.host", "address `clauderon serve` binds", _text),
    OriginalKey("config.toml", "server", "origin", "serve.public_url", "the URL browsers open", _text),
    OriginalKey("config.toml", "server", "disable_auth", None, "`clauderon serve` always asks for a login",
                agrees=(False,)),
    OriginalKey("proxy.toml", "onepassword", "op_path", None, "the 1Password SDK needs no `op` CLI", _text),
    OriginalKey("docker-config.toml", "", "extra_flags", None, "sandboxes are made through the Docker API, not "
                "`docker run` flags; `[docker] extra_capabilities` adds capabilities", lambda v: v, agrees=([],)),
    OriginalKey("docker-config.toml", "", "use_volume_mode", None, "the session's worktree is always "
                "bind-mounted from the host", agrees=(False,)),
    OriginalKey("docker-config.toml", "image", "image", "docker.image", "image for new docker sessions", _text),
    OriginalKey("docker-config.toml", "image", "pull_policy", "docker.pull_policy",
                "`if-not-present` is `missing`; `always` and `never` as they are", _pull_policy),
    OriginalKey("docker-config.toml", "resources", "cpu", "docker.cpu", "CPUs per container", _cpu),
    OriginalKey("docker-config.toml", "resources", "memory", "docker.memory",
                "memory per container; `4Gi` becomes `4g`", _memory),
    OriginalKey("env", "", "CLAUDERON_BIND_ADDR", "serve.host", "address `clauderon serve` binds", _text),
    OriginalKey("env", "", "CLAUDERON_ORIGIN", "serve.public_url", "the URL browsers open", _text),
    OriginalKey("env", "", "CLAUDERON_DISABLE_AUTH", None, "`clauderon serve` always asks for a login",
                agrees=(False,)),
    OriginalKey("env", "", "CLAUDERON_DEV", None, "no development mode here", agrees=(False,)),
    OriginalKey("env", "", "CLAUDERON_RP_ID", None, "the passkey RP ID is the host of `[serve] public_url`", _text),
    OriginalKey("env", "", "CLAUDERON_LOG_FORMAT", None, "logs are text files in `CLAUDERON_HOME/logs`", _text),
    *(OriginalKey("env", "", "CLAUDERON_FEATURE_" + flag.key.upper(), flag.target, flag.note, flag.convert,
                  flag.agrees) for flag in FEATURE_FLAGS),
)

# The original's sections, per file, that it owns outright (every key in them is one of ORIGINAL_KEYS).
_OWNED_SECTIONS = {("config.toml", "feature_flags"), ("config.toml", "server")}
# Keys of the original inside a section this clauderon also has.
_SHARED_KEYS = {("proxy.toml", "onepassword", "op_path")}
DOCKER_CONFIG = "docker-config.toml"


def _documented(file: str) -> dict[tuple[str, str], OriginalKey]:
    return {(k.section, k.key): k for k in ORIGINAL_KEYS if k.file == file}


def env_keys() -> dict[str, OriginalKey]:
    """The original's environment variables, by name."""
    return {k.key: k for k in ORIGINAL_KEYS if k.file == "env"}


@dataclass
class OriginalSettings:
    """What the original's files and environment say, in this clauderon's terms."""

    from_files: dict[str, tuple[Any, str]] = field(default_factory=dict)
    """`section.key` -> (value, source): applied under this clauderon's own keys in config.toml."""
    from_env: dict[str, tuple[Any, str]] = field(default_factory=dict)
    """`section.key` -> (value, source): applied over the files, under `CLAUDERON_<SECTION>_<KEY>`."""
    ignored: dict[tuple[str, str], list[OriginalKey]] = field(default_factory=dict)
    """(file, section) -> the keys of it that were ignored."""

    def take(self, path: Path, data: dict[str, Any]) -> dict[str, Any]:
        """Read the original's sections and keys out of a config.toml or proxy.toml; returns the rest."""
        rest = copy.deepcopy(data)
        documented = _documented(path.name)
        for (file, section) in _OWNED_SECTIONS:
            if file == path.name and section in rest:
                values = rest.pop(section)
                if not isinstance(values, dict):
                    raise ClauderonError(f"{path}: [{section}] must be a table ({ORIGIN})")
                for key, value in values.items():
                    spec = documented.get((section, key))
                    if spec is None:
                        known = ", ".join(k for s, k in documented if s == section)
                        raise ClauderonError(f"{path}: unknown key {key} in [{section}] ({ORIGIN}, whose keys "
                                             f"there are {known}); fix the spelling or remove it")
                    self._record(spec, value, path.name)
        for (file, section, key) in _SHARED_KEYS:
            values = rest.get(section)
            if file == path.name and isinstance(values, dict) and key in values:
                self._record(documented[(section, key)], values.pop(key), path.name)
        return rest

    def read_docker_config(self, path: Path, data: dict[str, Any]) -> None:
        """The original's `docker-config.toml`: every key must be one it documents."""
        documented = _documented(DOCKER_CONFIG)
        for name, value in data.items():
            if ("", name) in documented:
                self._record(documented[("", name)], value, path.name)
            elif isinstance(value, dict) and any(section == name for section, _ in documented):
                for key, inner in value.items():
                    spec = documented.get((name, key))
                    if spec is None:
                        raise ClauderonError(f"{path}: unknown key {key} in [{name}] ({ORIGIN}); fix the spelling "
                                             "or remove it")
                    self._record(spec, inner, path.name)
            else:
                raise ClauderonError(f"{path}: unknown key or section {name} ({ORIGIN}, whose docker-config.toml "
                                     "has extra_flags, use_volume_mode, [image] and [resources])")

    def read_env(self, environ: Mapping[str, str]) -> None:
        """The original's environment variables that are set."""
        for name, spec in env_keys().items():
            if name in environ:
                self._record(spec, environ[name], "env")

    def _record(self, spec: OriginalKey, value: Any, file: str) -> None:
        source = f"env {spec.key}" if file == "env" else f"{file} {spec.where}"
        try:
            converted = spec.convert(value)
        except ValueError as exc:
            raise ClauderonError(f"{source}: {exc} ({ORIGIN}: {spec.note})") from None
        if spec.target is None:
            if converted not in spec.agrees:
                self.ignored.setdefault((file, spec.section), []).append(spec)
            return
        if converted is NO_EFFECT:
            if file == "env":  # the environment outranks the files: off here means this clauderon's default
                self.from_files.pop(spec.target, None)
            return
        (self.from_env if file == "env" else self.from_files)[spec.target] = (converted, source)

    @property
    def warnings(self) -> list[str]:
        """One line per file section with ignored keys (the one key's reason, or where to read them)."""
        lines = []
        for (file, section), specs in self.ignored.items():
            keys = ", ".join(s.key for s in specs)
            where = "environment" if file == "env" else f"{file} [{section}]" if section else file
            why = specs[0].note if len(specs) == 1 else "none has a meaning here; docs/config.md says why"
            lines.append(f"ignored: {where} {keys} ({ORIGIN}; {why})")
        return lines


def without_original_keys(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """`data` (a config.toml or proxy.toml) without the original's sections and keys, unchecked: what
    `save_setting` validates before it writes a file that keeps them."""
    rest = copy.deepcopy(data)
    for (file, section) in _OWNED_SECTIONS:
        if file == path.name:
            rest.pop(section, None)
    for (file, section, key) in _SHARED_KEYS:
        values = rest.get(section)
        if file == path.name and isinstance(values, dict):
            values.pop(key, None)
    return rest
