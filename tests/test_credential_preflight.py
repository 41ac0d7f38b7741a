"""An agent without a credential for its model (issue 18), through the real CLI and engine.

1. `clauderon create` makes a `claude` session by default, and refuses one whose agent has no credential on the
   host with one line naming the credentials (any one will do) and the three ways to provide one, leaving
   nothing behind; a credential file added while the engine runs is found at the next create.
2. Created anyway (`--no-credential-check`), the REAL Claude Code, Codex and Gemini CLI in real containers get a
   401 from the proxy for their model calls, in their API's error shape, and show its message; the session's
   agent_status is `error` with that reason, and the fake upstream receives nothing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from runtime.agents.registry import agent_named
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import DEFAULT_AGENT_ENV, TEST_AGENT_IMAGE, TEST_GEMINI_IMAGE, run_git
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.secret_scan import env_without_credentials
from tests.test_agents_docker import Rig as AllowlistRig
from tests.test_hooks_docker import Rig, tmp, unique  # noqa: F401 - `tmp` is a fixture

CLAUDE_NEEDS = ("claude needs anthropic_oauth_token or anthropic_api_key: "
                "set CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY")


def _bare_cli(home: Path, scratch: Path) -> Cli:
    """The CLI on a home whose engine sees no credential, and with the product's default agent."""
    cli = Cli(home, image="unused")
    cli.env = {k: v for k, v in env_without_credentials(cli.env, scratch).items() if k != DEFAULT_AGENT_ENV}
    return cli


