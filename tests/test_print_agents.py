"""Print mode's agent side: each agent's headless command line (the prompt one argv element, permissions
bypassed) and how its final message is read from what the real CLI printed (outputs captured from Claude Code
2.1.197, Codex 0.171.0 and Gemini CLI 0.61.0 against the fake upstreams); the engine's refusals."""

from __future__ import annotations

import json

import pytest

from runtime.agents.base import PrintOutcome
from runtime.agents.registry import agent_named
from runtime.engine.print_runs import print_sandbox_command, refuse_print
from runtime.errors import ClauderonError
from runtime.models import PrintRun, Session

PROMPT = "-starts with a dash; $(not a shell)"


def session(agent: str, **changes) -> Session:
    fields = dict(name="s", repo_path="/r", base_branch="main", branch="b", worktree_path="/w", agent=agent,
                  backend="docker", initial_prompt=PROMPT, agent_session_id="3f1c2a9e-8b7d-4c6e-9a5f-0e1d2c3b4a59")
    return Session(**{**fields, **changes})


CLAUDE_OK = ('{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"THE-ANSWER-42",'
             '"stop_reason":"end_turn","session_id":"5f9b"}\r\n')
CODEX_OK = "\n".join(json.dumps(e) for e in [
    {"type": "thread.started", "thread_id": "01a2"}, {"type": "turn.started"},
    {"type": "item.completed", "item": {"id": "item_0", "type": "agent_message", "text": "THE-CODEX-ANSWER"}},
    {"type": "turn.completed", "usage": {"input_tokens": 12}}]) + "\n"
GEMINI_OK = json.dumps({"session_id": "fae0", "response": "GEMINI-PRINT-ANSWER", "stats": {"models": {}}}, indent=2)
GEMINI_ERR = ("    at async main (file:///gemini.js:17627:5) {\n  code: 404\n}\n" + json.dumps(
    {"session_id": "d770", "error": {"type": "Error", "message": "no route /v1beta/models", "code": 1}}, indent=2))


def test_each_print_command_takes_the_prompt_as_one_argument_with_permissions_bypassed() -> None:
    claude = agent_named("claude").print_command(session("claude"))
    assert claude is not None and claude.argv[:5] == ["claude", "-p", "--output-format", "json",
                                                      "--dangerously-skip-permissions"]
    assert claude.argv[-2:] == ["--", PROMPT] and claude.env["IS_SANDBOX"] == "1"
    codex = agent_named("codex").print_command(session("codex"))
    assert codex is not None and codex.argv == ["codex", "exec", "--json", "--dangerously-bypass-approvals-and-sandbox",
                                                "--", PROMPT]
    assert codex.env == {"CODEX_HOME": "/home/agent/.codex"}
    gemini = agent_named("gemini").print_command(session("gemini"))
    assert gemini is not None and gemini.argv[:4] == ["gemini", "--yolo", "--output-format", "json"]
    assert gemini.argv[-1] == f"--prompt={PROMPT}"
    assert agent_named("shell").print_command(session("shell")) is None


def test_print_runs_take_the_sessions_model_and_refuse_plan_mode() -> None:
    for agent, option in (("claude", "--model"), ("codex", "-m"), ("gemini", "-m")):
        command = agent_named(agent).print_command(session(agent, model="some-model-1"))
        assert command is not None
        at = command.argv.index(option)
        assert command.argv[at + 1] == "some-model-1" and command.argv.index("some-model-1") < len(command.argv) - 1
    with pytest.raises(ClauderonError, match="^--plan and --print do not go together"):
        refuse_print("claude", "hi", "docker", sandboxed=True, plan_mode=True)


def test_the_final_message_is_read_from_each_clis_output() -> None:
    assert agent_named("claude").print_outcome(CLAUDE_OK, "") == PrintOutcome("THE-ANSWER-42")
    failed = CLAUDE_OK.replace('"is_error":false', '"is_error":true').replace("THE-ANSWER-42", "API Error: 400")
    assert agent_named("claude").print_outcome(failed, "") == PrintOutcome("API Error: 400", failed=True)
    assert agent_named("codex").print_outcome(CODEX_OK, "ERROR websocket") == PrintOutcome("THE-CODEX-ANSWER")
    turn_failed = CODEX_OK + json.dumps({"type": "turn.failed", "error": {"message": "unexpected status 400"}})
    assert agent_named("codex").print_outcome(turn_failed, "") == PrintOutcome("unexpected status 400", failed=True)
    assert agent_named("gemini").print_outcome(GEMINI_OK, "YOLO mode") == PrintOutcome("GEMINI-PRINT-ANSWER")
    assert agent_named("gemini").print_outcome("", GEMINI_ERR) == PrintOutcome("no route /v1beta/models", failed=True)
    for name in ("claude", "codex", "gemini"):  # nothing readable: the engine reports stderr's last line
        assert agent_named(name).print_outcome("not json\n", "boom\n") is None


def test_a_print_sandbox_only_waits_with_the_print_commands_environment() -> None:
    assert print_sandbox_command(session("claude")) is None  # an interactive session runs its agent
    waiting = print_sandbox_command(session("claude", print_run=PrintRun()))
    assert waiting is not None and waiting.argv[:2] == ["sh", "-c"] and PROMPT not in " ".join(waiting.argv)
    assert waiting.env["IS_SANDBOX"] == "1"


@pytest.mark.parametrize(("agent", "prompt", "backend", "sandboxed", "message"), [
    ("shell", "ls", "docker", True, "the shell agent has no print mode; use --agent claude or codex or gemini"),
    ("claude", "  ", "docker", True, "print mode runs a prompt: give it with --prompt"),
    ("claude", "hi", "local", False, "print mode runs in a sandbox and the local backend has none"),
])
def test_print_mode_is_refused_with_one_line(agent: str, prompt: str, backend: str, sandboxed: bool,
                                             message: str) -> None:
    with pytest.raises(ClauderonError, match="^" + message.replace("(", r"\(")):
        refuse_print(agent, prompt, backend, sandboxed=sandboxed)
