"""The fake upstreams, checked against the REAL Claude Code and Codex CLIs run on the host under a pty.

The CLIs come from npm: `CLAUDERON_AGENT_CLI_DIR` names an npm prefix holding them (`npm install --prefix
DIR @anthropic-ai/claude-code @openai/codex`); without it they are installed once (pinned versions) into
`~/.cache/clauderon/agents-test`; the tests skip when neither works (no npm, registry unreachable), and fail
instead under `CI=true`, where a skipped contract check would pass unseen. Only the
native binaries inside the per-platform packages run, so Node is not needed. Each run uses a throwaway HOME
and talks only to a fake on 127.0.0.1, with the argv from `Agent.command` and the config
files from `Agent.write_config`.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import pyte
import pytest
from ptyprocess import PtyProcess

from runtime.agents.base import AgentCommand
from runtime.agents.registry import agent_named
from runtime.models import Session
from tests.fakes import make_test_certificate
from tests.fakes.anthropic import FakeAnthropic, ToolUseReply
from tests.fakes.openai import FakeOpenAI, codex_shell_call, fake_id_token

CLI_CACHE = Path.home() / ".cache" / "clauderon" / "agents-test"
# The versions whose behaviour runtime.agents.claude and runtime.agents.codex were checked against.
CLI_PACKAGES = ("@anthropic-ai/claude-code@2.1.197", "@openai/codex@0.171.0")
PLACEHOLDER_ANTHROPIC_KEY = "sk-ant-api03-clauderon-placeholder-0000000000000000-TESTKEY42"
PLACEHOLDER_OPENAI_KEY = "sk-proj-clauderon-placeholder-00000000000000000000-TESTKEY42"


# -- finding the CLIs ---------------------------------------------------------------------------------


def agent_command(session: Session, **options: Any) -> AgentCommand:
    """The session's agent's command, looked up in the registry as the engine does."""
    return agent_named(session.agent).command(session, **options)


def write_agent_config(agent_home: Path, session: Session, **options: Any) -> list[Path]:
    """The session's agent's config files, looked up in the registry as the engine does."""
    return agent_named(session.agent).write_config(agent_home, session, **options)


def _npm_arch() -> str:
    return {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), "")


def find_native_clis(prefix: Path) -> dict[str, Path]:
    """The native `claude` and `codex` binaries inside an npm prefix (the JS wrappers are not needed)."""
    arch, found = _npm_arch(), {}
    modules = prefix / "node_modules"
    for candidate in (modules / f"@anthropic-ai/claude-code-linux-{arch}/claude",
                      modules / f"@anthropic-ai/claude-code-linux-{arch}-musl/claude"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found["claude"] = candidate
            break
    for candidate in sorted(modules.glob(f"@openai/codex-linux-{arch}/vendor/*/bin/codex")):
        if os.access(candidate, os.X_OK):
            found["codex"] = candidate
            break
    return found


def clis_unavailable(reason: str) -> NoReturn:
    """Skip the real-CLI tests, except under `CI=true`: there they fail, as the docker tests do without Docker."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires the real agent CLIs: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def agent_clis() -> dict[str, Path]:
    return find_or_install_clis()


def find_or_install_clis() -> dict[str, Path]:
    """The native CLIs, from `CLAUDERON_AGENT_CLI_DIR` or installed into the cache (see `clis_unavailable`)."""
    configured = os.environ.get("CLAUDERON_AGENT_CLI_DIR")
    prefix = Path(configured) if configured else CLI_CACHE
    found = find_native_clis(prefix)
    if len(found) < 2 and not configured and shutil.which("npm"):
        prefix.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", *CLI_PACKAGES],
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            clis_unavailable("npm install of the agent CLIs took over 600 s")
        if proc.returncode != 0:
            clis_unavailable(f"npm install of the agent CLIs failed: {proc.stderr.strip()[-200:]}")
        found = find_native_clis(prefix)
    if len(found) < 2:
        clis_unavailable(f"agent CLIs not found under {prefix} (set CLAUDERON_AGENT_CLI_DIR to an npm prefix "
                         "holding them, or install npm)")
    return found


def test_missing_clis_skip_but_fail_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDERON_AGENT_CLI_DIR", str(tmp_path))  # an npm prefix holding nothing
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="agent CLIs not found"):
        find_or_install_clis()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires the real agent CLIs"):
        find_or_install_clis()


# -- a terminal for them ------------------------------------------------------------------------------


class _Screen(pyte.Screen):
    def select_graphic_rendition(self, *attrs: int, private: bool = False) -> None:
        # `CSI > 4 ; 2 m` (xterm's modifyOtherKeys, sent by the Gemini CLI) is no SGR; stock pyte raises on it.
        if not private:
            super().select_graphic_rendition(*attrs)


