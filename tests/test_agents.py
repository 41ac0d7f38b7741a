"""The agents' command lines and environments, and the config files written into an agent home."""

from __future__ import annotations

import json
import stat
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest

from runtime.agents.base import AgentCommand
from runtime.agents.home import CONTAINER_HOME
from runtime.agents.registry import agent_named
from runtime.errors import ClauderonError
from runtime.models import Session

KEY = "sk-ant-api03-placeholder-for-tests-0123456789ABCDEFGHIJ"
SID = "3f1c2a9e-8b7d-4c6e-9a5f-0e1d2c3b4a59"


def make_session(agent: str, **changes) -> Session:
    fields = dict(name="s", repo_path="/r", base_branch="main", branch="b", worktree_path="/w", agent=agent,
                  backend="docker")
    return Session(**{**fields, **changes})


def agent_command(session: Session, **options: Any) -> AgentCommand:
    """The session's agent's command, looked up in the registry as the engine does."""
    return agent_named(session.agent).command(session, **options)


def write_agent_config(agent_home: Path, session: Session, **options: Any) -> list[Path]:
    """The session's agent's config files, looked up in the registry as the engine does."""
    return agent_named(session.agent).write_config(agent_home, session, **options)


def write_transcript(agent_home: Path, session_id: str) -> None:
    folder = agent_home / ".claude" / "projects" / "-workspace"
    folder.mkdir(parents=True)
    (folder / f"{session_id}.jsonl").write_text("{}\n")


# -- command lines --------------------------------------------------------------------------------------


def test_shell_runs_a_login_shell() -> None:
    assert agent_command(make_session("shell"), resume=False).argv == ["bash", "-l"]
    assert agent_command(make_session("shell"), resume=True).argv == ["bash", "-l"]


def test_claude_new_session_passes_flags_id_and_prompt() -> None:
    session = make_session("claude", skip_permissions=True, agent_session_id=SID, initial_prompt="-fix the bug")
    command = agent_command(session, resume=False)
    assert command.argv == ["claude", "--dangerously-skip-permissions", "--session-id", SID, "--", "-fix the bug"]
    assert command.env["IS_SANDBOX"] == "1"
    assert command.env["DISABLE_AUTOUPDATER"] == "1"
    assert command.env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"


def test_claude_without_skip_or_prompt() -> None:
    command = agent_command(make_session("claude", agent_session_id=SID), resume=False)
    assert command.argv == ["claude", "--session-id", SID]


def test_claude_resume_continues_the_conversation_without_the_prompt(tmp_path: Path) -> None:
    session = make_session("claude", skip_permissions=True, agent_session_id=SID, initial_prompt="do it")
    write_transcript(tmp_path, SID)
    assert agent_command(session, resume=True, agent_home=tmp_path).argv == [
        "claude", "--dangerously-skip-permissions", "--resume", SID]
    # Without an agent home to look in, the transcript is assumed to exist.
    assert agent_command(session, resume=True).argv[-2:] == ["--resume", SID]


def test_claude_resume_without_transcript_starts_the_same_id_afresh(tmp_path: Path) -> None:
    session = make_session("claude", agent_session_id=SID, initial_prompt="do it")
    write_transcript(tmp_path, str(uuid.uuid4()))  # some other conversation does not count
    assert agent_command(session, resume=True, agent_home=tmp_path).argv == ["claude", "--session-id", SID]


def test_claude_resume_without_an_id_continues_the_latest(tmp_path: Path) -> None:
    session = make_session("claude")
    assert agent_command(session, resume=True, agent_home=tmp_path).argv == ["claude"]
    write_transcript(tmp_path, SID)
    assert agent_command(session, resume=True, agent_home=tmp_path).argv == ["claude", "--continue"]


