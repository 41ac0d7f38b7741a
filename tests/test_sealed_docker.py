"""A sealed session, attacked from inside its real container: nothing but the proxy leads out.

The agent's container has no interface but `lo`; clauderon's relay (a static program in an image of its
own) joins that namespace and carries 127.0.0.1:3128 to a unix socket of the engine's. A program that
ignores the proxy variables reaches nothing: not the host's loopback, not DNS.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from proxy import PLACEHOLDERS
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE, run_git
from tests.secret_scan import env_without_credentials
from tests.test_proxy_fixtures import FakeUpstream, make_ca, make_leaf, random_secret

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SESSION = "sealed"


class Canary:
    """An HTTP server on the host's loopback that records anyone who reaches it."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"canary reached\n")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def world():
    tmp = Path(tempfile.mkdtemp(prefix="cl-sl-", dir="/tmp"))
    certs = tmp / "certs"
    certs.mkdir()
    ca_path, ca_key, ca_cert = make_ca(certs, "upstream-ca")
    upstream = FakeUpstream(*make_leaf(certs, ca_key, ca_cert, "upstream"))
    port = upstream.start()
    canary = Canary()
    cli = Cli(tmp / "home", image=TEST_AGENT_IMAGE, network="sealed")
    (cli.home / "proxy.toml").write_text(
        f'[proxy]\nupstream_ca_bundle = "{ca_path}"\ncredential_set = ["github_token"]\n'
        f'[routes]\n"api.github.com" = "https://127.0.0.1:{port}"\n')
    secret = random_secret("ghp_")
    cli.env = {**env_without_credentials(cli.env, tmp), "GITHUB_TOKEN": secret}
    repo = tmp / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-q", "-m", "initial")
    try:
        cli("create", "--repo", str(repo), "--name", SESSION, "--agent", "shell")
        cli.wait_screen(SESSION, "/workspace")
        yield cli, upstream, canary, secret
    finally:
        cli.cleanup()
        upstream.stop()
        canary.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def run_in_session(cli: Cli, command: str, tag: str, timeout: float = 60, name: str = SESSION) -> str:
    """Run `command` in the session's shell; returns what it printed between two markers."""
    cli("send", name, "--enter", f"echo {tag}-start; {command}; echo {tag}-end")
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = cli("screen", name, check=False).out
        found = re.search(rf"^{tag}-start\n(.*?)^{tag}-end", screen, re.S | re.M)
        if found:
            return found.group(1)
        time.sleep(0.3)
    raise AssertionError(f"{tag} never finished:\n{screen}")


def test_the_container_has_no_interface_but_loopback(world) -> None:
    cli, *_ = world
    assert run_in_session(cli, "ls /sys/class/net", "ifaces").split() == ["lo"]


def test_nothing_but_the_proxy_leads_out(world) -> None:
    cli, _, canary, _ = world
    out = run_in_session(
        cli,
        f"curl -s -o /dev/null -w 'direct=%{{http_code}}\\n' --max-time 5 --noproxy '*' "
        f"http://127.0.0.1:{canary.port}/curl; "
        f"(exec 3<>/dev/tcp/127.0.0.1/{canary.port} && echo tcp=open || echo tcp=closed) 2>/dev/null; "
        "getent hosts example.com >/dev/null && echo dns=resolved || echo dns=failed",
        "escape")
    assert "direct=000" in out and "tcp=closed" in out and "dns=failed" in out, out
    assert canary.hits == []


def test_the_proxy_path_works_and_injects_the_real_credential(world) -> None:
    cli, upstream, _, secret = world
    out = run_in_session(
        cli, 'curl -s -w "\\nstatus=%{http_code}\\n" -H "Authorization: Bearer $GITHUB_TOKEN" '
             "https://api.github.com/sealed-path", "proxied")
    assert "status=200" in out, out
    [seen] = [s for s in upstream.seen if s.path == "/sealed-path"]
    assert seen.headers["authorization"] == f"Bearer {secret}"
    env = run_in_session(cli, "echo token=$GITHUB_TOKEN proxy=${HTTPS_PROXY##*@}", "env")
    assert f"token={PLACEHOLDERS['github_token']}" in env and "proxy=127.0.0.1:3128" in env


