"""Model selection and plan mode with the REAL agent CLIs against the fake upstreams (see
`tests/test_fake_upstreams.py` for where the CLIs come from; skipped without them, failed under `CI=true`).

1. Claude Code as a `local` session of the real engine, created with `clauderon create --model --plan`: the model
   named is the `model` of the conversation requests the fake Anthropic API receives (through the proxy), the CLI
   starts in plan mode although the session bypasses permissions, the engine reads the mode back, `clauderon
   cycle-mode` moves it on (shift+tab) and a restart starts again in plan mode with the same model.
2. Codex under a pty with `Agent.command`'s argv: the model named is the Responses request's `model`, fresh and
   after `resume --last`.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.agents.registry import agent_named
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI
from tests.test_agents_docker import Rig
from tests.test_fake_upstreams import (
    PLACEHOLDER_OPENAI_KEY,
    _base_env,
    _codex_argv,
    _run,
    _session,
    _tls,
    find_or_install_clis,
    write_agent_config,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def clis() -> dict[str, Path]:
    return find_or_install_clis()


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Not under /tmp: Codex declines to set up its helper aliases under the system temp dir.
    path = Path(tempfile.mkdtemp(prefix="cl-opts-", dir="/var/tmp"))
    (path / "home" / "tmp").mkdir(parents=True)
    (path / "work").mkdir()
    subprocess.run(["git", "init", "-q", str(path / "work")], check=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _listed(rig: Rig, name: str) -> dict:
    [shown] = [s for s in rig.cli("list", "--json").json() if s["name"] == name]
    return shown


def _wait_mode(rig: Rig, name: str, mode: str, timeout: float = 60) -> dict:
    """Poll until the engine reports `mode` for the session (a deadline for slow machines, not a speed check)."""
    deadline = time.monotonic() + timeout
    shown = _listed(rig, name)
    while shown.get("permission_mode") != mode and time.monotonic() < deadline:
        time.sleep(0.3)
        shown = _listed(rig, name)
    assert shown.get("permission_mode") == mode, (shown.get("permission_mode"), rig.cli("screen", name).out)
    return shown


def test_claude_model_and_plan_mode_through_the_engine(clis: dict[str, Path], scratch: Path) -> None:
    model = f"claude-clauderon-test-{pysecrets.token_hex(3)}"
    key = "sk-ant-api03-" + pysecrets.token_urlsafe(40)
    fake = FakeAnthropic(default_reply="side reply")
    fake.script("FAKE-PLAN-REPLY-1")
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").symlink_to(clis["claude"])
    host = agent_named("claude").traffic.model_hosts[0]
    rig = Rig(scratch, fake, [host], {"ANTHROPIC_API_KEY": key, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    try:
        session = rig.cli("create", "--repo", str(rig.repo), "--name", "cm", "--agent", "claude", "--backend",
                          "local", "--model", model, "--plan", "--skip-permissions", "--prompt",
                          "say hello PROMPT-MODEL-1", "--json", timeout=180).json()
        assert (session["model"], session["plan_mode"], session["skip_permissions"]) == (model, True, True)
        screen = rig.cli.wait_screen("cm", "FAKE-PLAN-REPLY-1", timeout=180)
        # plan mode although the session bypasses permissions (--dangerously-skip-permissions would win over plan)
        assert "plan mode on" in screen and model in screen, screen
        turns = [r for r in fake.conversation_requests() if "PROMPT-MODEL-1" in r.text]
        assert turns and {r.json["model"] for r in turns} == {model}
        _wait_mode(rig, "cm", "plan")

        # shift+tab through the engine: the CLI's next mode (bypass: the session allows it), read off its screen
        answer = rig.cli("cycle-mode", "cm").out.strip()
        assert answer == "cm: bypassPermissions", answer
        assert "bypass permissions on" in rig.cli("screen", "cm").out
        _wait_mode(rig, "cm", "bypassPermissions")

        # a restart rebuilds the command from the session: the same model, in plan mode again
        rig.cli("restart", "cm", timeout=180)
        rig.cli.wait_screen("cm", "plan mode on", timeout=120)
        _wait_mode(rig, "cm", "plan")
        fake.script("FAKE-PLAN-REPLY-2")
        rig.cli("send", "cm", "--enter", "and again PROMPT-MODEL-2")
        rig.cli.wait_screen("cm", "FAKE-PLAN-REPLY-2", timeout=120)
        again = [r for r in fake.conversation_requests() if "PROMPT-MODEL-2" in r.text]
        assert again and {r.json["model"] for r in again} == {model}
        assert "PROMPT-MODEL-1" in again[-1].text  # the conversation was resumed, not started anew
        assert _listed(rig, "cm")["model"] == model
    finally:
        rig.close()


def test_codex_takes_the_model_fresh_and_on_resume(clis: dict[str, Path], scratch: Path) -> None:
    model = f"gpt-clauderon-test-{pysecrets.token_hex(3)}"
    home, work = scratch / "home", scratch / "work"
    server_tls, ca_file = _tls(scratch)
    fake = FakeOpenAI(default_reply="FAKE-CODEX-MODEL-1")
    url = fake.start_in_thread(ssl_context=server_tls)
    try:
        session = _session("codex", work, "hello PROMPT-CXM-1")
        session.model = model
        write_agent_config(home, session, placeholder_key=PLACEHOLDER_OPENAI_KEY, workspace=str(work))
        codex = agent_named("codex")
        env = {**_base_env(home), **codex.command(session, resume=False).env, "SSL_CERT_FILE": ca_file}
        for resume, prompt, reply in ((False, "PROMPT-CXM-1", "FAKE-CODEX-MODEL-1"),
                                      (True, "PROMPT-CXM-2", "FAKE-CODEX-MODEL-2")):
            fake.default_reply = reply
            argv = _codex_argv(clis["codex"], codex.command(session, resume=resume).argv, "openai_base_url",
                               f"{url}/v1")
            term, shown = _run(argv, env, work, "FAKE-CODEX-MODEL-1")
            try:
                assert shown, f"no reply on screen; fake saw {fake.paths()}:\n{term.text()}"
                if resume:
                    term.type_line(f"and now {prompt}")
                    assert term.wait_for(reply, 60), term.text()
            finally:
                term.close()
            turns = [r for r in fake.turn_requests() if prompt in r.text]
            assert turns and {r.json["model"] for r in turns} == {model}, [r.json.get("model") for r in turns]
    finally:
        fake.stop_thread()
