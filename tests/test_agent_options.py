"""Model selection and plan mode: each agent's argv, the request and settings rules, the engine's create
(through its API, local backend), and reading Claude Code's permission mode from hooks and from its screen."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.agents.base import HookContext
from runtime.agents.registry import agent_named, all_agents
from runtime.api.client import EngineClient
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.models import Session
from runtime.requests import CreateRequest, check_agent_options
from runtime.settings import load_settings
from tests.conftest import run_git

SAMPLES = Path(__file__).parent / "samples" / "claude_hooks"


def _session(agent: str, **fields: object) -> Session:
    return Session(name="s", repo_path="/r", base_branch="main", branch="b", worktree_path="/w", agent=agent,
                   agent_session_id="0d57ab3f-5c9a-4a2a-a757-b82608a50fc0", **fields)


# -- argv --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("agent", "option"), [("claude", "--model"), ("codex", "-m"), ("gemini", "-m")])
def test_each_agent_passes_the_model_with_its_own_option_fresh_and_on_resume(agent: str, option: str) -> None:
    session = _session(agent, model="some-model-1", initial_prompt="go")
    for resume in (False, True):
        argv = agent_named(agent).command(session, resume=resume).argv
        at = argv.index(option)
        assert argv[at + 1] == "some-model-1"
        # before the prompt (after "--" it would be prompt text) and before codex's `resume` subcommand
        assert "--" not in argv[:at] and ("resume" not in argv or argv.index("resume") > at)
    assert option not in agent_named(agent).command(_session(agent), resume=False).argv


def test_claude_plan_mode_argv_with_and_without_bypass() -> None:
    claude = agent_named("claude")
    planned = claude.command(_session("claude", plan_mode=True, skip_permissions=True), resume=False).argv
    # --dangerously-skip-permissions would override plan (checked with the real CLI); bypass stays one shift+tab away
    assert planned[1:5] == ["--permission-mode", "plan", "--allow-dangerously-skip-permissions", "--session-id"]
    assert "--dangerously-skip-permissions" not in planned
    asking = claude.command(_session("claude", plan_mode=True), resume=True).argv
    assert asking[1:3] == ["--permission-mode", "plan"] and "--allow-dangerously-skip-permissions" not in asking
    assert "--permission-mode" not in claude.command(_session("claude", skip_permissions=True), resume=False).argv


def test_agents_declare_models_and_modes() -> None:
    shell = agent_named("shell")
    assert shell.model_option is None and shell.models == () and not shell.supports_mode_cycle
    assert shell.model_argv(_session("shell", model="x")) == []
    for agent in all_agents():
        assert bool(agent.models) == (agent.model_option is not None), agent.name
        assert all(CreateRequest(repo="/r", model=m).model == m for m in agent.models)
    assert [a.name for a in all_agents() if a.takes_plan_mode] == ["claude"]
    assert [a.name for a in all_agents() if a.supports_mode_cycle] == ["claude"]


# -- request and settings rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["sonnet", "claude-opus-4-8", "gpt-5.5", "gemini-2.5-pro", "org/model:tag@v2"])
def test_plain_model_names_pass(model: str) -> None:
    assert CreateRequest(repo="/r", model=model).model == model


@pytest.mark.parametrize("model", ["", "two words", "a;rm -rf /", "$(id)", "`id`", "-rf", "x" * 101, "a\nb",
                                   "opus[1m]", "o'brien", "a|b", "a>b"])
def test_bad_model_names_are_refused_in_one_line(model: str) -> None:
    with pytest.raises(ValidationError) as raised:
        CreateRequest(repo="/r", model=model)
    message = raised.value.errors()[0]["msg"]
    assert "is not a model name" in message and "\n" not in message


def test_the_shell_refuses_a_model_and_only_claude_takes_plan_mode() -> None:
    with pytest.raises(ClauderonError, match=r"^the shell agent takes no model; drop --model or use --agent "
                                             r"claude, codex, gemini$"):
        check_agent_options("shell", model="sonnet", plan_mode=False)
    with pytest.raises(ClauderonError, match=r"^the codex agent has no plan mode; drop --plan or use --agent claude$"):
        check_agent_options("codex", model=None, plan_mode=True)
    check_agent_options("claude", model="sonnet", plan_mode=True)
    check_agent_options("shell", model=None, plan_mode=False)


def test_settings_model_default_per_agent(tmp_path: Path) -> None:
    home = Home.open(tmp_path / "h")
    home.config_file.write_text('[agents.claude]\nmodel = "opus"\n[agents.codex]\n')
    loaded = load_settings(home, environ={})
    settings = loaded.settings
    rows = {key: (value, source) for key, value, source in loaded.rows()}  # what `clauderon config show` prints
    assert rows["agents.claude.model"] == ("opus", "config.toml") and rows["agents.codex.model"][0] is None
    assert (settings.default_model("claude"), settings.default_model("codex"), settings.default_model("gemini")) == (
        "opus", None, None)
    for text, line in [('[agents.shell]\nmodel = "x"\n', "the shell agent takes no model"),
                       ('[agents.claude]\nmodel = "a b"\n', "'a b' is not a model name"),
                       ('[agents.claude]\nmodle = "opus"\n', "agents.claude.modle"),
                       ('[agents.nope]\nmodel = "opus"\n', "agents.nope")]:
        home.config_file.write_text(text)
        with pytest.raises(ClauderonError, match="see `clauderon config show`") as raised:
            load_settings(home, environ={})
        assert line in str(raised.value) and "\n" not in str(raised.value)


# -- the engine: create, restart, refusals (local backend, the agent's argv recorded) -------------------------


@pytest.mark.timeout(120)
def test_create_stores_the_model_restart_keeps_it_and_bad_input_leaves_nothing(host, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("x\n")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-q", "-m", "init")
    host.engine.settings.agents = {"claude": {"model": "opus"}}  # as `[agents.claude] model = "opus"`
    launched: list[list[str]] = []
    backend = host.engine.backends["local"]
    create = backend.create

    async def recording_create(spec, *args, **kwargs):  # the argv the engine built; a shell runs instead
        launched.append(list(spec.command))
        spec.command = ["bash", "-c", "sleep 600"]
        return await create(spec, *args, **kwargs)

    backend.create = recording_create

    async def go() -> None:
        client = EngineClient(host.home)
        try:
            # No model credential here, and none needed: a shell runs instead of the agent's CLI.
            chosen = await client.create_session({"repo": str(repo), "name": "chosen", "agent": "claude",
                                                  "model": "sonnet", "plan_mode": True, "skip_credential_check": True},
                                                 wait=True)
            assert (chosen.status, chosen.model, chosen.plan_mode) == ("running", "sonnet", True), chosen.error
            defaulted = await client.create_session({"repo": str(repo), "name": "defaulted", "agent": "claude",
                                                     "skip_credential_check": True}, wait=True)
            assert defaulted.model == "opus"
            assert launched[0][launched[0].index("--model") + 1] == "sonnet" and "plan" in launched[0]
            assert launched[1][launched[1].index("--model") + 1] == "opus"
            restarted = await client.restart_session("chosen")
            assert restarted.model == "sonnet"
            # rebuilt from the session (no transcript yet, so the same conversation id starts afresh)
            assert launched[2] == launched[0]
            sessions = len(await client.list_sessions())
            for request, line in [({"agent": "shell", "model": "sonnet"}, "the shell agent takes no model"),
                                  ({"agent": "codex", "plan_mode": True}, "the codex agent has no plan mode"),
                                  ({"agent": "claude", "model": "x; rm -rf ~"}, "is not a model name")]:
                with pytest.raises(ClauderonError, match=line):
                    await client.create_session({"repo": str(repo), "name": "refused", **request}, wait=True)
            assert len(await client.list_sessions()) == sessions  # nothing half-created
            assert not (host.home.root / "worktrees" / "refused").exists()
        finally:
            await client.close()

    asyncio.run_coroutine_threadsafe(go(), host.loop).result(110)


# -- the permission mode, from hooks and from the screen ------------------------------------------------------


class _NoContext(HookContext):
    def remember_tool(self, detail):  # noqa: D102
        pass

    def last_tool(self):  # noqa: D102
        return None

    def last_assistant_message(self, transcript_path, parse_line):  # noqa: D102
        return None

    def transcripts(self, find):  # noqa: D102
        return None


def test_claude_hooks_report_the_permission_mode_and_nothing_else_passes() -> None:
    claude = agent_named("claude")
    for sample, mode in [("skip-UserPromptSubmit.json", "bypassPermissions"), ("perm-PreToolUse.json", "default")]:
        payload = json.loads((SAMPLES / sample).read_text())
        change = claude.hook_status(payload["hook_event_name"], payload, _NoContext())
        assert change is not None and change.changes()["permission_mode"] == mode
    planned = {**payload, "permission_mode": "plan"}
    assert claude.hook_status("PreToolUse", planned, _NoContext()).changes()["permission_mode"] == "plan"
    for junk in ("root", "<b>plan</b>", 3, None):
        change = claude.hook_status("PreToolUse", {**payload, "permission_mode": junk}, _NoContext())
        assert "permission_mode" not in change.changes()


# The lines under Claude Code 2.1.197's input box, as the real CLI drew them (tests/test_agent_options_cli.py).
FOOTERS = {
    "plan": "  ⏸ plan mode on (shift+tab to cycle) · ← for agents                      ● high · /effort",
    "bypassPermissions": "  ⏵⏵ bypass permissions on (shift+tab to cycle) · ← for agents        ● high · /effort",
    "auto": "  ⏵⏵ auto mode on (shift+tab to cycle) · ← for agents                 ● high · /effort",
    "acceptEdits": "  ⏵⏵ accept edits on (shift+tab to cycle) · ← for agents              ● high · /effort",
    "default": "  ? for shortcuts · ← for agents                                      ● high · /effort",
}


@pytest.mark.parametrize(("mode", "footer"), FOOTERS.items())
def test_claude_mode_on_screen(mode: str, footer: str) -> None:
    box = "─" * 40 + "\n❯\n" + "─" * 40 + "\n"
    # The agent printed another mode's words earlier; the status line (lowest) wins.
    screen = f"● hello\n● it says: ⏸ plan mode on (shift+tab to cycle)\n{box}{footer}\n\n"
    assert agent_named("claude").mode_on_screen(screen) == mode
    assert agent_named("claude").mode_on_screen("● a dialog covers the input box\n") is None
    assert agent_named("codex").mode_on_screen(screen) is None


def test_images_at_create_go_on_codexs_command_line_and_are_typed_for_the_others(tmp_path: Path) -> None:
    from runtime.engine.launch import build_launch_spec
    from runtime.git.worktrees import WorktreeManager
    from runtime.settings import Settings

    home = Home.open(tmp_path / "home")
    shot = "/home/agent/uploads/1-shot.png"
    for agent, expected_tail in (("codex", ["-i", shot, "--", "look"]), ("claude", None), ("gemini", None)):
        session = Session(name="s", repo_path="/r", base_branch="main", branch="clauderon/s", worktree_path="/w",
                          agent=agent, initial_prompt="look", initial_images=[shot], backend="local")
        argv = build_launch_spec(home, Settings(), WorktreeManager(home), session, resume=False).command
        if expected_tail:
            assert argv[-4:] == expected_tail
        else:  # no argv prompt: it is typed in with the image path once the agent reads its input
            assert "look" not in " ".join(argv) and shot not in " ".join(argv)