def test_codex_new_and_resume() -> None:
    session = make_session("codex", skip_permissions=True, initial_prompt="write tests")
    new = agent_command(session, resume=False)
    assert new.argv == ["codex", "--no-daemon", "--dangerously-bypass-approvals-and-sandbox", "--", "write tests"]
    assert new.env == {"CODEX_HOME": f"{CONTAINER_HOME}/.codex"}
    resumed = agent_command(session, resume=True)
    assert resumed.argv == ["codex", "--no-daemon", "--dangerously-bypass-approvals-and-sandbox", "resume", "--last"]


def test_codex_without_skip_runs_unsandboxed_with_approvals() -> None:
    command = agent_command(make_session("codex"), resume=False)
    assert command.argv == ["codex", "--no-daemon", "--sandbox", "danger-full-access",
                            "--ask-for-approval", "on-request"]


def test_codex_local_session_keeps_codex_home_under_its_home() -> None:
    assert "CODEX_HOME" not in agent_command(make_session("codex", backend="local"), resume=False).env


def test_unknown_agent_is_refused() -> None:
    with pytest.raises(ClauderonError, match="unknown agent"):
        agent_command(make_session("aider"), resume=False)


def test_new_agent_session_id() -> None:
    first, second = agent_named("claude").new_conversation_id(), agent_named("claude").new_conversation_id()
    assert uuid.UUID(first).version == 4 and first != second
    assert agent_named("codex").new_conversation_id() is None
    assert agent_named("shell").new_conversation_id() is None


# -- Claude Code files ----------------------------------------------------------------------------------


def test_claude_files_skip_every_first_run_dialog(tmp_path: Path) -> None:
    session = make_session("claude", subdir="pkg/app", skip_permissions=True)
    written = write_agent_config(tmp_path, session, placeholder_key=KEY)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [".claude.json", ".claude/settings.json"]
    state = json.loads((tmp_path / ".claude.json").read_text())
    assert state["hasCompletedOnboarding"] is True
    for folder in ("/workspace", "/workspace/pkg/app"):
        assert state["projects"][folder]["hasTrustDialogAccepted"] is True
    assert state["customApiKeyResponses"]["approved"] == [KEY[-20:]]
    settings = json.loads((tmp_path / ".claude" / "settings.json").read_text())
    assert settings["skipDangerousModePermissionPrompt"] is True
    assert settings["env"]["DISABLE_AUTOUPDATER"] == "1"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in written)


def test_claude_settings_leave_the_bypass_disclaimer_for_sessions_without_the_flag(tmp_path: Path) -> None:
    write_agent_config(tmp_path, make_session("claude"), placeholder_key=KEY)
    assert "skipDangerousModePermissionPrompt" not in json.loads((tmp_path / ".claude" / "settings.json").read_text())


def test_claude_state_is_merged_not_replaced(tmp_path: Path) -> None:
    (tmp_path / ".claude.json").write_text(json.dumps({
        "numStartups": 7, "customApiKeyResponses": {"approved": ["older-key-suffix-0001"], "rejected": ["x"]},
        "projects": {"/workspace": {"lastSessionId": "abc", "hasTrustDialogAccepted": False}},
    }))
    session = make_session("claude")
    write_agent_config(tmp_path, session, placeholder_key=KEY)
    write_agent_config(tmp_path, session, placeholder_key=KEY)  # every start: no duplicates
    state = json.loads((tmp_path / ".claude.json").read_text())
    assert state["numStartups"] == 7
    assert state["customApiKeyResponses"] == {"approved": ["older-key-suffix-0001", KEY[-20:]], "rejected": ["x"]}
    assert state["projects"]["/workspace"]["lastSessionId"] == "abc"
    assert state["projects"]["/workspace"]["hasTrustDialogAccepted"] is True


def test_claude_oauth_approves_no_api_key(tmp_path: Path) -> None:
    write_agent_config(tmp_path, make_session("claude"), placeholder_key=KEY, oauth=True)
    assert "customApiKeyResponses" not in json.loads((tmp_path / ".claude.json").read_text())


def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"secret": true}')
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").symlink_to(outside)
    write_agent_config(home, make_session("claude"), placeholder_key=KEY)
    assert outside.read_text() == '{"secret": true}'
    assert not (home / ".claude.json").is_symlink()
    assert "secret" not in json.loads((home / ".claude.json").read_text())


