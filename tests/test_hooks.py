"""Agent status hooks: the event → status mapping, the proxy handler's validation, the installed config
and scripts, and the whole path hook.sh → curl → real proxy → handler.

Payloads under `tests/samples/claude_hooks/` were captured from Claude Code 2.1.197 (run against
FakeAnthropic, with a capture hook); `codex_notify.json` from Codex 0.171.0's notify program. Events
the runs did not produce (StopFailure, idle and elicitation notifications) use payloads built from the
fields Claude Code's source sets for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from proxy import ProxyService, SessionProxyConfig, new_proxy_password
from proxy.credentials import CredentialStore
from runtime.agents.claude import CLAUDE_HOOK_EVENTS, HOOK_SCRIPT, map_claude_event
from runtime.agents.codex import map_codex_notify
from runtime.agents.home import CONTAINER_HOME
from runtime.agents.registry import agent_named
from runtime.engine.hooks import HooksHandler, install_hooks, watch_transcript_turns
from runtime.errors import NotFound
from runtime.home import Home
from runtime.models import AgentStatus, Session
from runtime.settings import Settings
from tests.test_proxy_fixtures import closed_port

SAMPLES = Path(__file__).parent / "samples"
HOOKS = SAMPLES / "claude_hooks"


def sample(name: str) -> dict:
    return json.loads((HOOKS / f"{name}.json").read_text())


def body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


class Recorder:
    """The engine_update callback: records every change, can be told to fail."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def __call__(self, session_id: str, changes: dict) -> None:
        if self.fail:
            raise self.fail
        self.calls.append((session_id, changes))


# -- the mapping table --------------------------------------------------------------------------------

W, P, Q, IDLE, E, X = (AgentStatus.WORKING, AgentStatus.NEEDS_PERMISSION, AgentStatus.WAITING_INPUT, AgentStatus.IDLE,
                    AgentStatus.ERROR, AgentStatus.EXITED)

MAPPING = [
    ("skip-SessionStart", IDLE, None),
    ("skip-UserPromptSubmit", W, None),
    ("skip-PreToolUse", W, {"tool": "Bash"}),
    ("skip-PostToolUse", W, None),
    ("skip-PostToolUseFailure", W, None),  # a failed tool call the model sees, not an agent error
    ("perm-PermissionRequest", P, {"tool": "Bash", "input": {"command": "touch made-by-agent && mkdir -p d1",
                                                              "description": "echo"}}),
    ("perm-Notification", P, {"message": "Claude needs your permission"}),
    ("skip-Stop", Q, {"question": "FAKE-CAP-DONE-1"}),
    ("skip-SessionEnd", X, {"reason": "prompt_input_exit"}),
    ("killed-SessionEnd", X, {"reason": "other"}),
]

SYNTHETIC = [
    ({"hook_event_name": "Notification", "message": "Claude is waiting for your input",
      "notification_type": "idle_prompt"}, IDLE, None),
    ({"hook_event_name": "Notification", "message": "Claude needs your permission to use Bash"}, P,
     {"message": "Claude needs your permission to use Bash"}),  # no notification_type: older CLIs
    ({"hook_event_name": "Notification", "message": "Pick a branch", "notification_type": "elicitation_dialog"}, Q,
     {"question": "Pick a branch"}),
    ({"hook_event_name": "StopFailure", "error": "rate_limit", "error_details": "429 Too Many Requests"}, E,
     {"reason": "rate_limit 429 Too Many Requests"}),
    ({"hook_event_name": "PermissionDenied", "tool_name": "Bash"}, W, None),
    ({"hook_event_name": "SubagentStop", "agent_type": "general"}, W, None),
    ({"hook_event_name": "PreCompact", "trigger": "auto"}, W, None),
]


