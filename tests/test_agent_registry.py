"""The Agent seam: the registry is the only place that lists agents, the proxy's tables come from the agents,
and every registered agent keeps the protocol (`runtime.agents.base.Agent`)."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest

from proxy import CREDENTIAL_NAMES, ENV_NAMES, PLACEHOLDERS, CredentialStore, SessionProxyConfig, container_env
from proxy.model_errors import SHAPES
from proxy.policy import egress_allowed, read_only_allows
from runtime.agents.base import Agent, HookRejected
from runtime.agents.home import CONTAINER_HOME
from runtime.agents.registry import DEFAULT_AGENT, agent_named, agent_names, all_agents
from runtime.agents.transcripts import parse_file
from runtime.errors import ClauderonError
from runtime.models import Session

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).parent / "samples"
AGENTS_DIR = ROOT / "runtime" / "agents"


def make_session(agent: str, **changes: object) -> Session:
    fields = dict(name="s", repo_path="/r", base_branch="main", branch="b", worktree_path="/w", agent=agent,
                  backend="docker", initial_prompt="fix it")
    return Session(**{**fields, **changes})


class NoHookContext:
    """A `HookContext` for a session the engine knows nothing more about."""

    def __init__(self) -> None:
        self.tools: list[dict[str, object]] = []

    def remember_tool(self, detail: dict[str, object]) -> None:
        self.tools.append(detail)

    def last_tool(self) -> dict[str, object] | None:
        return self.tools[-1] if self.tools else None

    def last_assistant_message(self, transcript_path: str, parse_line: object) -> str | None:
        return None

    def transcripts(self, find: object) -> list[Path] | None:
        return None


# -- the registry is the only list ------------------------------------------------------------------------


def test_every_registered_agent_has_a_module_of_its_own_and_every_agent_module_is_registered() -> None:
    registered = {agent.name: type(agent) for agent in all_agents()}
    assert list(registered) == agent_names() and agent_names()[0] == DEFAULT_AGENT
    for name, cls in registered.items():
        assert cls.__module__ == f"runtime.agents.{name}", f"{name} should live in runtime/agents/{name}.py"
    defined = set()
    for path in AGENTS_DIR.glob("*.py"):
        module = importlib.import_module(f"runtime.agents.{path.stem}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Agent) and value is not Agent \
                    and value.__module__ == module.__name__:
                defined.add(value)
    assert defined == set(registered.values()), "an Agent subclass that is not in the registry"


def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_no_module_outside_an_agents_own_names_an_agent() -> None:
    """Agent names as string literals appear only in each agent's module (its name, its CLI's argv) and, as the
    session model's default, in `runtime/models.py` (which the registry's modules import, so it cannot ask)."""
    names = set(agent_names())
    own = {AGENTS_DIR / f"{name}.py" for name in names}
    offenders = []
    for package in ("runtime", "proxy", "clauderon_tui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in own:
                continue
            found = _string_constants(path) & names
            if path == ROOT / "runtime" / "models.py":
                found -= {DEFAULT_AGENT}
            if found:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(found)}")
    assert offenders == []
    assert Session(name="s", repo_path="/r", base_branch="main", branch="b", worktree_path="/w").agent == DEFAULT_AGENT


def test_the_proxy_knows_no_model_host_of_its_own() -> None:
    """Without an agent's tables the proxy lets no model host past an allowlist and no model call past read-only."""
    for agent in all_agents():
        for host in agent.traffic.model_hosts:
            assert not egress_allowed(host.removeprefix("*."), (), [])
            assert egress_allowed(host.replace("*", "sub"), agent.traffic.model_hosts, [])
        for method, host, path in agent.traffic.model_calls:
            assert not read_only_allows(method, host, path, ())
            assert read_only_allows(method, host, path, agent.traffic.model_calls)


def test_the_session_config_carries_the_agents_traffic_through_a_restart() -> None:
    for agent in all_agents():
        cfg = SessionProxyConfig("sid", "n", "sha256:x", agent.name, {"github_token"}, traffic=agent.traffic)
        restored = SessionProxyConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert restored.traffic == agent.traffic and restored.agent == agent.name


def test_an_unknown_agent_is_refused_with_the_choices() -> None:
    with pytest.raises(ClauderonError, match="unknown agent 'aider'; choose one of claude, codex, gemini, shell"):
        agent_named("aider")


# -- the protocol, for each agent --------------------------------------------------------------------------


@pytest.mark.parametrize("name", agent_names())
def test_each_agent_declares_what_it_is(name: str) -> None:
    agent = agent_named(name)
    assert agent.name == name and agent.label
    assert bool(agent.npm_packages) == bool(agent.entry_point)
    assert agent.hook_events is None or agent.hook_events.startswith(f"/hooks/{name}/")
    assert not agent.follows_turns or agent.transcript is not None
    for credential in agent.traffic.model_credentials:
        assert credential.name in CREDENTIAL_NAMES
        assert credential.env is None or credential.name in PLACEHOLDERS
    command = agent.command(make_session(name), resume=False)
    assert command.argv and all(isinstance(a, str) and a for a in command.argv)
    resumed = agent.command(make_session(name), resume=True)
    # A resumed conversation is not given its first prompt again (an argument may carry it: `--opt=prompt`).
    assert not any("fix it" in arg for arg in resumed.argv)
    assert any("fix it" in arg for arg in command.argv) == agent.takes_prompt


