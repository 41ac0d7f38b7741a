"""Print mode end to end: `clauderon create --print --json` with the REAL Claude Code and Codex CLIs in real,
sealed containers, against the fake upstreams on loopback (routed to by `proxy.toml`).

The run's JSON answer is exactly name, exit_status, result and transcript; the result is the fake's scripted
answer; the sandbox is gone when the command returns while the worktree, the agent home's transcript and the
outcome on the session stay (also across an engine restart). An upstream that answers an error makes the run
fail: a nonzero exit status, the CLI's own exit status 1, and a result that says why.
"""

from __future__ import annotations

import secrets as pysecrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import pytest

from runtime.agents.registry import agent_named
from tests.conftest import TEST_AGENT_IMAGE, TEST_GEMINI_IMAGE
from tests.fakes.anthropic import ErrorReply, FakeAnthropic, ToolUseReply
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.secret_scan import scan_tree
from tests.test_agents_docker import Rig as AllowlistRig
from tests.test_hooks_docker import Rig, tmp, unique  # noqa: F401 - `tmp` is a fixture

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

KEYS = {"exit_status", "name", "result", "transcript"}


def run_print(rig: Rig, name: str, agent: str, prompt: str):
    return rig.cli("create", "--repo", str(rig.repo), "--name", name, "--agent", agent, "--prompt", prompt,
                   "--print", "--json", timeout=300, check=False)


def containers_of(name: str) -> list[str]:
    """Every container (agent or relay) of the session, running or not."""
    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(all=True) if c.name.startswith(f"clauderon-{name}")]
    finally:
        client.close()


def session_record(rig: Rig, name: str) -> dict:
    [record] = [s for s in rig.cli("list", "--json").json() if s["name"] == name]
    return record


def test_claude_print_run_returns_the_answer_and_removes_the_sandbox(tmp: Path) -> None:  # noqa: F811
    answer = f"PRINT-ANSWER-{pysecrets.token_hex(4)}"
    fake = FakeAnthropic(default_reply="side reply")
    fake.script(answer)
    rig = Rig(tmp, fake)
    name = unique("pr")
    try:
        ran = run_print(rig, name, "claude", "answer the question")
        assert ran.code == 0, (ran.out, ran.err)
        report = ran.json()
        assert set(report) == KEYS and report["name"] == name
        assert report["exit_status"] == 0 and report["result"] == answer
        assert containers_of(name) == []  # the sandbox (and its relay) went when the run ended
        # The prompt reached the model as the user's turn, through the proxy with the placeholder key only.
        [turn] = fake.conversation_requests()
        assert "answer the question" in turn.text
        record = session_record(rig, name)
        assert record["status"] == "stopped" and record["backend_id"] is None
        assert record["print_run"]["result"] == answer and record["network_mode"] in ("auto", "sealed")
        # The transcript stays in the agent home, readable through the transcript route.
        transcript = rig.home / "agents" / record["id"] / report["transcript"]
        assert transcript.is_file() and answer in transcript.read_text()
        assert Path(record["worktree_path"]).is_dir()

        # The outcome is kept on the session: a new engine shows the same.
        rig.cli.kill_engine()
        again = session_record(rig, name)
        assert again["print_run"] == record["print_run"] and again["status"] == "stopped"
        refused = rig.cli("restart", name, check=False)
        assert refused.code == 1 and "print run" in refused.err
    finally:
        rig.close()


def test_claude_print_run_that_fails_says_why(tmp: Path) -> None:  # noqa: F811
    fake = FakeAnthropic(default_reply="side reply")
    fake.script(ErrorReply("PRINT-UPSTREAM-REFUSED by the fake"))
    rig = Rig(tmp, fake)
    name = unique("pf")
    try:
        ran = run_print(rig, name, "claude", "this will fail")
        assert ran.code == 1, (ran.out, ran.err)
        report = ran.json()
        assert set(report) == KEYS
        assert report["exit_status"] not in (0, None), report
        assert "PRINT-UPSTREAM-REFUSED" in report["result"], report
        assert containers_of(name) == []
        # Without --json: the result on stdout, the failure on stderr, exit 1.
        fake.script(ErrorReply("PRINT-UPSTREAM-REFUSED again"))
        plain = rig.cli("create", "--repo", str(rig.repo), "--name", unique("pg"), "--agent", "claude",
                        "--prompt", "fail again", "--print", timeout=300, check=False)
        assert plain.code == 1 and "PRINT-UPSTREAM-REFUSED again" in plain.out
        assert "failed (exit status" in plain.err
    finally:
        rig.close()