@pytest.mark.parametrize("name,status,detail", MAPPING, ids=[m[0] for m in MAPPING])
def test_every_captured_event_maps(name: str, status: AgentStatus, detail: dict | None) -> None:
    payload = sample(name)
    change = map_claude_event(payload["hook_event_name"], payload)
    assert change is not None and (change.agent_status, change.detail) == (status, detail)


@pytest.mark.parametrize("payload,status,detail", SYNTHETIC,
                         ids=[p[0]["hook_event_name"] + str(i) for i, p in enumerate(SYNTHETIC)])
def test_events_not_captured_map(payload: dict, status: AgentStatus, detail: dict | None) -> None:
    change = map_claude_event(payload["hook_event_name"], payload)
    assert change is not None and (change.agent_status, change.detail) == (status, detail)


@pytest.mark.parametrize("payload", [
    {"hook_event_name": "Notification", "message": "Logged in", "notification_type": "auth_success"},
    {"hook_event_name": "ConfigChange", "source": "user_settings"},
    {"hook_event_name": "SomethingNew"},
])
def test_events_without_status_meaning_change_nothing(payload: dict) -> None:
    assert map_claude_event(payload["hook_event_name"], payload) is None


def test_huge_tool_input_is_clipped_in_the_detail() -> None:
    payload = {**sample("perm-PermissionRequest"), "tool_name": "Write", "tool_input": {"content": "x" * 100_000}}
    detail = map_claude_event("PermissionRequest", payload).detail
    assert detail["tool"] == "Write" and isinstance(detail["input"], str) and len(detail["input"]) < 5000


def test_codex_notify_maps_turn_complete_to_waiting_input() -> None:
    side, main = json.loads((SAMPLES / "codex_notify.json").read_text())
    change = map_codex_notify(main)
    assert (change.agent_status, change.detail) == (Q, {"question": "FAKE-CODEX-CAP-1"})
    assert map_codex_notify({"type": "something-else"}) is None


# -- the handler --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path,data,status", [
    ("GET", "/hooks/claude/Stop", b"{}", 405),
    ("POST", "/nothooks/claude/Stop", b"{}", 404),
    ("POST", "/hooks/claude", b"{}", 404),
    ("POST", "/hooks/aider/Stop", b"{}", 404),
    ("POST", "/hooks/gemini/Stop", b"{}", 404),  # Gemini has no Stop event
    ("POST", "/hooks/claude/Stop/extra", b"{}", 404),
    ("POST", "/hooks/claude/St%20op", b"{}", 404),
    ("POST", "/hooks/codex/Stop", b"{}", 404),
    ("POST", "/hooks/claude/Stop", b"{not json", 400),
    ("POST", "/hooks/claude/Stop", b"\xff\xfe", 400),
    ("POST", "/hooks/claude/Stop", b"[1, 2]", 400),
    ("POST", "/hooks/claude/Stop", b'{"hook_event_name": "PreToolUse"}', 400),
    ("POST", "/hooks/claude/Stop", b"{" + b" " * (9 * 1024 * 1024) + b"}", 413),
])
def test_bad_requests_get_4xx_and_change_nothing(method: str, path: str, data: bytes, status: int) -> None:
    recorder = Recorder()
    code, headers, reply = HooksHandler(recorder)("s1", method, path, data)
    assert code == status and headers["Content-Type"] == "application/json" and "error" in json.loads(reply)
    assert recorder.calls == []


def test_good_event_reaches_the_engine_with_its_session() -> None:
    recorder = Recorder()
    code, _, reply = HooksHandler(recorder)("s1", "POST", "/hooks/claude/Stop?t=5", body(sample("skip-Stop")))
    assert code == 200 and json.loads(reply)["agent_status"] == "waiting-input"
    # the payload's permission mode comes along (the sample session bypassed permissions)
    assert recorder.calls == [("s1", {"agent_status": Q, "agent_detail": {"question": "FAKE-CAP-DONE-1"},
                                      "permission_mode": "bypassPermissions"})]