@pytest.mark.timeout(300)
def test_create_defaults_to_claude_and_refuses_it_without_a_credential_leaving_nothing(
        short_tmp: Path, git_repo: Path) -> None:
    cli = _bare_cli(short_tmp / "home", short_tmp)
    try:
        rows = {r["key"]: r for r in cli("config", "show", "--json").json()}
        assert (rows["session.agent"]["value"], rows["session.agent"]["source"]) == ("claude", "default")
        refused = cli("create", "--repo", str(git_repo), "--name", "c1", "--backend", "local", "--prompt", "hi",
                      check=False)
        secrets = Home(cli.home).secrets
        assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1, refused.err
        assert refused.err.strip() == (
            f"clauderon: {CLAUDE_NEEDS}, or add an op:// reference under [onepassword.credentials] in proxy.toml, "
            f"or put it in {secrets / 'anthropic_api_key'} (chmod 600); --no-credential-check skips this")
        # nothing half-created: no record, worktree, agent home or branch
        assert cli("list", "--all", "--json").json() == []
        assert not (cli.home / "worktrees" / "c1").exists()
        assert not (cli.home / "agents").exists() or not any((cli.home / "agents").iterdir())
        assert run_git(git_repo, "branch", "--list", "clauderon/*").strip() == ""
        status = json.loads(cli("engine", "status", "--json").out)
        problems = {name: a["credential_problem"] for name, a in status["agents"].items()}
        assert problems["claude"] == agent_named("claude").credential_problem([], secrets)
        assert problems["shell"] is None

        # The advice works without restarting the engine: a key put in secrets/ is found at the next create,
        # which then goes on to its next check (an image that is not there: nothing is launched).
        (secrets / "anthropic_api_key").write_text("sk-ant-api03-" + "k" * 40)
        os.chmod(secrets / "anthropic_api_key", 0o600)
        passed = cli("create", "--repo", str(git_repo), "--name", "c2", "--backend", "local", "--prompt", "hi",
                     "--image-file", str(short_tmp / "missing.png"), check=False)
        assert passed.code == 1 and "needs" not in passed.err and "missing.png" in passed.err, passed.err
        status = json.loads(cli("engine", "status", "--json").out)
        assert status["agents"]["claude"]["credential_problem"] is None
    finally:
        cli.cleanup()


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_real_codex_without_a_credential_shows_what_to_set(tmp: Path) -> None:  # noqa: F811
    """Codex takes its ChatGPT sign-in or an OpenAI API key: without either, its calls get OpenAI's error shape."""
    fake = FakeOpenAI(default_reply="FAKE-MUST-NOT-ANSWER")
    rig = Rig(tmp, fake, "api.openai.com", ("OPENAI_API_KEY", "sk-proj-"))
    rig.cli.env = env_without_credentials(rig.cli.env, tmp)
    try:
        refused = rig.cli("create", "--repo", str(rig.repo), "--name", "nocred", "--agent", "codex",
                          "--prompt", "hello", check=False)
        assert refused.code == 1 and "codex needs codex_oauth or openai_api_key: sign in with `codex login`" \
            in refused.err, refused.err
        session = rig.create(unique("cxnocred"), "say hello", "--skip-permissions", "--no-credential-check",
                             agent="codex")
        _, record = rig.watch(session["name"], "error")
        assert record["agent_detail"]["reason"].startswith(
            "clauderon holds no codex_oauth or openai_api_key for this session, so api.openai.com was not called")
        deadline = time.monotonic() + 120
        shown = ""
        while time.monotonic() < deadline and "clauderon holds no" not in shown:
            shown = " ".join(rig.cli("screen", session["name"]).out.split())
            time.sleep(0.5)
        assert "clauderon holds no codex_oauth or openai_api_key" in shown, shown
        assert fake.requests == [], fake.paths()
    finally:
        rig.close()


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_real_gemini_cli_without_a_credential_shows_what_to_set(short_tmp: Path) -> None:
    """Google's error shape: the Gemini CLI in its sealed container shows the proxy's words."""
    fake = FakeGemini(default_reply="FAKE-MUST-NOT-ANSWER")
    host = agent_named("gemini").traffic.model_hosts[0]
    rig = AllowlistRig(short_tmp, fake, [host], {})
    config = rig.home / "config.toml"
    config.write_text(config.read_text().replace(TEST_AGENT_IMAGE, TEST_GEMINI_IMAGE))
    try:
        refused = rig.cli("create", "--repo", str(rig.repo), "--name", "nocred", "--agent", "gemini",
                          "--prompt", "hello", check=False)
        assert refused.code == 1 and "gemini needs gemini_api_key: set GEMINI_API_KEY" in refused.err, refused.err
        rig.cli("create", "--repo", str(rig.repo), "--name", "gm", "--agent", "gemini", "--prompt", "say hello",
                "--skip-permissions", "--no-credential-check", timeout=180)
        deadline = time.monotonic() + 180
        shown = ""
        while time.monotonic() < deadline and "clauderon holds no" not in shown:
            shown = " ".join(rig.cli("screen", "gm").out.split())
            time.sleep(0.5)
        assert "clauderon holds no gemini_api_key for this session" in shown, shown
        [record] = rig.cli("list", "--json").json()
        assert record["agent_status"] == "error", record
        assert record["agent_detail"]["reason"].startswith("clauderon holds no gemini_api_key for this session")
        assert fake.requests == [], fake.paths()
    finally:
        rig.close()


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_real_claude_code_without_a_credential_shows_what_to_set_and_the_session_is_in_error(tmp: Path) -> None:  # noqa: F811
    fake = FakeAnthropic(default_reply="FAKE-MUST-NOT-ANSWER")
    rig = Rig(tmp, fake)
    rig.cli.env = env_without_credentials(rig.cli.env, tmp)  # the Rig's random key goes: the host has none
    try:
        refused = rig.cli("create", "--repo", str(rig.repo), "--name", "nocred", "--agent", "claude",
                          "--prompt", "hello", check=False)
        assert refused.code == 1 and CLAUDE_NEEDS in refused.err
        session = rig.create(unique("nocred"), "say hello PROMPT-NOCRED", "--skip-permissions",
                             "--no-credential-check")
        _, record = rig.watch(session["name"], "error")
        reason = record["agent_detail"]["reason"]
        assert reason.startswith("clauderon holds no anthropic_oauth_token or anthropic_api_key for this session, "
                                 "so api.anthropic.com was not called: "
                                 "set CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY")
        # Claude Code shows the proxy's message (its words wrap with the terminal: compare without the breaks)
        deadline = time.monotonic() + 120
        shown = ""
        while time.monotonic() < deadline and "clauderon holds no" not in shown:
            shown = " ".join(rig.cli("screen", session["name"]).out.split())
            time.sleep(0.5)
        assert "clauderon holds no anthropic_oauth_token or anthropic_api_key" in shown, shown
        assert "CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY" in shown, shown
        assert fake.requests == [], fake.paths()  # the upstream never heard of it
        audit = [line for line in rig.cli("audit", session["name"], "--json").json()
                 if line["host"] == "api.anthropic.com"]
        assert audit and {(line["status"], line["blocked"]) for line in audit} == {(401, "no_credential")}
        # Claude Code's own StopFailure hook ("authentication_failed") came meanwhile: the reason stays the proxy's
        [record] = [s for s in rig.cli("list", "--json").json() if s["name"] == session["name"]]
        assert record["agent_status"] == "error" and record["agent_detail"]["reason"] == reason
    finally:
        rig.close()
