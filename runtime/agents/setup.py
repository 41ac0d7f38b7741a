"""Agent configuration written into a session's agent home so the real CLIs start straight into work.

Without these files Claude Code shows onboarding, a folder-trust question, "use this API key?" and
(with --dangerously-skip-permissions) a bypass-permissions disclaimer; Codex shows a sign-in screen
and a folder-trust question. Each key below was checked on Claude Code 2.1.197 and Codex 0.171.0.

Only placeholder credentials ever pass through here: the proxy swaps them for real ones on the way out.
The CLIs write their own state into the same files (`.claude.json` especially), so existing content is
merged, not replaced, and the functions are safe to call on every start.
"""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import tomli_w

from runtime.agents.home import write_agent_file
from runtime.agents import CLAUDE_ENV
from runtime.models import Session

log = logging.getLogger(__name__)

# Claude Code remembers an approved custom API key by its last 20 characters.
API_KEY_SUFFIX_LENGTH = 20


def write_agent_config(agent_home: Path, session: Session, *, placeholder_key: str, workspace: str = "/workspace",
                       oauth: bool = False, codex_auth_json: str | None = None) -> list[Path]:
    """Write the agent's config files for `session` into `agent_home`; returns the paths written.

    `workspace` is where the worktree is mounted (the session's `subdir` is trusted too, as the agent
    starts there). `placeholder_key` is the fake API key the container sees; with `oauth`, Codex gets
    `codex_auth_json` (dummy OAuth tokens) as its `auth.json` when given. The shell agent needs nothing.
    """
    trusted = trusted_dirs(workspace, session.subdir)
    if session.agent == "codex" and oauth and codex_auth_json is not None:
        json.loads(codex_auth_json)  # fail here, before writing anything, not inside the container
    if session.agent == "claude":
        return [
            write_claude_state(agent_home, trusted, placeholder_key=None if oauth else placeholder_key),
            write_claude_settings(agent_home, skip_permissions=session.skip_permissions),
        ]
    if session.agent == "codex":
        written = [write_codex_config(agent_home, trusted, skip_permissions=session.skip_permissions)]
        if oauth:
            if codex_auth_json is not None:
                written.append(write_agent_file(agent_home, ".codex/auth.json", codex_auth_json))
        else:
            written.append(write_agent_file(agent_home, ".codex/auth.json", codex_api_key_auth(placeholder_key)))
        return written
    return []


def placeholder_credential_env(agent: str, placeholder: str, *, oauth: bool = False) -> dict[str, str]:
    """The environment variable through which `agent` takes its (placeholder) credential.

    Claude Code sends `ANTHROPIC_API_KEY` as `x-api-key`, and `CLAUDE_CODE_OAUTH_TOKEN` as
    `Authorization: Bearer` with the `oauth-2025-04-20` beta. Codex's TUI ignores OPENAI_API_KEY and
    reads `~/.codex/auth.json` instead (see `write_agent_config`), so it needs none.
    """
    if agent == "claude":
        return {"CLAUDE_CODE_OAUTH_TOKEN" if oauth else "ANTHROPIC_API_KEY": placeholder}
    return {}


def trusted_dirs(workspace: str, subdir: str = "") -> list[str]:
    """The directories to mark trusted: the workspace, and the subdirectory the agent starts in."""
    dirs = [str(PurePosixPath(workspace))]
    if subdir:
        dirs.append(str(PurePosixPath(workspace) / subdir))
    return dirs


# -- Claude Code ------------------------------------------------------------------------------------


def write_claude_state(agent_home: Path, trusted: list[str], *, placeholder_key: str | None) -> Path:
    """Merge the first-run answers into `~/.claude.json`: onboarding done, folders trusted, key approved."""
    state = _read_json(agent_home / ".claude.json")
    state["hasCompletedOnboarding"] = True
    projects = state.get("projects") if isinstance(state.get("projects"), dict) else {}
    for directory in trusted:
        entry = projects.get(directory) if isinstance(projects.get(directory), dict) else {}
        entry["hasTrustDialogAccepted"] = True
        # Otherwise the first start in a project shows its "tips for this project" onboarding.
        entry.setdefault("hasCompletedProjectOnboarding", True)
        projects[directory] = entry
    state["projects"] = projects
    if placeholder_key:
        responses = state.get("customApiKeyResponses")
        if not isinstance(responses, dict):
            responses = {}
        approved = [k for k in responses.get("approved", []) if isinstance(k, str)]
        suffix = placeholder_key[-API_KEY_SUFFIX_LENGTH:]
        if suffix not in approved:
            approved.append(suffix)
        responses["approved"] = approved
        responses.setdefault("rejected", [])
        state["customApiKeyResponses"] = responses
    return write_agent_file(agent_home, ".claude.json", json.dumps(state, indent=2) + "\n")