def test_after_a_missing_credential_the_agents_reports_keep_the_proxys_reason() -> None:
    """Claude Code's StopFailure says only `authentication_failed`, and Gemini CLI ends the turn as if answered;
    the proxy's refusal said what to set. Only the agent's exit is its own."""
    recorder = Recorder()
    handler = HooksHandler(recorder)
    why = "clauderon holds no anthropic_api_key for this session: set ANTHROPIC_API_KEY"
    handler.no_credential("s1", why)
    failure = body({"hook_event_name": "StopFailure", "error": "authentication_failed"})
    handler("s1", "POST", "/hooks/claude/StopFailure", failure)
    handler("s1", "POST", "/hooks/claude/Stop", body(sample("skip-Stop")))
    handler("s2", "POST", "/hooks/claude/StopFailure", failure)
    assert [(sid, c["agent_status"], c["agent_detail"]) for sid, c in recorder.calls] == [
        ("s1", AgentStatus.ERROR, {"reason": why}), ("s1", AgentStatus.ERROR, {"reason": why}),
        ("s2", AgentStatus.ERROR, {"reason": "authentication_failed"})]
    handler("s1", "POST", "/hooks/claude/SessionEnd", body(sample("skip-SessionEnd")))
    assert recorder.calls[-1][1]["agent_status"] == AgentStatus.EXITED
    handler.forget("s1")  # restarted: the proxy says it again if the credential is still missing
    handler("s1", "POST", "/hooks/claude/StopFailure", failure)
    assert recorder.calls[-1][1]["agent_detail"]["reason"] == "authentication_failed"


def test_unknown_session_is_404_and_engine_failure_is_500_not_an_exception() -> None:
    gone = HooksHandler(Recorder(fail=NotFound("no session s1")))("s1", "POST", "/hooks/claude/Stop", b"{}")
    assert gone[0] == 404
    broken = HooksHandler(Recorder(fail=RuntimeError("store broke")))("s1", "POST", "/hooks/claude/Stop", b"{}")
    assert broken[0] == 500


def test_permission_notification_names_the_tool_of_the_last_pre_tool_use() -> None:
    recorder = Recorder()
    handler = HooksHandler(recorder)
    handler("s1", "POST", "/hooks/claude/PreToolUse", body(sample("perm-PreToolUse")))
    handler("s2", "POST", "/hooks/claude/PreToolUse", body({**sample("skip-PreToolUse"), "tool_name": "Edit"}))
    handler("s1", "POST", "/hooks/claude/Notification", body(sample("perm-Notification")))
    sid, changes = recorder.calls[-1]
    assert sid == "s1" and changes["agent_status"] == P
    assert changes["agent_detail"]["tool"] == "Bash"
    assert changes["agent_detail"]["message"] == "Claude needs your permission"
    assert changes["agent_detail"]["input"]["command"].startswith("touch made-by-agent")


def test_an_older_event_cannot_undo_a_newer_status() -> None:
    recorder = Recorder()
    handler = HooksHandler(recorder)
    handler("s1", "POST", "/hooks/claude/Stop?t=200", body(sample("skip-Stop")))
    late = handler("s1", "POST", "/hooks/claude/PostToolUse?t=100", body(sample("skip-PostToolUse")))
    assert late[0] == 200 and json.loads(late[2])["forwarded"] is False
    assert [c["agent_status"] for _, c in recorder.calls] == [Q]
    handler("s1", "POST", "/hooks/claude/UserPromptSubmit?t=300", body(sample("skip-UserPromptSubmit")))
    # Another session: its own clock.
    handler("s2", "POST", "/hooks/claude/PostToolUse?t=100", body(sample("skip-PostToolUse")))
    assert [c["agent_status"] for _, c in recorder.calls] == [Q, W, W]