# -- Codex files ----------------------------------------------------------------------------------------


def test_codex_config_trusts_the_workspace_and_stays_quiet(tmp_path: Path) -> None:
    session = make_session("codex", subdir="svc")
    written = write_agent_config(tmp_path, session, placeholder_key="sk-proj-placeholder")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [".codex/auth.json", ".codex/config.toml"]
    config = tomllib.loads((tmp_path / ".codex" / "config.toml").read_text())
    assert config["projects"]["/workspace"]["trust_level"] == "trusted"
    assert config["projects"]["/workspace/svc"]["trust_level"] == "trusted"
    assert config["check_for_update_on_startup"] is False
    assert config["approval_policy"] == "on-request" and config["sandbox_mode"] == "danger-full-access"
    assert config["analytics"] == {"enabled": False} and config["feedback"] == {"enabled": False}
    assert config["cli_auth_credentials_store"] == "file"
    assert config["features"] == {"plugins": False, "api_key_model_discovery": False}
    auth = json.loads((tmp_path / ".codex" / "auth.json").read_text())
    assert auth == {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-proj-placeholder"}


def test_codex_skip_permissions_never_asks(tmp_path: Path) -> None:
    write_agent_config(tmp_path, make_session("codex", skip_permissions=True), placeholder_key="k", workspace="/src")
    config = tomllib.loads((tmp_path / ".codex" / "config.toml").read_text())
    assert config["approval_policy"] == "never"
    assert list(config["projects"]) == ["/src"]


def test_codex_config_keeps_the_users_settings(tmp_path: Path) -> None:
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text(
        'model = "gpt-5"\n[notice]\nhide_rate_limit_model_nudge = true\n'
        '[projects."/other"]\ntrust_level = "untrusted"\n')
    write_agent_config(tmp_path, make_session("codex"), placeholder_key="k")
    config = tomllib.loads((tmp_path / ".codex" / "config.toml").read_text())
    assert config["model"] == "gpt-5"
    assert config["notice"] == {"hide_rate_limit_model_nudge": True, "hide_full_access_warning": True}
    assert config["projects"]["/other"] == {"trust_level": "untrusted"}


def test_codex_oauth_writes_the_given_auth_file_only(tmp_path: Path) -> None:
    dummy = json.dumps({"auth_mode": "chatgpt", "tokens": {"refresh_token": "placeholder"}})
    written = write_agent_config(tmp_path, make_session("codex"), placeholder_key="k", oauth=True, oauth_file=dummy)
    assert (tmp_path / ".codex" / "auth.json").read_text() == dummy
    assert len(written) == 2
    other = tmp_path / "other"
    other.mkdir()
    assert len(write_agent_config(other, make_session("codex"), placeholder_key="k", oauth=True)) == 1
    assert not (other / ".codex" / "auth.json").exists()
    third = tmp_path / "third"
    third.mkdir()
    with pytest.raises(ValueError):
        write_agent_config(third, make_session("codex"), placeholder_key="k", oauth=True, oauth_file="{nope")
    assert list(third.iterdir()) == []


def test_shell_needs_no_files(tmp_path: Path) -> None:
    assert write_agent_config(tmp_path, make_session("shell"), placeholder_key="k") == []
    assert list(tmp_path.iterdir()) == []


def test_placeholder_credential_env() -> None:
    assert agent_named("claude").placeholder_env("sk-ant-placeholder") == {"ANTHROPIC_API_KEY": "sk-ant-placeholder"}
    assert agent_named("claude").placeholder_env("tok", oauth=True) == {"CLAUDE_CODE_OAUTH_TOKEN": "tok"}
    assert agent_named("codex").placeholder_env("sk-placeholder") == {}
    assert agent_named("gemini").placeholder_env("g-placeholder") == {"GEMINI_API_KEY": "g-placeholder"}
    assert agent_named("shell").placeholder_env("x") == {}


# -- Gemini CLI -----------------------------------------------------------------------------------------


def write_gemini_transcript(agent_home: Path, session_id: str) -> None:
    folder = agent_home / ".gemini" / "tmp" / "workspace" / "chats"
    folder.mkdir(parents=True)
    (folder / f"session-2026-12-04T10-45-{session_id[:8]}.jsonl").write_text("{}\n")


def test_gemini_new_session_passes_yolo_id_and_prompt() -> None:
    session = make_session("gemini", skip_permissions=True, agent_session_id=SID, initial_prompt="-fix the bug")
    command = agent_command(session, resume=False)
    # `=`: a prompt starting with "-" stays the option's value.
    assert command.argv == ["gemini", "--yolo", "--session-id", SID, "--prompt-interactive=-fix the bug"]
    assert command.env == {"GEMINI_CLI_NO_RELAUNCH": "true"}
    assert agent_command(make_session("gemini", agent_session_id=SID), resume=False).argv == [
        "gemini", "--session-id", SID]


def test_gemini_resume_continues_its_conversation_when_written(tmp_path: Path) -> None:
    session = make_session("gemini", skip_permissions=True, agent_session_id=SID, initial_prompt="do it")
    assert agent_command(session, resume=True, agent_home=tmp_path).argv == ["gemini", "--yolo", "--session-id", SID]
    write_gemini_transcript(tmp_path, str(uuid.uuid4()))  # another conversation does not count
    assert agent_command(session, resume=True, agent_home=tmp_path).argv[-2:] == ["--session-id", SID]
    write_gemini_transcript(tmp_path / "other", SID)  # nor one outside the agent home's .gemini
    assert agent_command(session, resume=True, agent_home=tmp_path).argv[-2:] == ["--session-id", SID]
    (tmp_path / ".gemini" / "tmp" / "workspace" / "chats" / f"session-2026-12-04T11-00-{SID[:8]}.jsonl").write_text("")
    assert agent_command(session, resume=True, agent_home=tmp_path).argv == ["gemini", "--yolo", "--resume", SID]
    assert agent_command(session, resume=True).argv[-2:] == ["--resume", SID]
    assert agent_command(make_session("gemini"), resume=True).argv == ["gemini", "--resume", "latest"]
    assert agent_named("gemini").find_transcripts(tmp_path, SID)[0].name.endswith(f"-{SID[:8]}.jsonl")


def test_a_gemini_conversation_is_its_first_file_not_the_one_a_resume_opens(tmp_path: Path) -> None:
    """`--resume` in a later minute leaves a second file (metadata only) beside the one it goes on in."""
    chats = tmp_path / ".gemini" / "tmp" / "workspace" / "chats"
    chats.mkdir(parents=True)
    original = chats / f"session-2026-12-04T10-45-{SID[:8]}.jsonl"
    original.write_text("{}\n")
    (chats / f"session-2026-12-04T11-02-{SID[:8]}.jsonl").write_text("{}\n")  # written last: the newest
    other = chats / "session-2026-12-04T11-03-0123abcd.jsonl"
    other.write_text("{}\n")
    gemini = agent_named("gemini")
    assert gemini.find_transcripts(tmp_path, SID) == [original]
    assert gemini.find_transcripts(tmp_path) == [original, other]


def test_gemini_settings_skip_every_first_run_question_and_keep_the_users(tmp_path: Path) -> None:
    (tmp_path / ".gemini").mkdir()
    (tmp_path / ".gemini" / "settings.json").write_text(json.dumps({
        "theme": "Dracula", "general": {"vimMode": True, "sessionRetention": {"maxAge": "7d"}},
        "hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}}))
    gemini = agent_named("gemini")
    written = write_agent_config(tmp_path, make_session("gemini"), placeholder_key="placeholder")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [".gemini/settings.json"]
    settings = json.loads(written[0].read_text())
    assert settings["security"] == {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}}
    assert settings["general"] == {"vimMode": True, "enableAutoUpdate": False, "enableAutoUpdateNotification": False,
                                   "sessionRetention": {"maxAge": "7d", "enabled": False}}
    assert settings["privacy"] == {"usageStatisticsEnabled": False}
    assert settings["ide"] == {"enabled": False, "hasSeenNudge": True} and settings["theme"] == "Dracula"
    assert "placeholder" not in written[0].read_text()  # the key comes from GEMINI_API_KEY
    assert stat.S_IMODE(written[0].stat().st_mode) == 0o600
    hooked = gemini.install_hooks(tmp_path, home_in_agent=CONTAINER_HOME)
    gemini.install_hooks(tmp_path, home_in_agent=CONTAINER_HOME)  # every start: no duplicates
    assert stat.S_IMODE(hooked[0].stat().st_mode) == 0o700 and "/hooks/gemini/" in hooked[0].read_text()
    hooks = json.loads((tmp_path / ".gemini" / "settings.json").read_text())["hooks"]
    assert hooks["AfterAgent"][0]["hooks"][0]["command"] == "notify-send done"  # the user's hook kept
    for event in ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent", "SessionEnd"):
        ours = [g for g in hooks[event] if "gemini-hook.sh" in g["hooks"][0]["command"]]
        assert len(ours) == 1 and ours[0]["hooks"][0]["command"] == f'bash "$HOME/.clauderon/gemini-hook.sh" {event}'
    settings = json.loads((tmp_path / ".gemini" / "settings.json").read_text())
    assert settings["security"]["folderTrust"]["enabled"] is False


def test_gemini_hook_events_set_the_status() -> None:
    from tests.test_agent_registry import NoHookContext

    samples = Path(__file__).parent / "samples" / "gemini_hooks"
    gemini, context = agent_named("gemini"), NoHookContext()

    def status(event: str, **extra: Any) -> tuple[str, Any] | None:
        payload = {**json.loads((samples / f"{event}.json").read_text()), **extra} \
            if (samples / f"{event}.json").exists() else {"hook_event_name": event, **extra}
        change = gemini.hook_status(event, payload, context)
        return None if change is None else (change.agent_status, change.detail)

    assert status("SessionStart") == ("idle", None)
    assert status("BeforeAgent") == ("working", None)
    assert status("BeforeTool") == ("working", {"tool": "run_shell_command"})
    assert context.tools[-1]["input"]["command"] == "echo TOOL-OUT-42"
    assert status("AfterTool") == ("working", None)
    # The question is the reply as the transcript has it (here: no transcript), else the hook's prompt_response.
    assert status("AfterAgent", prompt_response="which file?") == ("waiting-input", {"question": "which file?"})
    # Seen from the real CLI without --yolo: BeforeTool, then this Notification while the dialog shows.
    assert status("Notification") == (
        "needs-permission", {"tool": "run_shell_command", "input": context.tools[-1]["input"],
                             "message": "Tool Confirm Shell Command requires execution"})
    assert status("Notification", notification_type="Other") is None
    assert status("SessionEnd") == ("exited", {"reason": "exit"})
    assert status("BeforeModel") is None  # an event that says nothing about the status
    with pytest.raises(Exception, match="no Stop hook"):
        gemini.hook_status("Stop", {}, context)
    with pytest.raises(Exception, match="path names AfterAgent"):
        gemini.hook_status("AfterAgent", {"hook_event_name": "BeforeAgent"}, context)


def test_gemini_transcript_lines() -> None:
    from runtime.agents.transcripts import parse_file

    page = parse_file(Path(__file__).parent / "samples" / "gemini_transcript.jsonl",
                      agent_named("gemini").parse_transcript_line)
    kinds = [(m.kind, m.text or m.tool) for m in page.messages]
    assert kinds == [("user", "-list files PROMPT-1"), ("tool_call", "run_shell_command"),
                     ("assistant", "FAKE-GEMINI-DONE-1"), ("user", "and now PROMPT-2"),
                     ("assistant", "FAKE-RESUMED-2")]
    call = page.messages[1]
    assert call.input["command"] == "echo TOOL-OUT-42" and "TOOL-OUT-42" in (call.result or "")
    assert page.malformed == 0