class PtyScreen:
    """A program under a pty, its output fed to a pyte screen that answers its terminal queries."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, cols: int = 120, rows: int = 40) -> None:
        self.screen = _Screen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.proc = PtyProcess.spawn(argv, env=env, cwd=str(cwd), dimensions=(rows, cols))
        # Ink (Claude Code) waits for answers to cursor-position queries; pyte produces them here.
        self.screen.write_process_input = lambda data: self.proc.write(data.encode())
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        while True:
            try:
                data = self.proc.read(65536)
            except (EOFError, OSError):
                return
            with self._lock:
                self._stream.feed(data)

    def text(self) -> str:
        with self._lock:
            return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 60) -> bool:
        """Poll the screen until `needle` shows (or the program exits, or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            if not self.proc.isalive():
                time.sleep(0.3)
                return needle in self.text()
            time.sleep(0.2)
        return False

    def type_line(self, text: str) -> None:
        """Type `text`, wait for its echo (keys sent before the input box is live are lost), then Enter."""
        for _ in range(3):
            self.proc.write(text.encode())
            if self.wait_for(text, 10):
                break
            self.proc.write(b"\x15")  # ctrl-u: clear whatever part did arrive before typing again
        # Text and Enter in one burst would be taken as a paste with a line break in it.
        time.sleep(0.3)
        self.proc.write(b"\r")

    def close(self) -> None:
        if self.proc.isalive():
            self.proc.terminate(force=True)
        self._reader.join(5)


def _base_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "TMPDIR": str(home / "tmp")}


def _session(agent: str, work: Path, prompt: str) -> Session:
    return Session(name=f"t-{agent}", repo_path=str(work), base_branch="main", branch="b", worktree_path=str(work),
                   backend="local", agent=agent, initial_prompt=prompt, skip_permissions=True,
                   agent_session_id=agent_named(agent).new_conversation_id())