def _claude_home(tmp_path: Path) -> tuple[Path, str]:
    """An agent home holding the sample transcript where Claude Code in a container would write it."""
    home = tmp_path / "agent"
    project = home / ".claude" / "projects" / "-workspace"
    project.mkdir(parents=True)
    (project / "c1.jsonl").write_bytes((SAMPLES / "claude_transcript.jsonl").read_bytes())
    return home, "/home/agent/.claude/projects/-workspace/c1.jsonl"


def test_stop_without_last_message_reads_the_question_from_the_transcript(tmp_path: Path) -> None:
    home, container_path = _claude_home(tmp_path)
    recorder = Recorder()
    handler = HooksHandler(recorder, agent_home_of=lambda sid: home)
    payload = {k: v for k, v in sample("skip-Stop").items() if k != "last_assistant_message"}
    handler("s1", "POST", "/hooks/claude/Stop", body({**payload, "transcript_path": container_path}))
    assert recorder.calls[-1][1]["agent_detail"] == {"question": "FAKE-CAP-DONE-1"}


def test_transcript_path_never_leads_out_of_the_agent_home(tmp_path: Path) -> None:
    home, _ = _claude_home(tmp_path)
    secret = tmp_path / "host-secret.jsonl"
    message = {"content": [{"type": "text", "text": "HOST-SECRET"}]}
    secret.write_text(json.dumps({"type": "assistant", "message": message}) + "\n")
    (home / ".claude" / "projects" / "-workspace" / "evil.jsonl").symlink_to(secret)
    (home / "link-dir").symlink_to(tmp_path)
    recorder = Recorder()
    handler = HooksHandler(recorder, agent_home_of=lambda sid: home)
    base = {k: v for k, v in sample("skip-Stop").items() if k != "last_assistant_message"}
    for path in ("/home/agent/.claude/projects/-workspace/evil.jsonl", "/home/agent/link-dir/host-secret.jsonl",
                 "/home/agent/../../" + str(secret), str(secret)):
        handler("s1", "POST", "/hooks/claude/Stop", body({**base, "transcript_path": path}))
    assert [c["agent_detail"] for _, c in recorder.calls] == [None] * 4


def test_codex_side_thread_notify_is_ignored(tmp_path: Path) -> None:
    side, main = json.loads((SAMPLES / "codex_notify.json").read_text())
    home = tmp_path / "agent"
    day = home / ".codex" / "sessions" / "2026" / "11" / "27"
    day.mkdir(parents=True)
    (day / f"rollout-2026-11-27T16-53-36-{main['thread-id']}.jsonl").write_text("{}\n")
    recorder = Recorder()
    handler = HooksHandler(recorder, agent_home_of=lambda sid: home)
    assert json.loads(handler("s1", "POST", "/hooks/codex/notify", body(side))[2])["forwarded"] is False
    handler("s1", "POST", "/hooks/codex/notify", body(main))
    assert recorder.calls == [("s1", {"agent_status": Q, "agent_detail": {"question": "FAKE-CODEX-CAP-1"}})]


# -- installing -----------------------------------------------------------------------------------------