def test_codex_exec_print_run(tmp: Path) -> None:  # noqa: F811
    answer = f"CODEX-PRINT-{pysecrets.token_hex(4)}"
    fake = FakeOpenAI(default_reply="side reply")
    fake.script(answer)
    rig = Rig(tmp, fake, "api.openai.com", ("OPENAI_API_KEY", "sk-proj-"))
    name = unique("pc")
    try:
        ran = run_print(rig, name, "codex", "answer in one word")
        assert ran.code == 0, (ran.out, ran.err)
        report = ran.json()
        assert set(report) == KEYS and report["exit_status"] == 0 and report["result"] == answer
        assert report["transcript"].startswith(".codex/sessions/")
        assert containers_of(name) == []
        assert any("answer in one word" in r.text for r in fake.turn_requests())
    finally:
        rig.close()


def test_the_shell_agent_has_no_print_mode(tmp: Path) -> None:  # noqa: F811
    rig = Rig(tmp, FakeAnthropic())
    name = unique("ps")
    try:
        ran = run_print(rig, name, "shell", "ls")
        assert ran.code == 1 and "the shell agent has no print mode; use --agent claude or codex or gemini" in ran.err
        assert not [s for s in rig.cli("list", "--json").json() if s["name"] == name]
        assert containers_of(name) == []
    finally:
        rig.close()


def test_gemini_print_run_under_an_allowlist_with_no_real_key_inside() -> None:
    key = "AIza" + pysecrets.token_urlsafe(30)
    answer = f"GEMINI-PRINT-{pysecrets.token_hex(4)}"
    fake = FakeGemini(default_reply="side reply")
    fake.script(answer)
    host = agent_named("gemini").traffic.model_hosts[0]
    scratch = Path(tempfile.mkdtemp(prefix="cl-pg-", dir="/var/tmp"))  # short: the engine socket lives under it
    rig = AllowlistRig(scratch, fake, [host], {"GEMINI_API_KEY": key})
    config = rig.home / "config.toml"
    config.write_text(config.read_text().replace(TEST_AGENT_IMAGE, TEST_GEMINI_IMAGE))
    name = unique("pm")
    try:
        ran = rig.cli("create", "--repo", str(rig.repo), "--name", name, "--agent", "gemini", "--prompt",
                      "-say it PROMPT-GEMINI-PRINT", "--print", "--json", timeout=300, check=False)
        assert ran.code == 0, (ran.out, ran.err)
        report = ran.json()
        assert set(report) == KEYS and report["exit_status"] == 0 and report["result"] == answer
        assert report["transcript"].startswith(".gemini/tmp/")
        assert containers_of(name) == []
        assert any("PROMPT-GEMINI-PRINT" in r.text for r in fake.turn_requests())
        assert {r.header("x-goog-api-key") for r in fake.model_requests()} == {key}  # injected by the proxy
        # The real key is nowhere in the session's worktree, agent home (transcript included) or the home's
        # readable files; the container that ran is gone (the sealed tests scan live ones).
        record = session_record(rig, name)
        needles = {"GEMINI_API_KEY": key}
        hits = [*scan_tree(Path(record["worktree_path"]), needles),
                *scan_tree(rig.home, needles, exclude=["secrets"])]
        assert hits == [] and key not in ran.out
    finally:
        rig.close()
        shutil.rmtree(scratch, ignore_errors=True)


def test_a_run_cut_off_by_an_engine_restart_is_finished_as_such(tmp: Path) -> None:  # noqa: F811
    fake = FakeAnthropic(default_reply="side reply")
    # The run is still going (its tool sleeps) when the engine is killed.
    fake.script(ToolUseReply("Bash", {"command": "sleep 60", "description": "wait"}), "never seen")
    rig = Rig(tmp, fake)
    name = unique("pk")
    waiting = subprocess.Popen(
        [sys.executable, "-m", "clauderon_tui.cli", "create", "--repo", str(rig.repo), "--name", name, "--agent",
         "claude", "--prompt", "wait a minute", "--print", "--json"], env=rig.cli.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not fake.conversation_requests() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert fake.conversation_requests(), "the run never reached the model"
        assert containers_of(name), "the sandbox should be running during the run"
        rig.cli.kill_engine()
        waiting.wait(timeout=60)
        assert waiting.returncode != 0  # the waiting CLI lost its engine: it says so instead of a result
        record = session_record(rig, name)  # starts a new engine, which finishes the run as cut off
        run = record["print_run"]
        assert run["exit_status"] is None and "engine stopped during the print run" in run["result"], run
        assert record["status"] == "stopped" and containers_of(name) == []
    finally:
        if waiting.poll() is None:
            waiting.kill()
        waiting.communicate()
        rig.close()