@pytest.mark.parametrize("name", agent_names())
def test_each_agent_says_which_credential_it_needs_and_how_to_provide_one(name: str, tmp_path: Path) -> None:
    """The preflight of `clauderon create` and the dialog: one line naming the alternatives (any one will do) and
    the three ways to provide one; nothing for an agent that calls no model, or once the host has one."""
    agent = agent_named(name)
    names = [c.name for c in agent.traffic.model_credentials]
    problem = agent.credential_problem([], tmp_path / "secrets")
    if not names:
        assert problem is None
        return
    assert agent.traffic.error_shape in SHAPES  # its model API's words reach the CLI (a refused call's 401)
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"{name} needs {' or '.join(names)}: ")
    keys = [n for n in names if n in ENV_NAMES]
    for way in (*(ENV_NAMES[n][0] for n in keys), "op://", "[onepassword.credentials]",
                str(tmp_path / "secrets" / keys[-1])):
        assert way in problem
    for have in names:  # any one of them suffices
        assert agent.credential_problem([have], tmp_path / "secrets") is None


def test_the_credential_lines_read_as_a_person_needs_them() -> None:
    secrets = Path.home() / ".clauderon" / "secrets"
    assert agent_named("claude").credential_problem(["github_token"], secrets) == (
        "claude needs anthropic_oauth_token or anthropic_api_key: set CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY, "
        "or add an op:// reference under [onepassword.credentials] in proxy.toml, or put it in "
        "~/.clauderon/secrets/anthropic_api_key (chmod 600)")
    assert agent_named("codex").credential_problem([], secrets) == (
        "codex needs codex_oauth or openai_api_key: sign in with `codex login` on this machine, or set OPENAI_API_KEY, "
        "or add an op:// reference under [onepassword.credentials] in proxy.toml, or put it in "
        "~/.clauderon/secrets/openai_api_key (chmod 600)")


@pytest.mark.parametrize("name", agent_names())
def test_each_agents_setup_and_hooks_stay_in_its_home(name: str, tmp_path: Path) -> None:
    agent = agent_named(name)
    home = tmp_path / "home"
    home.mkdir()
    store = CredentialStore(tmp_path / "secrets", environ={"ANTHROPIC_API_KEY": "sk-ant-api03-real-0123456789",
                                                           "OPENAI_API_KEY": "sk-real-openai-0123456789"})
    env = container_env("sid", "pw", "127.0.0.1", 1, agent.traffic, store)
    written = [*agent.write_setup(home, make_session(name), env=env, credentials=store),
               *agent.install_hooks(home, home_in_agent=CONTAINER_HOME)]
    for path in written:
        assert path.resolve().is_relative_to(home.resolve()) and path.is_file()
        assert "real" not in path.read_text()  # only placeholders reach an agent home
    assert bool(written) == bool(agent.traffic.model_credentials or agent.hook_events)


@pytest.mark.parametrize("name", agent_names())
def test_each_agents_hooks_and_transcript(name: str) -> None:
    agent = agent_named(name)
    if agent.hook_events is None:
        with pytest.raises(HookRejected):
            agent.hook_status("Stop", {}, NoHookContext())
    if agent.transcript is None:
        assert agent.find_transcripts(Path("/nonexistent")) == []
        return
    samples = {"claude": "claude_transcript.jsonl", "codex": "codex_rollout.jsonl",
               "gemini": "gemini_transcript.jsonl"}
    page = parse_file(SAMPLES / samples[name], agent.parse_transcript_line)
    assert page.malformed == 0 and any(m.kind == "assistant" for m in page.messages)


def test_claude_and_codex_hook_status() -> None:
    claude, codex = agent_named("claude"), agent_named("codex")
    context = NoHookContext()
    change = claude.hook_status("PreToolUse", {"hook_event_name": "PreToolUse", "tool_name": "Bash"}, context)
    assert change is not None and change.detail == {"tool": "Bash"} and context.tools == [{"tool": "Bash"}]
    with pytest.raises(HookRejected) as refused:
        claude.hook_status("Stop", {"hook_event_name": "PreToolUse"}, context)
    assert refused.value.status == 400
    with pytest.raises(HookRejected) as refused:
        codex.hook_status("Stop", {}, context)
    assert refused.value.status == 404
    done = codex.hook_status("notify", {"type": "agent-turn-complete", "last-assistant-message": "done?"}, context)
    assert done is not None and done.detail == {"question": "done?"}