def test_claude_hooks_merge_with_the_users_and_are_idempotent(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    (home / ".claude").mkdir(parents=True)
    mine = {"matcher": "Bash", "hooks": [{"type": "command", "command": "echo mine"}]}
    (home / ".claude" / "settings.json").write_text(json.dumps({"model": "opus", "hooks": {"PreToolUse": [mine]}}))
    agent_named("claude").install_hooks(home, home_in_agent=CONTAINER_HOME)
    agent_named("claude").install_hooks(home, home_in_agent=CONTAINER_HOME)
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["model"] == "opus"
    assert set(settings["hooks"]) == set(CLAUDE_HOOK_EVENTS)
    assert settings["hooks"]["PreToolUse"][0] == mine and len(settings["hooks"]["PreToolUse"]) == 2
    for event in CLAUDE_HOOK_EVENTS:
        [ours] = [g for g in settings["hooks"][event] if "clauderon" in json.dumps(g)]
        assert ours["hooks"][0]["command"] == f'bash "$HOME/{HOOK_SCRIPT}" {event}'
    assert os.stat(home / HOOK_SCRIPT).st_mode & 0o777 == 0o700


def test_codex_notify_is_set_and_other_config_kept(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(
        'model = "o4"\nnotify = ["notify-send"]\n[projects."/workspace"]\ntrust_level = "trusted"\n')
    agent_named("codex").install_hooks(home, home_in_agent=CONTAINER_HOME)
    config = tomllib.loads((home / ".codex" / "config.toml").read_text())
    assert config["notify"] == ["bash", "/home/agent/.clauderon/codex-notify.sh"]
    assert config["model"] == "o4" and config["projects"]["/workspace"]["trust_level"] == "trusted"
    agent_named("codex").install_hooks(home, home_in_agent=str(home))  # a local session sees the host path
    notify = tomllib.loads((home / ".codex" / "config.toml").read_text())["notify"]
    assert notify[1] == f"{home}/.clauderon/codex-notify.sh"
    assert agent_named("shell").install_hooks(home, home_in_agent=CONTAINER_HOME) == []


def test_scripts_print_nothing_and_exit_0_when_the_proxy_is_down(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    home.mkdir()
    agent_named("claude").install_hooks(home, home_in_agent=CONTAINER_HOME)
    agent_named("codex").install_hooks(home, home_in_agent=CONTAINER_HOME)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "HTTPS_PROXY": f"http://u:p@127.0.0.1:{closed_port()}"}
    for argv, stdin in (([str(home / HOOK_SCRIPT), "Stop"], b'{"a": 1}'),
                        ([str(home / HOOK_SCRIPT), "bad;event"], b"{}"),
                        ([str(home / ".clauderon/codex-notify.sh"), '{"type": "agent-turn-complete"}'], b"")):
        done = subprocess.run(["bash", *argv], input=stdin, capture_output=True, env=env, timeout=30)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


# -- the whole path: hook.sh -> curl -> proxy -> handler ------------------------------------------------


@pytest.fixture(scope="module")
def proxy_service(tmp_path_factory) -> ProxyService:
    home = Home.open(tmp_path_factory.mktemp("hooks") / "h")
    service = ProxyService(home, Settings(), port=closed_port(),
                           credential_sources=CredentialStore(secrets_dir=home.secrets, environ={}))
    service.start()
    yield service
    service.set_hooks_handler(None)
    service.stop()


def _session_env(service: ProxyService, sid: str, home: Path) -> dict[str, str]:
    password, digest = new_proxy_password()
    service.register_session(SessionProxyConfig(sid, f"name-{sid}", digest, "claude", set(),
                                                    traffic=agent_named("claude").traffic))
    proxy = f"http://{sid}:{password}@127.0.0.1:{service.port}"
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "HTTPS_PROXY": proxy, "https_proxy": proxy,
            "CURL_CA_BUNDLE": str(service.ca_cert_path)}


def test_hook_script_through_the_real_proxy_sets_the_senders_status(proxy_service: ProxyService,
                                                                    tmp_path: Path) -> None:
    home = tmp_path / "agent"
    home.mkdir()
    agent_named("claude").install_hooks(home, home_in_agent=CONTAINER_HOME)
    env = _session_env(proxy_service, "sess-a", home)
    arrived: list[tuple[float, str, dict]] = []
    proxy_service.set_hooks_handler(HooksHandler(lambda sid, ch: arrived.append((time.perf_counter(), sid, ch))))
    latencies = []
    for name in ("skip-UserPromptSubmit", "perm-PermissionRequest", "skip-Stop") * 7:
        before = len(arrived)
        started = time.perf_counter()
        done = subprocess.run(["bash", str(home / HOOK_SCRIPT), name.split("-")[1]], input=body(sample(name)),
                              capture_output=True, env=env, timeout=30)
        assert (done.returncode, done.stdout) == (0, b"")
        assert len(arrived) == before + 1, f"{name} did not reach the handler"
        latencies.append((arrived[-1][0] - started) * 1000)
    assert {sid for _, sid, _ in arrived} == {"sess-a"}
    assert [c["agent_status"] for _, _, c in arrived[:3]] == [W, P, Q]
    # The figure for the report (hook process start to handler callback, bash + curl + proxy included).
    print(f"\nhook -> handler latency over {len(latencies)} events: median {statistics.median(latencies):.1f} ms, "
          f"max {max(latencies):.1f} ms")


def applied(session: Session, stored: list[dict], changes: dict) -> Session | None:
    """What `Engine.apply` promises (tested on a real engine below): a change that changes nothing is not
    written."""
    if all(getattr(session, key, None) == value for key, value in changes.items()):
        return None
    stored.append(changes)
    for key, value in changes.items():
        setattr(session, key, value)
    return session


def test_engine_apply_writes_off_the_loop_and_skips_no_op_changes(host) -> None:
    import threading

    engine = host.engine
    session = engine.store.put(Session(name="ap", repo_path="/r", base_branch="main", branch="b", worktree_path="/w"))
    threads: list[str] = []
    real_update = engine.store.update

    def recording_update(*args, **kw):
        threads.append(threading.current_thread().name)
        return real_update(*args, **kw)

    engine.store.update = recording_update
    def run(**changes: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(engine.apply(session.id, **changes), host.loop).result(10)

    assert run(agent_status=W).agent_status == W
    assert run(agent_status=W) is None  # nothing changed: not written, not published
    assert run(agent_status=Q).agent_status == Q
    assert threads and all(name.startswith("clauderon-store") for name in threads) and len(threads) == 2
    assert engine.store.get("ap").agent_status == Q


async def test_install_hooks_applies_changes_on_the_engine_loop(tmp_path: Path) -> None:
    """`install_hooks` with an engine stand-in: changes run on the engine loop; repeats are not stored."""
    session = Session(name="n", repo_path="/r", base_branch="main", branch="b", worktree_path="/w", agent="claude")
    stored: list[dict] = []
    loop_thread: list[bool] = []
    registered: list = []

    async def apply(session_id: str, **changes) -> Session | None:
        loop_thread.append(asyncio.get_running_loop() is not None)
        return applied(session, stored, changes)

    engine = SimpleNamespace(home=SimpleNamespace(agent_home=lambda sid: tmp_path), apply=apply,
                             egress=SimpleNamespace(service=SimpleNamespace(set_hooks_handler=registered.append)))
    handler = install_hooks(engine)
    assert registered == [handler] and engine.hooks is handler
    for name in ("skip-UserPromptSubmit", "skip-PostToolUse", "skip-Stop"):
        code, _, _ = await asyncio.to_thread(handler, session.id, "POST", f"/hooks/claude/{name.split('-')[1]}",
                                             body(sample(name)))
        assert code == 200
    assert session.agent_status == Q
    # UserPromptSubmit then PostToolUse both mean "working": stored once.
    assert [c["agent_status"] for c in stored] == [W, Q] and all(loop_thread)


async def test_codex_turns_followed_from_the_rollout(tmp_path: Path) -> None:
    """Codex has no "turn started" hook: the watcher sees it in the rollout, and the end too."""
    lines = (SAMPLES / "codex_rollout.jsonl").read_text().splitlines(keepends=True)
    started = next(i for i, row in enumerate(lines) if '"task_started"' in row)
    day = tmp_path / ".codex" / "sessions" / "2026" / "11" / "27"
    day.mkdir(parents=True)
    rollout = day / "rollout-2026-11-27T16-53-36-t1.jsonl"
    rollout.write_text("".join(lines[: started + 1]))
    session = Session(name="n", repo_path="/r", base_branch="main", branch="b", worktree_path="/w", agent="codex",
                      status="running")
    updates: list[dict] = []

    async def apply(session_id: str, **changes) -> Session | None:
        return applied(session, updates, changes)

    engine = SimpleNamespace(home=SimpleNamespace(agent_home=lambda sid: tmp_path), apply=apply,
                             store=SimpleNamespace(find=lambda sid: session))
    watcher = asyncio.ensure_future(watch_transcript_turns(engine, session.id, interval=0.01))

    async def until(predicate, what: str) -> None:
        for _ in range(2000):  # a bound for slow machines, not a speed check
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"never saw {what}; updates {updates}")

    await until(lambda: session.agent_status == W, "working")
    with rollout.open("a") as handle:
        handle.write("".join(lines[started + 1:]))
    await until(lambda: session.agent_status == Q, "waiting-input")
    assert [u["agent_status"] for u in updates] == [W, Q]
    session.status = "stopped"
    await asyncio.wait_for(watcher, 30)  # ends by itself once the session no longer runs


def test_a_fifo_as_transcript_path_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO opened without O_NONBLOCK waits for a writer forever: one agent's hook would have held a
    proxy worker thread, and with a few of them every session's proxy, for good."""
    import threading

    home, _ = _claude_home(tmp_path)
    fifo = home / ".claude" / "projects" / "-workspace" / "fifo.jsonl"
    os.mkfifo(fifo)
    recorder = Recorder()
    handler = HooksHandler(recorder, agent_home_of=lambda sid: home)
    base = {k: v for k, v in sample("skip-Stop").items() if k != "last_assistant_message"}
    done = threading.Event()

    def call() -> None:
        handler("s1", "POST", "/hooks/claude/Stop",
                body({**base, "transcript_path": "/home/agent/.claude/projects/-workspace/fifo.jsonl"}))
        done.set()

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    try:
        assert done.wait(20), "the hook hung on a FIFO transcript path"
        assert recorder.calls[-1][1]["agent_detail"] is None
    finally:
        if not done.is_set():  # release the stuck open so the thread can end
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)


