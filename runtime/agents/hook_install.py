"""Install clauderon's status hooks into a session's agent home (never into the repository).

Claude Code: `~/.claude/settings.json` gets a `hooks` entry per event that runs `~/.clauderon/hook.sh
<Event>`; the script POSTs the hook's stdin JSON to `https://clauderon.internal/hooks/claude/<Event>`
through the session's proxy (the container's HTTPS_PROXY carries the session's credentials and
CURL_CA_BUNDLE the proxy's CA), where `runtime.engine.hooks.HooksHandler` turns it into `agent_status`.
The repository's own `.claude/settings.json` is left alone: it is the user's, and it would be committed.

Codex: `~/.codex/config.toml` gets `notify = ["bash", "<home>/.clauderon/codex-notify.sh"]`; Codex runs
it with one JSON argument when a turn completes.

Both scripts must never slow down or break the agent: they print nothing (a hook's stdout can become
model context), give up after 2 seconds, and always exit 0.
"""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from runtime.agents.home import write_agent_file
from runtime.agents import CONTAINER_HOME

log = logging.getLogger(__name__)

HOOK_SCRIPT = ".clauderon/hook.sh"
CODEX_NOTIFY_SCRIPT = ".clauderon/codex-notify.sh"
HOOKS_URL = "https://clauderon.internal/hooks"
# The events whose hooks say something about the agent's status (see runtime.engine.hooks).
CLAUDE_HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
                      "PermissionRequest", "Notification", "Stop", "StopFailure", "SessionEnd")
HOOK_TIMEOUT_S = 5  # Claude Code's own limit on the hook; the script stops itself after 2 s
# How clauderon's entries are told apart from the user's when merging settings.
_MARKER = "/.clauderon/hook.sh"

_CURL = ('curl --silent --output /dev/null --max-time 2 -X POST -H "Content-Type: application/json" '
         '--data-binary @- "{url}?t=$(date +%s%N)" >/dev/null 2>&1 || true')

CLAUDE_HOOK_SH = f"""#!/bin/bash
# Written by clauderon: sends this Claude Code hook's input (stdin) to the clauderon engine through the
# session's proxy, which sets the session's agent status. Prints nothing, waits at most 2 s, always
# exits 0, so it can never block or change what the agent does.
event="${{1:-}}"
case "$event" in ""|*[!A-Za-z0-9_-]*) cat >/dev/null; exit 0;; esac
{_CURL.format(url=HOOKS_URL + "/claude/${event}")}
exit 0
"""

CODEX_NOTIFY_SH = f"""#!/bin/bash
# Written by clauderon: Codex runs this with one JSON argument when a turn completes; it is passed on
# to the clauderon engine through the session's proxy. Prints nothing, waits at most 2 s, exits 0.
[ -n "${{1:-}}" ] || exit 0
printf '%s' "$1" | {_CURL.format(url=HOOKS_URL + "/codex/notify")}
exit 0
"""


def install_agent_hooks(agent_home: Path, agent: str, *, home_in_agent: str = CONTAINER_HOME) -> list[Path]:
    """Write the hook scripts and the agent's hook configuration; returns the paths written.

    `home_in_agent` is where the agent sees its home (`/home/agent` in a sandbox, the host agent home
    for a local session). Safe to call on every start: clauderon's entries are replaced, the user's kept.
    """
    if agent == "claude":
        return [write_agent_file(agent_home, HOOK_SCRIPT, CLAUDE_HOOK_SH, mode=0o700),
                write_claude_hooks(agent_home)]
    if agent == "codex":
        return [write_agent_file(agent_home, CODEX_NOTIFY_SCRIPT, CODEX_NOTIFY_SH, mode=0o700),
                write_codex_notify(agent_home, f"{home_in_agent}/{CODEX_NOTIFY_SCRIPT}")]
    return []


def claude_hooks_config(existing: dict[str, Any]) -> dict[str, Any]:
    """`existing` settings with clauderon's hook on every status event (the user's hooks kept)."""
    settings = dict(existing)
    hooks = settings.get("hooks") if isinstance(settings.get("hooks"), dict) else {}
    hooks = dict(hooks)
    for event in CLAUDE_HOOK_EVENTS:
        groups = hooks.get(event) if isinstance(hooks.get(event), list) else []
        kept = [group for group in groups if not _is_ours(group)]
        # $HOME, not /home/agent: the same settings serve a local session, whose HOME is the host path.
        command = f'bash "$HOME/{HOOK_SCRIPT}" {event}'
        ours = {"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}]}
        if event in ("PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"):
            ours = {"matcher": "*", **ours}
        hooks[event] = [*kept, ours]
    settings["hooks"] = hooks
    return settings


def write_claude_hooks(agent_home: Path) -> Path:
    """Merge clauderon's hooks into the agent home's `~/.claude/settings.json`."""
    path = agent_home / ".claude" / "settings.json"
    existing: dict[str, Any] = {}
    if path.is_file() and not path.is_symlink():
        try:
            loaded = json.loads(path.read_text())
            existing = loaded if isinstance(loaded, dict) else {}
        except (ValueError, OSError) as exc:
            log.warning("replacing unreadable %s: %s", path, exc)
    return write_agent_file(agent_home, ".claude/settings.json", json.dumps(claude_hooks_config(existing), indent=2) + "\n")


def write_codex_notify(agent_home: Path, script: str) -> Path:
    """Set `notify` in the agent home's `~/.codex/config.toml` (Codex has exactly one notify program)."""
    path = agent_home / ".codex" / "config.toml"
    config: dict[str, Any] = {}
    if path.is_file() and not path.is_symlink():
        try:
            config = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            log.warning("replacing unreadable %s: %s", path, exc)
    previous = config.get("notify")
    if previous and previous != ["bash", script]:
        log.info("replacing Codex notify %r with clauderon's status hook", previous)
    config["notify"] = ["bash", script]
    header = "# Written by clauderon for this session; merged again when the session starts.\n"
    return write_agent_file(agent_home, ".codex/config.toml", header + tomli_w.dumps(config))


def _is_ours(group: Any) -> bool:
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        return False
    return any(isinstance(h, dict) and _MARKER in str(h.get("command", "")) for h in group["hooks"])


__all__ = ["install_agent_hooks", "claude_hooks_config", "write_claude_hooks", "write_codex_notify",
           "CLAUDE_HOOK_EVENTS", "CLAUDE_HOOK_SH", "CODEX_NOTIFY_SH", "HOOK_SCRIPT", "CODEX_NOTIFY_SCRIPT"]
