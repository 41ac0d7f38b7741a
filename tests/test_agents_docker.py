"""The REAL Claude Code and Codex CLIs in real containers, through the real engine and proxy, talking to
fake Anthropic / OpenAI upstreams on loopback that `proxy.toml` routes the API hosts to.

The engine holds random real-looking credentials; the container gets placeholders. Each test checks that
the upstream saw the real value (the proxy injected it), that the agent showed the fake's reply on its
screen, and that the real value is nowhere the container or a reader of the home could see it:
`docker inspect`, every process's environment, the container's changed files, the worktree, the agent
home, the audit log, and every file of the home outside `secrets/`.
"""

from __future__ import annotations

import json
import re
import secrets as pysecrets
import shutil
import tempfile
import time
from pathlib import Path

import docker
import pytest

from proxy import PLACEHOLDERS
from runtime.home import Home
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE, run_git
from tests.fakes import make_test_certificate
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI, fake_id_token
from tests.secret_scan import Hit, env_without_credentials, scan_container, scan_tree

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def real_looking(prefix: str) -> str:
    return prefix + pysecrets.token_urlsafe(40)


class Rig:
    """A throwaway home whose proxy routes `hosts` to one fake upstream, with allowlist egress."""

    def __init__(self, tmp: Path, fake, hosts: list[str], env: dict[str, str], credential_set: list[str] = ()) -> None:
        self.tmp = tmp
        self.fake = fake
        cert = make_test_certificate(tmp / "tls", ["localhost"])
        url = fake.start_in_thread(ssl_context=cert.server_context())
        self.home = tmp / "home"
        self.cli = Cli(self.home, image=TEST_AGENT_IMAGE)
        (self.home / "proxy.toml").write_text(
            "[proxy]\n"
            'egress = "allowlist"\n'
            f"allowlist = {json.dumps(hosts)}\n"
            f'upstream_ca_bundle = "{cert.ca}"\n'
            f"credential_set = {json.dumps(list(credential_set))}\n"
            "[routes]\n" + "".join(f'"{h}" = "{url}"\n' for h in hosts)
        )
        self.cli.env = {**env_without_credentials(self.cli.env, tmp), **env}
        self.repo = tmp / "repo"
        self.repo.mkdir()
        run_git(self.repo, "init", "-q", "-b", "main")
        (self.repo / "README.md").write_text("hello\n")
        run_git(self.repo, "add", ".")
        run_git(self.repo, "commit", "-q", "-m", "initial")

    def create(self, name: str, agent: str, prompt: str) -> dict:
        return self.cli("create", "--repo", str(self.repo), "--name", name, "--agent", agent, "--prompt", prompt,
                        "--skip-permissions", "--json", timeout=180).json()

    def container(self, session: dict):
        """The session's container, running or not (labelled with its home and session id)."""
        [found] = docker.from_env().containers.list(all=True, filters={"label": [
            f"clauderon.home={Home(self.home).home_id}", f"clauderon.session={session['id']}"]})
        return found

    def assert_nowhere(self, needles: dict[str, str], *sessions: dict, host_stores: tuple[str, ...] = ()) -> None:
        """The real values are in no place the containers or a reader of the home (outside its secret
        stores) can see."""
        hits: list[Hit] = []
        for session in sessions:
            hits += scan_container(self.container(session), needles)
            hits += scan_tree(Path(session["worktree_path"]), needles)
            agent_home = self.home / "agents" / session["id"]
            assert agent_home.is_dir(), f"no agent home at {agent_home}"
            hits += scan_tree(agent_home, needles)
        audit = self.cli("audit", "--limit", "1000", "--json").out
        assert json.loads(audit), "the audit log is empty: the proxy saw nothing"
        hits += [Hit("clauderon audit", label) for label, value in needles.items() if value in audit]
        hits += scan_tree(self.home, needles, exclude=["secrets", *host_stores])
        assert hits == [], "real credential values visible: " + "; ".join(map(str, hits))

    def close(self) -> None:
        try:
            self.cli.cleanup()
        finally:
            self.fake.stop_thread()


