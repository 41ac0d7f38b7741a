"""What an agent is: the `Agent` every agent module implements, and the records it hands out.

An agent says how it is started (`command`), what it needs in its agent home (`write_setup`,
`install_hooks`), where and in what format it keeps its transcript, what its status hooks mean
(`hook_status`), and what the proxy must know about its model traffic (`traffic`). The engine, the API and
the app ask the registry (`runtime.agents.registry`) for an agent and never test its name; the proxy gets
the agent's `traffic` as data in each session's config.
"""

from __future__ import annotations

import json
import logging
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from proxy import AgentTraffic
from runtime.agents.transcripts import LineParser, Message, TranscriptLocation, find_transcripts
from runtime.models import AgentStatus, Session

if TYPE_CHECKING:
    from proxy import CredentialStore


@dataclass(frozen=True)
class AgentCommand:
    """The agent process's argv and the environment it adds."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusChange:
    """What one hook event means for the session: its new `agent_status` and the detail to show."""

    agent_status: AgentStatus
    detail: dict[str, Any] | None = None
    permission_mode: str | None = None
    """The permission mode the event reports (Claude Code's payloads carry it), None when it says none."""

    def changes(self) -> dict[str, Any]:
        """The session fields to update."""
        changes: dict[str, Any] = {"agent_status": self.agent_status, "agent_detail": self.detail}
        if self.permission_mode is not None:
            changes["permission_mode"] = self.permission_mode
        return changes


class HookRejected(Exception):
    """A hook request the agent does not understand; `status` is the HTTP answer (400, 404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HookContext(Protocol):
    """What the engine knows about the session a hook came from, for `Agent.hook_status`."""

    def remember_tool(self, detail: dict[str, Any]) -> None:
        """Keep the tool the agent is about to use (a later permission prompt may not name it)."""

    def last_tool(self) -> dict[str, Any] | None:
        """The tool kept by `remember_tool`, if any."""

    def last_assistant_message(self, transcript_path: str, parse_line: LineParser) -> str | None:
        """The last assistant text of a transcript the agent named (confined to its home, time-bound)."""

    def transcripts(self, find: Callable[[Path], list[Path]]) -> list[Path] | None:
        """`find(agent_home)` run time-bound; None when the home is unknown or the listing failed."""


@dataclass(frozen=True)
class PrintOutcome:
    """What a print-mode run's output says: the final message, and whether the run failed."""

    result: str
    failed: bool = False


TurnState = tuple[str, str | None]


class Agent(ABC):
    """One agent CLI. Subclasses set the class attributes and override what their agent has."""

    name: ClassVar[str]
    """The name sessions, settings, the CLI and the API use (`claude`)."""
    label: ClassVar[str]
    """One line for people choosing an agent."""
    npm_packages: ClassVar[tuple[str, ...]] = ()
    """The npm packages that bring the CLI into the agent image (none: the image has it already)."""
    entry_point: ClassVar[str | None] = None
    """The CLI's entry point inside its npm prefix, linked as `/usr/local/bin/<name>` in the image."""
    min_node: ClassVar[int] = 0
    """The oldest Node major version its CLI runs on, checked by `clauderon image build` (0: any, or none)."""
    traffic: ClassVar[AgentTraffic] = AgentTraffic()
    """Model hosts, calls and credentials, handed to the proxy with each session's config."""
    transcript: ClassVar[TranscriptLocation | None] = None
    """Where the agent writes its transcripts in its home; None when it keeps none."""
    hook_events: ClassVar[str | None] = None
    """How its hook requests look (`/hooks/<name>/<Event>`), for error messages; None: it has no hooks."""
    takes_prompt: ClassVar[bool] = True
    """Whether a create's initial prompt reaches the agent (the shell ignores it)."""
    follows_turns: ClassVar[bool] = False
    """Whether the engine follows the transcript for turn starts (`turn_state`) because no hook says so."""
    image_option: ClassVar[str | None] = None
    """The CLI option that attaches an image to the prompt on its command line (Codex's `-i`); None: images given
    at create are typed in with the prompt once the agent reads its input (a pasted path becomes an image)."""
    pastes_images_apart: ClassVar[bool] = False
    """Its composer attaches an image only when a paste is that one path (Codex): chat images are pasted one by one
    before the text."""
    model_option: ClassVar[str | None] = None
    """The CLI option that picks the model (`--model`); None: the agent takes no model (`--model` is refused)."""
    models: ClassVar[tuple[str, ...]] = ()
    """Model names its CLI knows, offered as suggestions; any other plain token is passed on as well."""
    takes_plan_mode: ClassVar[bool] = False
    """Whether it can start in a read-only planning mode (`clauderon create --plan`)."""
    supports_mode_cycle: ClassVar[bool] = False
    """Whether shift+tab in its terminal cycles its permission modes, read back by `mode_on_screen`."""

    @abstractmethod
    def command(self, session: Session, *, resume: bool, agent_home: Path | None = None) -> AgentCommand:
        """The command line for `session` (`resume` on restart/unarchive, to continue a conversation);
        `agent_home` is the host path of its agent home, when known."""

    def credential_problem(self, available: Collection[str], secrets_dir: Path) -> str | None:
        """Why a session of this agent cannot reach its model, as one line naming the credentials it takes (any
        one will do) and how to provide one; None when `available` (the names the host has) holds one, or the
        agent calls no model."""
        from proxy import how_to_provide  # the credential module, only when a check is made

        names = [credential.name for credential in self.traffic.model_credentials]
        if not names or any(name in available for name in names):
            return None
        return f"{self.name} needs {' or '.join(names)}: {how_to_provide(names, secrets_dir)}"

    def new_conversation_id(self) -> str | None:
        """The conversation id clauderon fixes at create, or None when the agent picks its own."""
        return None

    def model_argv(self, session: Session) -> list[str]:
        """The options that pass the session's model to the CLI (none when it has no model)."""
        return [self.model_option, session.model] if session.model and self.model_option else []

    def mode_on_screen(self, screen: str) -> str | None:
        """The permission mode its terminal's status line shows (`screen`: the visible text), or None
        when the screen shows none (a dialog covers it, or the agent has no modes)."""
        return None

    def write_config(self, agent_home: Path, session: Session, *, placeholder_key: str, workspace: str = "/workspace",
                     oauth: bool = False, oauth_file: str | None = None) -> list[Path]:
        """Write the agent's config for `session` into `agent_home` so it starts straight into work; returns
        the paths written. `workspace` is where the worktree is mounted; `placeholder_key` is the fake API
        key the sandbox sees; with `oauth`, `oauth_file` (from `oauth_file`) holds placeholder OAuth tokens."""
        return []

    def oauth_file(self, credentials: CredentialStore) -> str | None:
        """The credentials file the agent reads in the OAuth case (placeholder tokens), or None."""
        return None

    def placeholder_env(self, placeholder: str, *, oauth: bool = False) -> dict[str, str]:
        """The environment variable through which the agent's CLI itself takes its (placeholder) credential."""
        return {}

    def write_setup(self, agent_home: Path, session: Session, *, env: dict[str, str],
                    credentials: CredentialStore, workspace: str = "/workspace") -> list[Path]:
        """`write_config` with the placeholder choice the sandbox's `env` made (`proxy.container_env`): OAuth
        unless the fallback credential's variable (the API key) is set."""
        if not self.traffic.model_credentials:
            return self.write_config(agent_home, session, placeholder_key="", workspace=workspace)
        fallback = self.traffic.model_credentials[-1].env
        oauth = fallback is not None and fallback not in env
        key = next((env[c.env] for c in self.traffic.model_credentials if c.env and c.env in env), "")
        return self.write_config(agent_home, session, placeholder_key=key, workspace=workspace, oauth=oauth,
                                 oauth_file=self.oauth_file(credentials) if oauth else None)

    def install_hooks(self, agent_home: Path, *, home_in_agent: str) -> list[Path]:
        """Install the status hooks into the agent home (`home_in_agent`: where the agent sees it)."""
        return []

    def hook_status(self, event: str, payload: dict[str, Any], context: HookContext) -> StatusChange | None:
        """The status a hook request (`/hooks/<name>/<event>`, JSON `payload`) means, or None for one that
        says nothing about it. Raises `HookRejected` for a request this agent never sends."""
        raise HookRejected(404, f"{self.name} has no hooks")

    def parse_transcript_line(self, entry: dict[str, Any]) -> list[Message]:
        """The messages in one transcript line (JSON object)."""
        raise ValueError(f"{self.name} keeps no transcript")

    def find_transcripts(self, agent_home: Path, conversation_id: str | None = None) -> list[Path]:
        """The agent's transcripts in its home (for one conversation, when given), newest last."""
        if self.transcript is None:
            return []
        return find_transcripts(agent_home, self.transcript, conversation_id)

    def print_command(self, session: Session) -> AgentCommand | None:
        """The headless run of `session.initial_prompt` to its end, permissions bypassed (`create --print`);
        the prompt is one argv element. None: this agent has no print mode."""
        return None

    def print_outcome(self, stdout: str, stderr: str) -> PrintOutcome | None:
        """The final message in what `print_command` printed (stdout and stderr apart); None when it holds none."""
        return None

    def turn_state(self, entries: list[dict[str, Any]]) -> TurnState | None:
        """From transcript lines (newest last): ("working", None) inside a turn, ("waiting-input", last
        reply) after one, None when they say neither. Used when `follows_turns`."""
        return None


MAX_DETAIL_CHARS = 4000
"""What a status line or a permission dialog can use; the rest stays in the transcript."""
HOOKS_URL = "https://clauderon.internal/hooks"
"""Hook scripts POST here through the session's proxy (`/hooks/<agent>/<event>`)."""


def hook_post(url: str) -> str:
    """A shell line POSTing stdin to `url` with the time it ran, silent, at most 2 s, never failing."""
    return ('curl --silent --output /dev/null --max-time 2 -X POST -H "Content-Type: application/json" '
            f'--data-binary @- "{url}?t=$(date +%s%N)" >/dev/null 2>&1 || true')


def trusted_dirs(workspace: str, subdir: str = "") -> list[str]:
    """The directories to mark trusted: the workspace, and the subdirectory the agent starts in."""
    dirs = [str(PurePosixPath(workspace))]
    if subdir:
        dirs.append(str(PurePosixPath(workspace) / subdir))
    return dirs


def clip(text: Any) -> str:
    """`text` as a string of at most `MAX_DETAIL_CHARS` (and an ellipsis)."""
    string = "" if text is None else str(text)
    return string if len(string) <= MAX_DETAIL_CHARS else string[:MAX_DETAIL_CHARS] + "…"


def table(value: Any) -> dict[str, Any]:
    """`value` when it is an object (a dict), else a new empty one: what a CLI or user wrote may hold anything."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """`value` when it is a list, else a new empty one."""
    return value if isinstance(value, list) else []


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among the lines of `text` (a CLI's stdout), in order; other lines are skipped."""
    objects = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            objects.append(value)
    return objects


def last_json_object(text: str) -> dict[str, Any] | None:
    """The last JSON object in `text` that starts a line (it may span lines, as pretty-printed JSON does)."""
    decoder = json.JSONDecoder()
    start = len(text)
    while (start := text.rfind("{", 0, start)) >= 0:
        if start == 0 or text[start - 1] == "\n":
            try:
                value, _ = decoder.raw_decode(text, start)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def read_toml(path: Path, log: logging.Logger) -> dict[str, Any]:
    """A TOML table from `path`, or {} when missing or unreadable (never through a symlink)."""
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        log.warning("replacing unreadable %s: %s", path, exc)
        return {}
    return data


def read_json_object(path: Path, log: logging.Logger) -> dict[str, Any]:
    """A JSON object from `path`, or {} when missing, unreadable or not an object (never through a symlink)."""
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        log.warning("replacing unreadable %s: %s", path, exc)
        return {}
    return table(data)


__all__ = ["HOOKS_URL", "MAX_DETAIL_CHARS", "clip", "hook_post", "items", "json_lines", "last_json_object",
           "read_json_object", "read_toml", "table", "trusted_dirs",
           "Agent", "AgentCommand", "HookContext", "HookRejected", "LineParser", "PrintOutcome", "StatusChange",
           "TurnState"]