@pytest.fixture
def scratch() -> Path:
    # Not under /tmp: Codex declines to set up its helper aliases under the system temp dir.
    path = Path(tempfile.mkdtemp(prefix="cl-agents-", dir="/var/tmp"))
    (path / "home" / "tmp").mkdir(parents=True)
    (path / "work").mkdir()
    subprocess.run(["git", "init", "-q", str(path / "work")], check=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _tls(scratch: Path) -> tuple[ssl.SSLContext, str]:
    """The fake's server context and the CA file the CLI is told to trust (as the proxy's CA in production)."""
    certificate = make_test_certificate(scratch / "tls", ["localhost"])
    return certificate.server_context(), str(certificate.ca)


def _run(argv: list[str], env: dict[str, str], cwd: Path, needle: str, timeout: float = 60) -> tuple[PtyScreen, bool]:
    term = PtyScreen(argv, env, cwd)
    return term, term.wait_for(needle, timeout)


# -- Claude Code ----------------------------------------------------------------------------------------


def test_claude_turn_tool_call_and_resume(agent_clis: dict[str, Path], scratch: Path) -> None:
    home, work = scratch / "home", scratch / "work"
    server_tls, ca_file = _tls(scratch)
    fake = FakeAnthropic(default_reply="side reply")
    url = fake.start_in_thread(ssl_context=server_tls)  # https, trusted only through NODE_EXTRA_CA_CERTS
    try:
        session = _session("claude", work, "list the files PROMPT-CL-1")
        write_agent_config(home, session, placeholder_key=PLACEHOLDER_ANTHROPIC_KEY, workspace=str(work))
        command = agent_command(session, resume=False, agent_home=home)
        env = {**_base_env(home), **command.env, "ANTHROPIC_BASE_URL": url, "NODE_EXTRA_CA_CERTS": ca_file,
               **agent_named("claude").placeholder_env(PLACEHOLDER_ANTHROPIC_KEY)}
        fake.script(ToolUseReply("Bash", {"command": "echo TOOL-OUT-$((6*7))", "description": "echo"}),
                    "FAKE-CLAUDE-DONE-1")
        term, shown = _run([str(agent_clis["claude"]), *command.argv[1:]], env, work, "FAKE-CLAUDE-DONE-1")
        try:
            assert shown, f"reply not on screen; fake saw {fake.paths()}:\n{term.text()}"
        finally:
            term.close()
        turns = fake.conversation_requests()
        assert "PROMPT-CL-1" in turns[0].text
        assert all(r.header("x-api-key") == PLACEHOLDER_ANTHROPIC_KEY for r in fake.requests_to("/v1/messages"))
        # The turn after the tool call carries its result (Claude Code may add side calls after it).
        results = [block for turn in turns for block in turn.json["messages"][-1]["content"]
                   if isinstance(block, dict) and block.get("type") == "tool_result"]
        assert results and "TOOL-OUT-42" in json.dumps(results[0]["content"])

        # Restart: the same conversation comes back and goes on.
        resumed = agent_command(session, resume=True, agent_home=home)
        assert resumed.argv[-2:] == ["--resume", session.agent_session_id]
        fake.script("FAKE-CLAUDE-RESUMED-2")
        term, shown = _run([str(agent_clis["claude"]), *resumed.argv[1:]], env, work, "FAKE-CLAUDE-DONE-1")
        try:
            assert shown, f"history not shown on resume:\n{term.text()}"
            term.type_line("and now PROMPT-CL-2")
            assert term.wait_for("FAKE-CLAUDE-RESUMED-2", 60), term.text()
        finally:
            term.close()
        last = fake.conversation_requests()[-1]
        assert "PROMPT-CL-1" in last.text and "PROMPT-CL-2" in last.text
        # The resumed turns land in the same transcript, so the next restart resumes them too.
        transcripts = list((home / ".claude" / "projects").glob(f"*/{session.agent_session_id}.jsonl"))
        assert len(transcripts) == 1 and "PROMPT-CL-2" in transcripts[0].read_text()
    finally:
        fake.stop_thread()


def test_claude_oauth_token_goes_out_as_bearer(agent_clis: dict[str, Path], scratch: Path) -> None:
    home, work = scratch / "home", scratch / "work"
    fake = FakeAnthropic(default_reply="FAKE-CLAUDE-OAUTH")
    url = fake.start_in_thread()
    try:
        session = _session("claude", work, "hello PROMPT-OAUTH")
        write_agent_config(home, session, placeholder_key="unused", workspace=str(work), oauth=True)
        command = agent_command(session, resume=False, agent_home=home)
        env = {**_base_env(home), **command.env, "ANTHROPIC_BASE_URL": url,
               **agent_named("claude").placeholder_env("sk-ant-oat01-placeholder", oauth=True)}
        term, shown = _run([str(agent_clis["claude"]), *command.argv[1:]], env, work, "FAKE-CLAUDE-OAUTH")
        try:
            assert shown, f"reply not on screen; fake saw {fake.paths()}:\n{term.text()}"
        finally:
            term.close()
        calls = fake.requests_to("/v1/messages")
        assert calls and all(r.header("Authorization") == "Bearer sk-ant-oat01-placeholder" for r in calls)
        assert all(r.header("x-api-key") is None and "oauth-2025-04-20" in r.header("anthropic-beta") for r in calls)
    finally:
        fake.stop_thread()


# -- Codex ----------------------------------------------------------------------------------------------


def _codex_argv(binary: Path, argv: list[str], url_key: str, url: str) -> list[str]:
    # The base URL goes in as a -c override: in production Codex keeps its default host and the proxy
    # routes it.
    return [str(binary), "-c", f'{url_key}="{url}"', *argv[1:]]


def test_codex_turn_and_resume(agent_clis: dict[str, Path], scratch: Path) -> None:
    home, work = scratch / "home", scratch / "work"
    server_tls, ca_file = _tls(scratch)
    fake = FakeOpenAI(default_reply="FAKE-CODEX-REPLY-1")
    url = fake.start_in_thread(ssl_context=server_tls)  # https, trusted only through SSL_CERT_FILE
    try:
        session = _session("codex", work, "run the thing PROMPT-CX-1")
        write_agent_config(home, session, placeholder_key=PLACEHOLDER_OPENAI_KEY, workspace=str(work))
        command = agent_command(session, resume=False)
        assert "CODEX_HOME" not in command.env  # local: $HOME/.codex, the agent home
        env = {**_base_env(home), **command.env, "SSL_CERT_FILE": ca_file}
        fake.script(codex_shell_call("echo TOOL-OUT-$((6*7))"), "FAKE-CODEX-REPLY-1")
        argv = _codex_argv(agent_clis["codex"], command.argv, "openai_base_url", f"{url}/v1")
        term, shown = _run(argv, env, work, "FAKE-CODEX-REPLY-1")
        try:
            assert shown, f"reply not on screen; fake saw {fake.paths()}:\n{term.text()}"
        finally:
            term.close()
        assert fake.websocket_attempts >= 1  # refused with 426, then the streamed POST
        turns = [r for r in fake.turn_requests() if "PROMPT-CX-1" in r.text]
        assert turns and turns[0].json["stream"] is True
        assert all(r.header("Authorization") == f"Bearer {PLACEHOLDER_OPENAI_KEY}" for r in fake.response_requests())
        outputs = [item for turn in turns for item in turn.json["input"]
                   if item.get("type") == "custom_tool_call_output"]
        assert outputs and "TOOL-OUT-42" in json.dumps(outputs[0]["output"])

        resumed = agent_command(session, resume=True)
        assert resumed.argv[-2:] == ["resume", "--last"]
        fake.default_reply = "FAKE-CODEX-RESUMED-2"
        argv = _codex_argv(agent_clis["codex"], resumed.argv, "openai_base_url", f"{url}/v1")
        term, shown = _run(argv, env, work, "TOOL-OUT-42")
        try:
            assert shown, f"history not shown on resume:\n{term.text()}"
            term.type_line("and now PROMPT-CX-2")
            assert term.wait_for("FAKE-CODEX-RESUMED-2", 60), term.text()
        finally:
            term.close()
        last = [r for r in fake.turn_requests() if "PROMPT-CX-2" in r.text][0]
        assert "PROMPT-CX-1" in last.text
    finally:
        fake.stop_thread()


def test_codex_refreshes_oauth_tokens_at_the_fake(agent_clis: dict[str, Path], scratch: Path) -> None:
    home, work = scratch / "home", scratch / "work"
    fake = FakeOpenAI()
    url = fake.start_in_thread()
    try:
        session = _session("codex", work, "")
        auth = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "last_refresh": "2020-01-01T00:00:00Z",
                "tokens": {"id_token": fake_id_token("acct-placeholder"), "access_token": "placeholder-access",
                           "refresh_token": "placeholder-refresh", "account_id": "acct-placeholder"}}
        write_agent_config(home, session, placeholder_key="unused", workspace=str(work), oauth=True,
                           oauth_file=json.dumps(auth))
        command = agent_command(session, resume=False)
        env = {**_base_env(home), **command.env, "CODEX_REFRESH_TOKEN_URL_OVERRIDE": f"{url}/oauth/token"}
        term = PtyScreen(_codex_argv(agent_clis["codex"], command.argv, "chatgpt_base_url", f"{url}/backend-api/"),
                         env, work)
        try:
            deadline = time.monotonic() + 30
            while not fake.token_requests() and time.monotonic() < deadline and term.proc.isalive():
                time.sleep(0.2)
        finally:
            term.close()
        sent = fake.token_requests()
        assert sent, f"no refresh; fake saw {fake.paths()}"
        assert sent[0].json["grant_type"] == "refresh_token"
        assert sent[0].json["refresh_token"] == "placeholder-refresh"
        stored = json.loads((home / ".codex" / "auth.json").read_text())
        assert stored["tokens"]["refresh_token"] == "fake-refresh-token-1"
    finally:
        fake.stop_thread()


