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
import secrets as pysecrets
import shutil
import tempfile
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
from tests.secret_scan import Hit, scan_container, scan_tree
from tests.test_proxy_docker import clean_env

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def real_looking(prefix: str) -> str:
    return prefix + pysecrets.token_urlsafe(40)


class Rig:
    """A throwaway home whose proxy routes `hosts` to one fake upstream, with allowlist egress."""

    def __init__(self, tmp: Path, fake, hosts: list[str], env: dict[str, str]) -> None:
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
            "[routes]\n" + "".join(f'"{h}" = "{url}"\n' for h in hosts)
        )
        self.cli.env = {**clean_env(self.cli.env, tmp), **env}
        self.repo = tmp / "repo"
        self.repo.mkdir()
        run_git(self.repo, "init", "-q", "-b", "main")
        (self.repo / "README.md").write_text("hello\n")
        run_git(self.repo, "add", ".")
        run_git(self.repo, "commit", "-q", "-m", "initial")

    def create(self, name: str, agent: str, prompt: str) -> dict:
        return self.cli("create", "--repo", str(self.repo), "--name", name, "--agent", agent, "--prompt", prompt,
                        "--skip-permissions", "--json", timeout=180).json()

    def container(self):
        [found] = docker.from_env().containers.list(filters={"label": f"clauderon.home={Home(self.home).home_id}"})
        return found

    def assert_nowhere(self, needles: dict[str, str], session: dict, *, host_stores: tuple[str, ...] = ()) -> None:
        """The real values are in no place the container or a reader of the home (outside its secret
        stores) can see."""
        hits: list[Hit] = scan_container(self.container(), needles)
        hits += scan_tree(Path(session["worktree_path"]), needles)
        agent_home = self.home / "agents" / session["id"]
        assert (agent_home).is_dir(), f"no agent home at {agent_home}"
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


def test_real_claude_code_in_a_container_through_the_proxy(tmp: Path) -> None:
    key = real_looking("sk-ant-api03-")
    reply = f"FAKE-CLAUDE-REPLY-{pysecrets.token_hex(4)}"
    fake = FakeAnthropic(default_reply="side reply")
    fake.script(reply)
    rig = Rig(tmp, fake, ["api.anthropic.com"], {"ANTHROPIC_API_KEY": key})
    try:
        session = rig.create("cc", "claude", "say hello")
        screen = rig.cli.wait_screen("cc", reply, timeout=240)
        assert "say hello" in screen
        calls = fake.requests_to("/v1/messages")
        assert calls and fake.conversation_requests(), fake.paths()
        assert "say hello" in fake.conversation_requests()[0].text
        # every model call carried the REAL key, put there by the proxy; the container sent the placeholder
        assert {r.header("x-api-key") for r in calls} == {key}
        assert all(r.header("authorization") is None for r in calls)
        lines = [l for l in rig.cli("audit", "cc", "--limit", "1000", "--json").json() if l["path"] == "/v1/messages"]
        assert lines and {l["credential"] for l in lines} == {"anthropic_api_key"}
        env = rig.container().attrs["Config"]["Env"]
        assert f"ANTHROPIC_API_KEY={PLACEHOLDERS['anthropic_api_key']}" in env
        rig.assert_nowhere({"ANTHROPIC_API_KEY": key}, session)
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
        lines = [l for l in rig.cli("audit", "cx", "--limit", "1000", "--json").json() if l["path"] == "/v1/responses"]
        assert lines and {l["credential"] for l in lines} == {"openai_api_key"}
        rig.assert_nowhere({"OPENAI_API_KEY": key}, session)
    finally:
        rig.close()


def test_codex_oauth_and_token_refresh_through_the_proxy(tmp: Path) -> None:
    """Codex signed in with ChatGPT: the container holds placeholder tokens; refreshes go through the
    proxy, which sends the real refresh token up and keeps the new real tokens on the host."""
    tokens = {"CODEX_ACCESS_TOKEN": real_looking("codex-access-"), "CODEX_REFRESH_TOKEN": real_looking("codex-refresh-"),
              "CODEX_ID_TOKEN": fake_id_token("acct-test-1")[:-4] + pysecrets.token_urlsafe(24),
              "CODEX_ACCOUNT_ID": "acct-test-1"}
    needles = {k: v for k, v in tokens.items() if k != "CODEX_ACCOUNT_ID"}  # an account id is not a secret
    reply = f"FAKE-CODEX-OAUTH-REPLY-{pysecrets.token_hex(4)}"
    fake = FakeOpenAI(default_reply="side reply")
    fake.script(reply)
    rig = Rig(tmp, fake, ["api.openai.com", "chatgpt.com", "auth.openai.com"], tokens)
    try:
        session = rig.create("co", "codex", "say hello")
        auth = json.loads((rig.home / "agents" / session["id"] / ".codex" / "auth.json").read_text())
        assert auth["tokens"]["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]
        assert auth["tokens"]["access_token"] == PLACEHOLDERS["codex_access_token"]

        # Codex itself, holding placeholders only, gets its answer: the proxy injects the real access token.
        rig.cli.wait_screen("co", reply, timeout=240)
        calls = fake.response_requests()
        assert calls, fake.paths()
        real_access = {tokens["CODEX_ACCESS_TOKEN"], *(f"fake-access-token-{i}" for i in range(1, fake.refreshes + 1))}
        assert {r.header("authorization") for r in calls} <= {f"Bearer {t}" for t in real_access}
        assert {r.header("chatgpt-account-id") for r in calls} == {"acct-test-1"}
        # Codex's own start-up refreshes (its auth.json says it is old) went up with the real refresh token.
        for i, sent in enumerate(fake.token_requests()):
            assert sent.json["refresh_token"] == (tokens["CODEX_REFRESH_TOKEN"] if i == 0 else f"fake-refresh-token-{i}")

        # A refresh from inside the container, with the placeholder it was given.
        before = fake.refreshes
        body = json.dumps({"client_id": "app_test", "grant_type": "refresh_token",
                           "refresh_token": auth["tokens"]["refresh_token"]})
        code, out = rig.container().exec_run(
            ["curl", "-sS", "--max-time", "30", "-X", "POST", "-H", "Content-Type: application/json", "-d", body,
             "https://auth.openai.com/oauth/token"])
        assert code == 0, out
        got = json.loads(out)
        n = fake.refreshes
        assert n == before + 1
        sent = fake.token_requests()[-1]
        assert sent.json["refresh_token"] == (tokens["CODEX_REFRESH_TOKEN"] if n == 1 else f"fake-refresh-token-{n - 1}")
        # the container got placeholders back, never the new real tokens
        assert got["access_token"] == PLACEHOLDERS["codex_access_token"]
        assert got["refresh_token"] == PLACEHOLDERS["codex_refresh_token"]
        assert got["id_token"].endswith(".clauderon-placeholder")
        # the new real tokens are kept on the host only
        stored = json.loads((rig.home / "codex-tokens.json").read_text())["tokens"]
        assert stored["access_token"] == f"fake-access-token-{n}"
        assert stored["refresh_token"] == f"fake-refresh-token-{n}"
        refreshed = {f"r{i}-{kind}": f"fake-{kind}-token-{i}" for i in range(1, n + 1) for kind in ("access", "refresh")}
        refreshed["latest id token"] = stored["id_token"]
        rig.assert_nowhere({**needles, **refreshed}, session, host_stores=("codex-tokens.json",))
    finally:
        rig.close()