def write_claude_settings(agent_home: Path, *, skip_permissions: bool) -> Path:
    """Merge `~/.claude/settings.json`: no auto-update or telemetry, and the bypass disclaimer accepted.

    The disclaimer is shown on every start with --dangerously-skip-permissions until
    `skipDangerousModePermissionPrompt` is set, so it is set exactly for sessions that use the flag.
    """
    settings = _read_json(agent_home / ".claude" / "settings.json")
    env = settings.get("env") if isinstance(settings.get("env"), dict) else {}
    # The same variables are in the process environment; here they also hold for anything Claude
    # Code starts with a clean environment (hooks, a `claude` typed in its own shell).
    env.update({k: v for k, v in CLAUDE_ENV.items() if k != "IS_SANDBOX"})
    settings["env"] = env
    if skip_permissions:
        settings["skipDangerousModePermissionPrompt"] = True
    return write_agent_file(agent_home, ".claude/settings.json", json.dumps(settings, indent=2) + "\n")


# -- Codex ------------------------------------------------------------------------------------------


def codex_config(existing: dict[str, Any], trusted: list[str], *, skip_permissions: bool) -> dict[str, Any]:
    """`existing` Codex config with clauderon's settings laid over it."""
    config = dict(existing)
    config["check_for_update_on_startup"] = False
    # Keep the (placeholder) credentials in auth.json where clauderon wrote them; a container has
    # no keyring anyway.
    config["cli_auth_credentials_store"] = "file"
    config["approval_policy"] = "never" if skip_permissions else "on-request"
    # The container is the sandbox; Codex's bubblewrap sandbox cannot nest inside it.
    config["sandbox_mode"] = "danger-full-access"
    # Features whose start-up fetches leave the API host: the plugin catalogue (github.com,
    # chatgpt.com) and model discovery (chatgpt.com, even with an API key).
    features = {"plugins": False, "api_key_model_discovery": False}
    for table, values in (("analytics", {"enabled": False}), ("feedback", {"enabled": False}),
                          ("notice", {"hide_full_access_warning": True}), ("features", features)):
        merged = config.get(table) if isinstance(config.get(table), dict) else {}
        config[table] = {**merged, **values}
    projects = config.get("projects") if isinstance(config.get("projects"), dict) else {}
    for directory in trusted:
        entry = projects.get(directory) if isinstance(projects.get(directory), dict) else {}
        projects[directory] = {**entry, "trust_level": "trusted"}
    config["projects"] = projects
    return config


def write_codex_config(agent_home: Path, trusted: list[str], *, skip_permissions: bool) -> Path:
    """Merge `~/.codex/config.toml` (this also creates `~/.codex`, which Codex requires to exist)."""
    path = agent_home / ".codex" / "config.toml"
    existing: dict[str, Any] = {}
    if path.is_file() and not path.is_symlink():
        try:
            existing = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            log.warning("replacing unreadable %s: %s", path, exc)
    config = codex_config(existing, trusted, skip_permissions=skip_permissions)
    header = "# Written by clauderon for this session; merged again when the session starts.\n"
    return write_agent_file(agent_home, ".codex/config.toml", header + tomli_w.dumps(config))


def codex_api_key_auth(placeholder_key: str) -> str:
    """The `auth.json` that `codex login --with-api-key` writes (Codex ignores OPENAI_API_KEY in its TUI)."""
    return json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": placeholder_key}, indent=2) + "\n"


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or {} when missing, unreadable or not an object (never through a symlink)."""
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        log.warning("replacing unreadable %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


__all__ = ["write_agent_config", "placeholder_credential_env", "trusted_dirs", "write_claude_state", "write_claude_settings", "codex_config",
           "write_codex_config", "codex_api_key_auth", "API_KEY_SUFFIX_LENGTH"]