@pytest.fixture
def tmp() -> Path:
    # Not under /tmp: Codex declines to set up its helper aliases under the system temp dir (and the
    # worktree lives under the home). Short, for the engine socket.
    path = Path(tempfile.mkdtemp(prefix="cl-ag-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("variable, prefix, credential", [
    ("ANTHROPIC_API_KEY", "sk-ant-api03-", "anthropic_api_key"),
    ("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-", "anthropic_oauth_token"),
])
def test_real_claude_code_in_a_container_through_the_proxy(tmp: Path, variable: str, prefix: str,
                                                           credential: str) -> None:
    key = real_looking(prefix)
    reply = f"FAKE-CLAUDE-REPLY-{pysecrets.token_hex(4)}"
    fake = FakeAnthropic(default_reply="side reply")
    fake.script(reply)
    rig = Rig(tmp, fake, ["api.anthropic.com"], {variable: key})
    try:
        session = rig.create("cc", "claude", "say hello")
        screen = rig.cli.wait_screen("cc", reply, timeout=240)
        assert "say hello" in screen
        calls = fake.requests_to("/v1/messages")
        assert calls and fake.conversation_requests(), fake.paths()
        assert "say hello" in fake.conversation_requests()[0].text
        # every model call carried the REAL credential, put there by the proxy; the container sent a placeholder
        if credential == "anthropic_api_key":
            assert {r.header("x-api-key") for r in calls} == {key}
            assert all(r.header("authorization") is None for r in calls)
        else:
            assert {r.header("authorization") for r in calls} == {f"Bearer {key}"}
            assert all(r.header("x-api-key") is None for r in calls)
        audit = rig.cli("audit", "cc", "--limit", "1000", "--json").json()
        lines = [row for row in audit if row["path"] == "/v1/messages"]
        assert lines and {row["credential"] for row in lines} == {credential}
        env = rig.container(session).attrs["Config"]["Env"]
        assert f"{variable}={PLACEHOLDERS[credential]}" in env
        rig.assert_nowhere({variable: key}, session)
    finally:
        rig.close()


def test_real_codex_in_a_container_through_the_proxy(tmp: Path) -> None:
    key = real_looking("sk-proj-")
    reply = f"FAKE-CODEX-REPLY-{pysecrets.token_hex(4)}"
    fake = FakeOpenAI(default_reply="side reply")
    fake.script(reply)
    rig = Rig(tmp, fake, ["api.openai.com"], {"OPENAI_API_KEY": key})
    try:
        session = rig.create("cx", "codex", "say hello")
        rig.cli.wait_screen("cx", reply, timeout=240)
        calls = fake.response_requests()
        assert calls, fake.paths()
        assert any("say hello" in r.text for r in fake.turn_requests())
        assert {r.header("authorization") for r in calls} == {f"Bearer {key}"}
        audit = rig.cli("audit", "cx", "--limit", "1000", "--json").json()
        lines = [row for row in audit if row["path"] == "/v1/responses"]
        assert lines and {row["credential"] for row in lines} == {"openai_api_key"}
        rig.assert_nowhere({"OPENAI_API_KEY": key}, session)
    finally:
        rig.close()


