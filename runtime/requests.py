"""What a create request may say, validated once at the engine's door.

The env and mount rules live here once: the API's `CreateRequest`, `clauderon create --env/--mount` and
the create dialog's text areas all parse through them, and a refusal reads the same everywhere
(`env: '1X' is not a variable name ...`), the field named as the API names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from runtime.agents.registry import AgentName, agent_named, all_agents
from runtime.backends.registry import BackendName
from runtime.errors import ClauderonError
from runtime.models import Mount


class CreateRequest(BaseModel):
    """`POST /api/v1/sessions` body; fields left out take the settings' defaults."""

    model_config = ConfigDict(extra="forbid")

    repo: str
    name: str | None = None
    agent: AgentName | None = None
    backend: BackendName | None = None
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
    images: list[str] = []
    """Absolute paths of images (on the engine's machine) that go with `prompt` (`--image-file`)."""
    print: bool = False
    """Run `prompt` headless to the end and keep its result (`runtime.engine.print_runs`)."""
    model: str | None = None
    plan_mode: bool = False
    skip_credential_check: bool = False
    """Create even when the host has no credential for the agent's model (`--no-credential-check`)."""

    @field_validator("model")
    @classmethod
    def _model(cls, model: str | None) -> str | None:
        return None if model is None else check_model_name(model)

    @field_validator("env")
    @classmethod
    def _env_keys(cls, env: dict[str, str]) -> dict[str, str]:
        try:
            for key in env:
                check_env_name(key)
        except LaunchOptionError as exc:  # the API answers `env: <reason>`, as the CLI and dialog do
            raise PydanticCustomError("launch_option", exc.reason) from None
        return env

    @field_validator("mounts")
    @classmethod
    def _mounts(cls, mounts: list[str]) -> list[str]:
        try:
            return parse_mount_entries(mounts)
        except LaunchOptionError as exc:
            raise PydanticCustomError("launch_option", exc.reason) from None

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


class LaunchOptionError(ClauderonError):
    """An env or mount entry that breaks the rules; reads `<field>: <reason>`, as the API's answer does."""

    def __init__(self, field: Literal["env", "mounts"], reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


MAX_MODEL_CHARS = 100
# One argv token the agent's CLI takes as a model name: no blanks, quotes or shell metacharacters, no leading "-".
_MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]*")


def check_model_name(model: str) -> str:
    """`model` if it is a plain model name (as `sonnet`, `gpt-5.5`, `gemini-2.5-pro` are)."""
    if len(model) > MAX_MODEL_CHARS or not _MODEL_RE.fullmatch(model):
        raise ValueError(f"model {model[:MAX_MODEL_CHARS]!r} is not a model name: letters, digits and . _ - : / @, "
                         f"starting with a letter or digit, at most {MAX_MODEL_CHARS} characters")
    return model


def check_agent_options(agent: str, *, model: str | None, plan_mode: bool) -> None:
    """Refuse a model or plan mode for an agent whose CLI has none (one line naming the agents that do)."""
    chosen = agent_named(agent)
    if model and chosen.model_option is None:
        takers = ", ".join(a.name for a in all_agents() if a.model_option)
        raise ClauderonError(f"the {agent} agent takes no model; drop --model or use --agent {takers}")
    if plan_mode and not chosen.takes_plan_mode:
        takers = ", ".join(a.name for a in all_agents() if a.takes_plan_mode)
        raise ClauderonError(f"the {agent} agent has no plan mode; drop --plan or use --agent {takers}")


def check_env_name(name: str) -> str:
    """`name` if it is an environment variable name: letters, digits and _, not starting with a digit."""
    if not name or not (name[0].isalpha() or name[0] == "_") or not all(c.isalnum() or c == "_" for c in name):
        raise LaunchOptionError("env", f"{name!r} is not a variable name (letters, digits and _, "
                                "not starting with a digit)")
    return name


def parse_env_entry(entry: str) -> tuple[str, str]:
    """`KEY=VALUE` (the value may hold `=` and may be empty) as (key, value)."""
    key, sep, value = entry.partition("=")
    if not sep:
        raise LaunchOptionError("env", f"{entry!r} is not KEY=VALUE")
    return check_env_name(key), value


def parse_env_entries(entries: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` entries (one per `--env`, or per line) as a dict; a later key wins."""
    return dict(parse_env_entry(entry) for entry in entries)


def parse_mount(text: str) -> Mount:
    """`HOST:PATH[:ro|:rw]` with both paths absolute and the container path outside /workspace."""
    parts = text.split(":")
    readonly = False
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        readonly = parts[2] == "ro"
        parts = parts[:2]
    if len(parts) != 2 or not parts[0].startswith("/") or not parts[1].startswith("/"):
        raise LaunchOptionError("mounts", f"{text!r} is not HOST:PATH[:ro] with absolute paths")
    if parts[1] == "/workspace" or parts[1].startswith("/workspace/"):
        raise LaunchOptionError("mounts", f"{text!r} would cover /workspace, which holds the session's worktree")
    return Mount(host=parts[0], path=parts[1], readonly=readonly)


def parse_mount_entries(entries: Iterable[str]) -> list[str]:
    """The mount entries, each checked by `parse_mount`, in the text form a create request carries."""
    checked = list(entries)
    for entry in checked:
        parse_mount(entry)
    return checked


def entry_lines(text: str) -> list[str]:
    """The entries of a one-per-line text box: each line without its surrounding blanks, blank lines dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def refuse_home_mount(mount: Mount, home_root: Path) -> Mount:
    """A mount must not expose CLAUDERON_HOME (secrets, the CA key, the store, other sessions' homes) nor
    anything that contains it; links are resolved first so a symlink to the home is refused too."""
    source = Path(mount.host).expanduser().resolve()
    home = Path(home_root).expanduser().resolve()
    if source == home or home in source.parents or source in home.parents:
        raise ClauderonError(f"mount {mount.host} would expose CLAUDERON_HOME ({home}) to the sandbox; "
                             "mount a directory outside it")
    return mount
