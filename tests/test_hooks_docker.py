"""The REAL Claude Code CLI in a real container, created through the CLI: its hooks (installed in the
agent home) reach the engine through the session's proxy and move `agent_status` as the turn goes.

FakeAnthropic (on loopback, routed to by `proxy.toml`) first asks for a slow Bash command, then answers
with text: the session is seen `working` while the command runs, then `waiting-input` with the reply as
the question. A second session without --skip-permissions stops at the permission dialog:
`needs-permission`, naming the tool. The real Codex CLI reports a finished turn through its notify
program: `waiting-input` with its last reply (not the reply to its own session-title request).
"""

from __future__ import annotations

import asyncio
import json
import secrets as pysecrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from proxy.credentials import ENV_NAMES
from runtime.engine.hooks import watch_transcript_turns
from runtime.home import Home
from runtime.models import Session
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE, run_git
from tests.fakes import make_test_certificate
from tests.fakes.anthropic import FakeAnthropic, TextReply, ToolUseReply
from tests.fakes.openai import FakeOpenAI, codex_shell_call

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

HAS_DETAIL = "agent_detail" in Session.model_fields


def unique(prefix: str) -> str:
    """A session name no other home uses: container names are global to the Docker engine."""
    return f"{prefix}-{pysecrets.token_hex(3)}"


def without_credentials(base: dict[str, str], tmp: Path) -> dict[str, str]:
    """The engine's environment without any credential of this machine (the test adds its own random one)."""
    env = {k: v for k, v in base.items()
           if not any(k in names for names in ENV_NAMES.values()) and not k.startswith(("CODEX_", "OP_"))}
    env["CODEX_AUTH_JSON_PATH"] = str(tmp / "no-codex-auth.json")  # never the machine's ~/.codex/auth.json
    return env