def wait_until(condition, timeout: float, what: str):
    """Poll `condition` until it returns something truthy (a deadline for slow machines, not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _json_body(request) -> dict:
    return request.json if isinstance(request.json, dict) else json.loads(request.body)


def test_codex_oauth_token_refresh_through_the_proxy(tmp: Path) -> None:
    """Codex signed in with ChatGPT: containers hold placeholder tokens only. A refresh (the real Codex CLI's
    own at start-up, then one by hand with curl) goes up with the REAL refresh token; the new real tokens
    stay on the host and the container gets placeholders back."""
    tokens = {"CODEX_ACCESS_TOKEN": real_looking("codex-access-"),
              "CODEX_REFRESH_TOKEN": real_looking("codex-refresh-"),
              "CODEX_ID_TOKEN": fake_id_token("acct-test-1")[:-4] + pysecrets.token_urlsafe(24),
              "CODEX_ACCOUNT_ID": "acct-test-1"}
    needles = {k: v for k, v in tokens.items() if k != "CODEX_ACCOUNT_ID"}  # an account id is not a secret
    fake = FakeOpenAI(default_reply="side reply")
    rig = Rig(tmp, fake, ["api.openai.com", "chatgpt.com", "auth.openai.com"], tokens, credential_set=["codex_oauth"])
    try:
        # 1. The real Codex CLI: its auth.json (placeholders, dated 2000) makes it refresh at start.
        codex = rig.create("co", "codex", "say hello")
        agent_auth = rig.home / "agents" / codex["id"] / ".codex" / "auth.json"
        written = json.loads(agent_auth.read_text())
        assert written["tokens"]["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]
        assert written["tokens"]["access_token"] == PLACEHOLDERS["codex_access_token"]
        first = wait_until(fake.token_requests, 120, "Codex's start-up token refresh")[0]
        assert _json_body(first)["refresh_token"] == tokens["CODEX_REFRESH_TOKEN"]
        # Codex saved what it got back: placeholders, never the fake's new real tokens.
        def refreshed_auth() -> dict | None:
            current = json.loads(agent_auth.read_text())
            return current if current["last_refresh"] != written["last_refresh"] else None

        saved = wait_until(refreshed_auth, 60, "Codex to save its refreshed auth.json")
        assert saved["tokens"]["access_token"] == PLACEHOLDERS["codex_access_token"]
        assert saved["tokens"]["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]
        assert saved["tokens"]["id_token"].endswith(".clauderon-placeholder")
        # its later ChatGPT calls carried the refreshed REAL access token, injected by the proxy
        chatgpt_calls = wait_until(lambda: [r for r in fake.requests if r.path.startswith("/backend-api/")], 60,
                                   "Codex's first ChatGPT call after the refresh")
        real_access = {tokens["CODEX_ACCESS_TOKEN"], *(f"fake-access-token-{i}" for i in range(1, fake.refreshes + 1))}
        assert {r.header("authorization") for r in chatgpt_calls} <= {f"Bearer {t}" for t in real_access}
        assert {r.header("chatgpt-account-id") for r in chatgpt_calls} == {"acct-test-1"}

        # 2. By hand from a container: curl with the placeholder from that auth.json.
        shell = rig.create("sh", "shell", "")
        worktree = Path(shell["worktree_path"])
        rig.cli.wait_screen("sh", "/workspace")
        before = fake.refreshes
        body = json.dumps({"grant_type": "refresh_token", "refresh_token": saved["tokens"]["refresh_token"]})
        rig.cli("send", "sh", "--enter", f"curl -sS --max-time 30 -X POST -H 'Content-Type: application/json' "
                f"-d '{body}' -o /workspace/tok.json -w '\\nTOK=%{{http_code}}\\n' https://auth.openai.com/oauth/token")
        screen = wait_until(lambda: re.search(r"TOK=(\d{3})", rig.cli("screen", "sh").out), 60, "the refresh curl")
        assert screen.group(1) == "200"
        n = fake.refreshes
        assert n == before + 1
        assert _json_body(fake.token_requests()[-1])["refresh_token"] == f"fake-refresh-token-{n - 1}"
        got = json.loads((worktree / "tok.json").read_text())
        assert got["access_token"] == PLACEHOLDERS["codex_access_token"]
        assert got["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]
        assert got["id_token"].endswith(".clauderon-placeholder")
        # the new real tokens are on the host only
        stored = json.loads((rig.home / "codex-tokens.json").read_text())["tokens"]
        assert stored["access_token"] == f"fake-access-token-{n}"
        assert stored["refresh_token"] == f"fake-refresh-token-{n}"
        audit = [row for row in rig.cli("audit", "--limit", "1000", "--json").json()
                 if row["path"] == "/oauth/token"]
        assert len(audit) == n and {row["credential"] for row in audit} == {"codex_oauth"}

        # 3. None of the real values, old or new, is anywhere a container or the home (outside its stores) shows.
        refreshed = {f"r{i}-{kind}": f"fake-{kind}-token-{i}"
                     for i in range(1, n + 1) for kind in ("access", "refresh")}
        refreshed["latest id token"] = stored["id_token"]
        rig.assert_nowhere({**needles, **refreshed}, codex, shell, host_stores=("codex-tokens.json",))
    finally:
        rig.close()