def test_the_proxy_path_survives_an_engine_restart(world) -> None:
    cli, upstream, _, _ = world
    old = cli.engine_pid()
    cli.kill_engine()
    cli("list")  # a new engine re-adopts the session and serves its socket again
    assert cli.engine_pid() != old
    out = run_in_session(cli, 'curl -s -w "\\nstatus=%{http_code}\\n" https://api.github.com/after-restart', "restart")
    assert "status=200" in out, out
    assert [s for s in upstream.seen if s.path == "/after-restart"]


def test_the_relay_is_clauderons_own_and_locked_down(world) -> None:
    import docker

    client = docker.from_env()
    [relay] = client.containers.list(filters={"name": f"clauderon-{SESSION}-relay"})
    attrs = relay.attrs
    host = attrs["HostConfig"]
    assert relay.image.tags[0].startswith("clauderon-relay:")
    assert host["NetworkMode"].startswith("container:") and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and attrs["Config"]["User"] == "65534:65534"
    assert [m["RW"] for m in attrs["Mounts"]] == [False]
    [agent] = client.containers.list(filters={"name": f"^clauderon-{SESSION}$"})
    assert agent.attrs["HostConfig"]["NetworkMode"] == "none"
    assert json.dumps(agent.attrs["Mounts"]).count("proxy.sock") == 0  # the agent never sees the socket


def test_a_stopped_agent_frees_its_relay_and_restart_brings_both_back(cli, git_repo) -> None:
    """What a Docker daemon restart does to a session (its containers are stopped), done to one agent
    container: the engine marks the session stopped and removes the relay (it would restart for good into
    a namespace that is gone); `clauderon restart` makes both again and the proxy path works."""
    import docker

    client = docker.from_env()
    cli("create", "--repo", str(git_repo), "--name", "halt", "--agent", "shell")
    cli.wait_screen("halt", "/workspace")
    client.containers.get("clauderon-halt").kill()
    deadline = time.monotonic() + 60  # a bound for slow machines, not a speed check
    while time.monotonic() < deadline:
        [record] = cli("list", "--json").json()
        relays = client.containers.list(all=True, filters={"name": "clauderon-halt-relay"})
        if record["status"] == "stopped" and not relays:
            break
        time.sleep(0.5)
    assert record["status"] == "stopped" and relays == [], (record["status"], relays)
    cli("restart", "halt")
    cli.wait_screen("halt", "/workspace")
    assert client.containers.list(filters={"name": "clauderon-halt-relay"})
    out = run_in_session(cli, 'curl -s -o /dev/null -w "status=%{http_code}\\n" --noproxy "" -x "$HTTPS_PROXY" '
                              "http://127.0.0.1:9/", "back", name="halt")
    assert "status=403" in out, out  # the proxy answered (a loopback target is refused there)


BARE_IMAGE = "clauderon-test-bare:latest"


def bare_image() -> str:
    """The test agent image without perl, python or socat (built once, offline, cached by tag)."""
    import io

    import docker

    client = docker.from_env()
    try:
        client.images.get(BARE_IMAGE)
    except docker.errors.ImageNotFound:
        dockerfile = (f"FROM {TEST_AGENT_IMAGE}\nRUN rm -f /usr/bin/perl* /usr/bin/python* /usr/bin/socat "
                      "/usr/bin/nc /bin/nc /usr/bin/ncat\n")
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=BARE_IMAGE, network_mode="none", rm=True)
    return BARE_IMAGE


def test_the_sealed_path_needs_nothing_from_the_agent_image(cli, git_repo) -> None:
    """The relay is clauderon's own: an agent image with nothing but bash, curl and git still gets out."""
    cli("create", "--repo", str(git_repo), "--name", "bare", "--agent", "shell", "--image", bare_image())
    cli.wait_screen("bare", "/workspace")
    tools = run_in_session(cli, "for t in perl python3 socat nc; do command -v $t || echo no-$t; done", "tools",
                           name="bare")
    assert all(f"no-{t}" in tools for t in ("perl", "python3", "socat", "nc")), tools
    out = run_in_session(cli, 'curl -s -o /dev/null -w "status=%{http_code}\\n" --noproxy "" -x "$HTTPS_PROXY" '
                              "http://127.0.0.1:9/", "out", name="bare")
    assert "status=403" in out, out  # answered by the proxy, through the relay