def _hook_through_proxy(env: dict[str, str], event: str, payload: dict) -> dict:
    """POST one hook through the real proxy the way hook.sh does, and return the hooks host's JSON reply."""
    done = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "60", "-X", "POST",
                           "-H", "Content-Type: application/json", "--data-binary", "@-",
                           f"https://clauderon.internal/hooks/claude/{event}"],
                          input=body(payload), capture_output=True, env=env, timeout=90)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.timeout(180)
def test_fifo_and_symlink_transcripts_are_refused_through_the_proxy_while_others_go_on(
        proxy_service: ProxyService, tmp_path: Path) -> None:
    """An agent names a FIFO (more of them than the proxy has hook workers) and a symlink out of its home
    as `transcript_path`. Each hook is answered with the path refused, and meanwhile another session's
    hook (which reads its own transcript) and proxy requests are served. Before the fix the FIFO's
    blocking open held every hook worker for good, and the other session's hook got 504."""
    from concurrent.futures import ThreadPoolExecutor

    home_a, _ = _claude_home(tmp_path / "a")
    home_b, good_path = _claude_home(tmp_path / "b")
    project = home_a / ".claude" / "projects" / "-workspace"
    fifo = project / "fifo.jsonl"
    os.mkfifo(fifo)
    outside = tmp_path / "host-secret.jsonl"
    message = {"content": [{"type": "text", "text": "HOST"}]}
    outside.write_text(json.dumps({"type": "assistant", "message": message}) + "\n")
    (project / "evil.jsonl").symlink_to(outside)
    homes = {"sess-fa": home_a, "sess-fb": home_b}
    recorder = Recorder()
    proxy_service.set_hooks_handler(HooksHandler(recorder, agent_home_of=homes.get))
    env_a = {**_session_env(proxy_service, "sess-fa", home_a), "PATH": os.environ["PATH"]}
    env_b = {**_session_env(proxy_service, "sess-fb", home_b), "PATH": os.environ["PATH"]}
    stop = {k: v for k, v in sample("skip-Stop").items() if k != "last_assistant_message"}
    container = "/home/agent/.claude/projects/-workspace/"
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            fifo_stop = {**stop, "transcript_path": container + "fifo.jsonl"}
            attacks = [pool.submit(_hook_through_proxy, env_a, "Stop", fifo_stop) for _ in range(8)]
            attacks.append(pool.submit(_hook_through_proxy, env_a, "Stop",
                                       {**stop, "transcript_path": container + "evil.jsonl"}))
            # Another session, while the attack is under way: its hook reads its own transcript.
            other = _hook_through_proxy(env_b, "Stop", {**stop, "transcript_path": good_path})
            plain = subprocess.run(["curl", "--silent", "--max-time", "60", "-o", "/dev/null", "-w", "%{http_code}",
                                    f"http://127.0.0.1:{closed_port()}/x"],
                                   capture_output=True, text=True, env={**env_b, "http_proxy": env_b["HTTPS_PROXY"]},
                                   timeout=90)
            replies = [a.result() for a in attacks]
    finally:  # if an open ever blocked, release it so no thread is left behind
        _release_fifo(fifo)
    assert other["forwarded"] is True and "transcript_refused" not in other
    assert ("sess-fb", {"agent_status": Q, "agent_detail": {"question": "FAKE-CAP-DONE-1"},
                        "permission_mode": "bypassPermissions"}) in recorder.calls
    assert plain.stdout not in ("", "000"), "the proxy stopped answering other requests"
    for reply in replies[:-1]:
        assert reply["ok"] is True and "a FIFO" in reply["transcript_refused"], reply
    assert "symlink" in replies[-1]["transcript_refused"]
    assert all(c["agent_detail"] is None for sid, c in recorder.calls if sid == "sess-fa")
    assert not any("HOST" in json.dumps(c) for _, c in recorder.calls)


