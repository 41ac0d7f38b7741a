"""What a create request may say, validated once at the engine's door."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from runtime.agents.registry import AgentName
from runtime.errors import ClauderonError
from runtime.models import Mount


class CreateRequest(BaseModel):
    """`POST /api/v1/sessions` body; fields left out take the settings' defaults."""

    model_config = ConfigDict(extra="forbid")

    repo: str
    name: str | None = None
    agent: AgentName | None = None
    backend: Literal["docker", "local", "kubernetes"] | None = None
    image: str | None = None
    network: Literal["auto", "sealed", "bridge", "host"] | None = None
    base_branch: str | None = None
    prompt: str = ""
    access_mode: Literal["read-write", "read-only"] | None = None
    skip_permissions: bool | None = None
    cpu: float | None = None
    memory: str | None = None
    env: dict[str, str] = {}
    mounts: list[str] = []
    reuse_branch: bool = False

    @field_validator("env")
    @classmethod
    def _env_keys(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if not key or not (key[0].isalpha() or key[0] == "_") or not all(c.isalnum() or c == "_" for c in key):
                raise ValueError(f"environment variable name {key!r} is not valid (letters, digits and _)")
        return env

    @field_validator("memory")
    @classmethod
    def _memory(cls, memory: str | None) -> str | None:
        if memory is None:
            return None
        text = memory.strip().lower()
        digits = text.rstrip("bkmg")
        if not digits.isdigit() or len(text) - len(digits) > 1:
            raise ValueError(f"memory {memory!r} is not a size like 512m or 4g")
        return text

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, cpu: float | None) -> float | None:
        if cpu is not None and not (0 < cpu <= 512):
            raise ValueError(f"cpu {cpu} must be a positive number of CPUs")
        return cpu


def parse_env_pair(pair: str) -> tuple[str, str]:
    """`KEY=VALUE` from the command line."""
    key, sep, value = pair.partition("=")
    if not sep or not key:
        raise ClauderonError(f"--env {pair!r} is not KEY=VALUE")
    return key, value


def parse_mount(text: str) -> Mount:
    """`HOST:PATH[:ro]` with both paths absolute."""
    parts = text.split(":")
    readonly = False
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        readonly = parts[2] == "ro"
        parts = parts[:2]
    if len(parts) != 2 or not parts[0].startswith("/") or not parts[1].startswith("/"):
        raise ClauderonError(f"mount {text!r} is not HOST:PATH[:ro] with absolute paths")
    if parts[1] == "/workspace" or parts[1].startswith("/workspace/"):
        raise ClauderonError(f"mount {text!r} would cover /workspace, which holds the session's worktree")
    return Mount(host=parts[0], path=parts[1], readonly=readonly)


def refuse_home_mount(mount: Mount, home_root: Path) -> Mount:
    """A mount must not expose CLAUDERON_HOME (secrets, the CA key, the store, other sessions' homes) nor
    anything that contains it; links are resolved first so a symlink to the home is refused too."""
    source = Path(mount.host).expanduser().resolve()
    home = Path(home_root).expanduser().resolve()
    if source == home or home in source.parents or source in home.parents:
        raise ClauderonError(f"mount {mount.host} would expose CLAUDERON_HOME ({home}) to the sandbox; "
                             "mount a directory outside it")
    return mount