@pytest.fixture
def tmp() -> Path:
    # Short (the engine socket path) and not under /tmp (the worktree lives under the home).
    path = Path(tempfile.mkdtemp(prefix="cl-hk-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Rig:
    """A throwaway home whose proxy routes api.anthropic.com to the fake, and a one-commit repository."""

    def __init__(self, tmp: Path, fake: FakeAnthropic | FakeOpenAI, host: str = "api.anthropic.com",
                 key: tuple[str, str] = ("ANTHROPIC_API_KEY", "sk-ant-api03-")) -> None:
        cert = make_test_certificate(tmp / "tls", ["localhost"])
        url = fake.start_in_thread(ssl_context=cert.server_context())
        self.fake = fake
        self.home = tmp / "home"
        self.cli = Cli(self.home, image=TEST_AGENT_IMAGE)
        (self.home / "proxy.toml").write_text(
            f'[proxy]\nupstream_ca_bundle = "{cert.ca}"\n[routes]\n"{host}" = "{url}"\n')
        # A random key in the engine's environment: the container only ever sees the placeholder.
        self.cli.env = {**without_credentials(self.cli.env, tmp), key[0]: key[1] + pysecrets.token_urlsafe(40)}
        self.repo = tmp / "repo"
        self.repo.mkdir()
        run_git(self.repo, "init", "-q", "-b", "main")
        (self.repo / "README.md").write_text("hello\n")
        run_git(self.repo, "add", ".")
        run_git(self.repo, "commit", "-q", "-m", "initial")

    def create(self, name: str, prompt: str, *extra: str, agent: str = "claude") -> dict:
        return self.cli("create", "--repo", str(self.repo), "--name", name, "--agent", agent, "--prompt", prompt,
                        *extra, "--json", timeout=180).json()

    def watch(self, name: str, until: str, timeout: float = 240) -> tuple[list[str], dict]:
        """Poll `clauderon list --json` until the session's agent_status is `until`; returns every
        distinct status seen (in order) and the last record. A deadline for slow machines, not a speed check."""
        seen: list[str] = []
        record: dict = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            [record] = [s for s in self.cli("list", "--json").json() if s["name"] == name]
            if not seen or seen[-1] != record["agent_status"]:
                seen.append(record["agent_status"])
            if record["agent_status"] == until:
                return seen, record
            time.sleep(0.25)
        screen = self.cli("screen", name, check=False).out
        raise AssertionError(f"{name} never reached {until}; saw {seen}; fake saw {self.fake.paths()}\n{screen}")

    def close(self) -> None:
        try:
            self.cli.cleanup()
        finally:
            self.fake.stop_thread()


def test_claude_hooks_drive_agent_status_through_the_proxy(tmp: Path) -> None:
    reply = f"HOOKS-DONE-{pysecrets.token_hex(4)}"
    fake = FakeAnthropic(default_reply="side reply")
    # The command sleeps so that `working` is observable by polling; then the turn ends with text.
    fake.script(ToolUseReply("Bash", {"command": "sleep 6; echo TOOL-OUT-$((6*7))", "description": "slow echo"}),
                TextReply(reply))
    rig = Rig(tmp, fake)
    name = unique("hk")
    try:
        session = rig.create(name, "run the slow command", "--skip-permissions")
        agent_home = rig.home / "agents" / session["id"]
        settings = json.loads((agent_home / ".claude" / "settings.json").read_text())
        assert "Stop" in settings["hooks"] and (agent_home / ".clauderon" / "hook.sh").is_file()
        # Never in the repository: neither the worktree nor the source repository got a .claude/.
        assert not (Path(session["worktree_path"]) / ".claude").exists() and not (rig.repo / ".claude").exists()

        seen, _ = rig.watch(name, "working")
        seen2, record = rig.watch(name, "waiting-input")
        statuses = seen + seen2[1:]
        assert statuses.index("working") < statuses.index("waiting-input"), statuses
        assert set(statuses) <= {"unknown", "idle", "working", "waiting-input"}, statuses
        if HAS_DETAIL:
            assert record["agent_detail"]["question"] == reply
        # The tool really ran (its result went back to the model) before the turn ended.
        results = [b for r in fake.conversation_requests() for b in r.json["messages"][-1]["content"]
                   if isinstance(b, dict) and b.get("type") == "tool_result"]
        assert results and "TOOL-OUT-42" in json.dumps(results[0]["content"])
        # Every hook went through the proxy as this session, answered locally (never forwarded).
        audit = rig.cli("audit", name, "--limit", "1000", "--json").json()
        hooks = [line for line in audit if line.get("host") == "clauderon.internal"]
        paths = {line["path"].split("?")[0] for line in hooks}
        assert hooks and paths >= {"/hooks/claude/PreToolUse", "/hooks/claude/Stop"}
        print(f"\nstatuses seen: {statuses}")
    finally:
        rig.close()


def test_claude_permission_prompt_is_needs_permission(tmp: Path) -> None:
    fake = FakeAnthropic(default_reply="side reply")
    fake.script(ToolUseReply("Bash", {"command": "touch made-by-agent && mkdir -p d1", "description": "make files"}))
    rig = Rig(tmp, fake)
    # Sessions skip permissions by default ([session] skip_permissions); this one must ask.
    with (rig.home / "config.toml").open("a") as config:
        config.write("[session]\nskip_permissions = false\n")
    name = unique("pm")
    try:
        rig.create(name, "make two files")
        seen, record = rig.watch(name, "needs-permission")
        assert "waiting-input" not in seen, seen
        if HAS_DETAIL:
            assert record["agent_detail"]["tool"] == "Bash"
            assert record["agent_detail"]["input"]["command"] == "touch made-by-agent && mkdir -p d1"
        print(f"\nstatuses seen: {seen}")
    finally:
        rig.close()


class WatchedCodex:
    """`watch_transcript_turns` run from the test against the live session's agent home, with an engine
    stand-in that records what it would set (the engine wiring is the lead's)."""

    def __init__(self, home: Path, session_id: str) -> None:
        self.state = SimpleNamespace(status="running", agent="codex", agent_status="unknown", agent_detail=None)
        self.updates: list[str] = []
        engine = SimpleNamespace(home=Home(home), store=SimpleNamespace(find=lambda sid: self.state), apply=self._apply)
        follower = watch_transcript_turns(engine, session_id, interval=0.2)
        self.thread = threading.Thread(target=asyncio.run, args=(follower,))
        self.thread.start()

    async def _apply(self, session_id: str, **changes) -> None:
        """What `Engine.apply` does with a change: nothing when nothing changes."""
        if all(getattr(self.state, key, None) == value for key, value in changes.items()):
            return
        self.updates.append(str(changes["agent_status"]))
        for key, value in changes.items():
            setattr(self.state, key, value)

    def stop(self) -> None:
        self.state.status = "stopped"
        self.thread.join(30)


def test_codex_notify_and_rollout_set_its_status(tmp: Path) -> None:
    reply = f"CODEX-HOOKS-DONE-{pysecrets.token_hex(4)}"
    fake = FakeOpenAI(default_reply="side reply")
    # The command sleeps so that the turn is still going when the rollout watcher first looks.
    fake.script(codex_shell_call("sleep 6; echo TOOL-OUT-$((6*7))"), reply)
    rig = Rig(tmp, fake, "api.openai.com", ("OPENAI_API_KEY", "sk-proj-"))
    watched, name = None, unique("cx")
    try:
        session = rig.create(name, "run the thing", "--skip-permissions", agent="codex")
        watched = WatchedCodex(rig.home, session["id"])
        config = (rig.home / "agents" / session["id"] / ".codex" / "config.toml").read_text()
        assert 'notify = [\n    "bash",\n    "/home/agent/.clauderon/codex-notify.sh",\n]' in config
        seen, record = rig.watch(name, "waiting-input")
        if HAS_DETAIL:
            assert record["agent_detail"]["question"] == reply
        audit = rig.cli("audit", name, "--limit", "1000", "--json").json()
        notified = [line for line in audit if line.get("path") == "/hooks/codex/notify"]
        # Codex also notified for its session-title turn; that one changed nothing.
        assert len(notified) >= 2 and all(line["status"] == 200 for line in notified), notified
        deadline = time.monotonic() + 60
        while "waiting-input" not in watched.updates and time.monotonic() < deadline:
            time.sleep(0.2)
        assert watched.updates == ["working", "waiting-input"], watched.updates
        assert watched.state.agent_detail == ({"question": reply} if HAS_DETAIL else None)
        print(f"\nstatuses seen: {seen}; from the rollout: {watched.updates}")
    finally:
        if watched is not None:
            watched.stop()
        rig.close()