def _release_fifo(fifo: Path) -> None:
    """Open and close the write end: any open of the read end still waiting returns (at EOF)."""
    with contextlib.suppress(OSError):  # ENXIO: nobody is waiting on it
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_transcript_read_that_hangs_is_cut_off_and_other_hooks_go_on(tmp_path: Path, monkeypatch) -> None:
    """Whatever an agent-named file does to a read, a hook waits for it at most TRANSCRIPT_SECONDS, on
    the transcript executor, and hooks that read nothing are not held up."""
    import threading

    import runtime.engine.hooks as hooks

    home, container_path = _claude_home(tmp_path)
    release = threading.Event()

    ran_on: list[str] = []

    def hanging(reader, **_):
        ran_on.append(threading.current_thread().name)
        release.wait(60)
        return "late"

    monkeypatch.setattr(hooks, "TRANSCRIPT_SECONDS", 0.5)
    monkeypatch.setattr(hooks, "last_assistant_in", hanging)
    recorder = Recorder()
    handler = HooksHandler(recorder, agent_home_of=lambda sid: home)
    stop = {k: v for k, v in sample("skip-Stop").items() if k != "last_assistant_message"}
    try:
        for _ in range(3):  # more than the transcript executor has threads: they all stay stuck
            code, _, reply = handler("s1", "POST", "/hooks/claude/Stop",
                                     body({**stop, "transcript_path": container_path}))
            assert code == 200 and "over" in json.loads(reply)["transcript_refused"]
        code, _, reply = handler("s2", "POST", "/hooks/claude/PreToolUse", body(sample("skip-PreToolUse")))
        assert code == 200 and json.loads(reply)["forwarded"] is True
        assert ran_on and all(name.startswith("clauderon-transcripts") for name in ran_on)
    finally:
        release.set()