# -- the fakes themselves, over https -------------------------------------------------------------------


async def test_fake_anthropic_streams_sse_over_https(tmp_path: Path) -> None:
    certificate = make_test_certificate(tmp_path, ["api.anthropic.com", "localhost"])
    fake = FakeAnthropic()
    fake.script("scripted text")
    url = await fake.start(ssl_context=certificate.server_context())
    try:
        assert url.startswith("https://127.0.0.1:")
        client_ssl = ssl.create_default_context(cafile=str(certificate.ca))
        body = {"model": "m", "max_tokens": 10, "stream": True, "tools": [{"name": "Bash"}],
                "messages": [{"role": "user", "content": "hi"}]}
        async with aiohttp.ClientSession() as http, http.post(f"{url}/v1/messages", json=body, ssl=client_ssl,
                             headers={"x-api-key": "placeholder"}) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            raw = (await response.read()).decode()
        events = [line.split(": ", 1)[1] for line in raw.splitlines() if line.startswith("event: ")]
        assert events == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                          "content_block_stop", "message_delta", "message_stop"]
        deltas = [json.loads(line[6:])["delta"].get("text", "") for line in raw.splitlines()
                  if line.startswith("data: ") and "text_delta" in line]
        assert "".join(deltas) == "scripted text"
        assert fake.requests[0].header("x-api-key") == "placeholder" and fake.pending() == 0
    finally:
        await fake.stop()


async def test_fake_openai_refuses_websocket_and_streams_responses() -> None:
    fake = FakeOpenAI(default_reply="streamed reply")
    url = await fake.start()
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{url}/v1/responses")
            assert refused.value.status == 426
            async with http.post(f"{url}/v1/responses", json={"model": "m", "stream": True, "input": []}) as response:
                raw = (await response.read()).decode()
        events = [line.split(": ", 1)[1] for line in raw.splitlines() if line.startswith("event: ")]
        assert events[0] == "response.created" and events[-1] == "response.completed"
        assert "response.output_text.delta" in events and "response.output_item.done" in events
        done = [json.loads(line[6:]) for line in raw.splitlines() if '"response.output_item.done"' in line][0]
        assert done["item"]["content"][0]["text"] == "streamed reply"
        assert fake.websocket_attempts == 1
    finally:
        await fake.stop()
