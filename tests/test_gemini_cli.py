"""The REAL Gemini CLI (`@google/gemini-cli`, pinned) on the host under a pty, against the fake Gemini API.

1. Directly (`GOOGLE_GEMINI_BASE_URL` pointing at the fake over https, trusted through `NODE_EXTRA_CA_CERTS`):
   a turn with a tool call, then a restart that resumes the same conversation; the argv comes from
   `Agent.command`, the settings from `Agent.write_config`, and the transcript it leaves parses.
2. Through clauderon: a `local` session of the real engine, whose proxy routes the Gemini API host to the fake
   (and, with Docker, a sealed container of the test Gemini image: `python -m tests.images` builds it).
   The engine holds a random real-looking `GEMINI_API_KEY`; the agent gets the placeholder; the fake must see
   the real key (injected by the proxy), the status hooks must reach the engine, and the real key must be
   nowhere the agent could read it: its environment (every process of it), its home, the worktree, the
   audit log, the clauderon home outside `secrets/`.

The CLI is a Node script bundle that needs Node >= 20. It comes from `CLAUDERON_AGENT_CLI_DIR` (an npm prefix
holding `@google/gemini-cli`) or is installed once into `~/.cache/clauderon/agents-test`; the tests skip
without it (no npm, registry unreachable, Node too old) and fail instead under `CI=true`.
"""

from __future__ import annotations

import json
import os
import re
import secrets as pysecrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy import HOOKS_HOST, PLACEHOLDERS
from runtime.agents.registry import agent_named
from runtime.agents.transcripts import parse_file
from runtime.models import Session
from tests.conftest import TEST_AGENT_IMAGE, TEST_GEMINI_IMAGE
from tests.fakes import make_test_certificate
from tests.fakes.gemini import FakeGemini, shell_call
from tests.secret_scan import Hit, scan_bytes, scan_tree
from tests.test_agents_docker import Rig
from tests.test_fake_upstreams import CLI_CACHE, PtyScreen, clis_unavailable

pytestmark = pytest.mark.timeout(600)

GEMINI_PACKAGE = "@google/gemini-cli@0.61.0"  # the version runtime.agents.gemini was checked against
GEMINI_SCRIPT = "node_modules/@google/gemini-cli/bundle/gemini.js"
MIN_NODE = 20
PLACEHOLDER_KEY = "clauderon-placeholder-gemini-test-key-42"


# -- finding the CLI --------------------------------------------------------------------------------------


def node_major(node: str) -> int:
    """The major version of the `node` binary (0 when it does not answer)."""
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.match(r"v(\d+)\.", out.strip())
    return int(match.group(1)) if match else 0


def find_or_install_gemini() -> tuple[str, Path]:
    """(node, gemini.js): from `CLAUDERON_AGENT_CLI_DIR` or installed into the cache (see `clis_unavailable`)."""
    node = shutil.which("node")
    if node is None or node_major(node) < MIN_NODE:
        found = f"node {node_major(node)}" if node else "no node"
        clis_unavailable(f"the Gemini CLI needs Node >= {MIN_NODE} on PATH ({found})")
    configured = os.environ.get("CLAUDERON_AGENT_CLI_DIR")
    prefix = Path(configured) if configured else CLI_CACHE
    script = prefix / GEMINI_SCRIPT
    if not script.is_file() and not configured and shutil.which("npm"):
        prefix.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                                   GEMINI_PACKAGE], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            clis_unavailable("npm install of the Gemini CLI took over 600 s")
        if proc.returncode != 0:
            clis_unavailable(f"npm install of the Gemini CLI failed: {proc.stderr.strip()[-200:]}")
    if not script.is_file():
        clis_unavailable(f"the Gemini CLI is not under {prefix} (set CLAUDERON_AGENT_CLI_DIR to an npm prefix "
                         "holding it, or install npm)")
    return node, script


@pytest.fixture(scope="module")
def gemini_cli() -> tuple[str, Path]:
    return find_or_install_gemini()


def test_a_missing_gemini_cli_skips_but_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("node") is None or node_major(shutil.which("node") or "") < MIN_NODE:
        pytest.skip("no Node >= 20 here: the test below would stop at the Node check")
    monkeypatch.setenv("CLAUDERON_AGENT_CLI_DIR", str(tmp_path))  # an npm prefix holding nothing
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Gemini CLI is not under"):
        find_or_install_gemini()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires the real agent CLIs"):
        find_or_install_gemini()


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="cl-gem-", dir="/var/tmp"))
    (path / "home" / "tmp").mkdir(parents=True)
    (path / "work").mkdir()
    subprocess.run(["git", "init", "-q", str(path / "work")], check=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _session(work: Path, prompt: str) -> Session:
    return Session(name="t-gemini", repo_path=str(work), base_branch="main", branch="b", worktree_path=str(work),
                   backend="local", agent="gemini", initial_prompt=prompt, skip_permissions=True,
                   agent_session_id=agent_named("gemini").new_conversation_id())


# -- 1. directly ------------------------------------------------------------------------------------------


def test_gemini_turn_tool_call_resume_and_transcript(gemini_cli: tuple[str, Path], scratch: Path) -> None:
    node, script = gemini_cli
    home, work = scratch / "home", scratch / "work"
    certificate = make_test_certificate(scratch / "tls", ["localhost"])
    fake = FakeGemini(default_reply="side reply")
    url = fake.start_in_thread(ssl_context=certificate.server_context())
    gemini = agent_named("gemini")
    try:
        session = _session(work, "-list the files PROMPT-GM-1")  # a leading "-" stays the prompt
        gemini.write_config(home, session, placeholder_key=PLACEHOLDER_KEY, workspace=str(work))
        command = gemini.command(session, resume=False, agent_home=home)
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8",
               "TMPDIR": str(home / "tmp"), **command.env, "GOOGLE_GEMINI_BASE_URL": url,
               "NODE_EXTRA_CA_CERTS": str(certificate.ca), **gemini.placeholder_env(PLACEHOLDER_KEY)}
        fake.script(shell_call("echo TOOL-OUT-42"), "FAKE-GEMINI-DONE-1")
        term = PtyScreen([node, str(script), *command.argv[1:]], env, work)
        try:
            shown = term.wait_for("FAKE-GEMINI-DONE-1", 90)
            assert shown, f"reply not on screen; fake saw {fake.paths()}:\n{term.text()}"
        finally:
            term.close()
        turns = fake.turn_requests()
        assert "PROMPT-GM-1" in turns[0].text and turns[0].query.get("alt") == "sse"
        assert {r.header("x-goog-api-key") for r in fake.model_requests()} == {PLACEHOLDER_KEY}
        results = [part["functionResponse"] for turn in turns for content in turn.json["contents"]
                   for part in content["parts"] if "functionResponse" in part]
        assert results and "TOOL-OUT-42" in json.dumps(results[0]["response"])

        # The transcript is where the agent says, and reads as a conversation.
        [transcript] = gemini.find_transcripts(home, session.agent_session_id)
        messages = parse_file(transcript, gemini.parse_transcript_line).messages
        assert [m.kind for m in messages] == ["user", "tool_call", "assistant"]
        assert "PROMPT-GM-1" in messages[0].text and "TOOL-OUT-42" in (messages[1].result or "")

        # Restart: the same conversation comes back and goes on.
        resumed = gemini.command(session, resume=True, agent_home=home)
        assert resumed.argv[-2:] == ["--resume", session.agent_session_id]
        fake.script("FAKE-GEMINI-RESUMED-2")
        term = PtyScreen([node, str(script), *resumed.argv[1:]], env, work)
        try:
            assert term.wait_for("FAKE-GEMINI-DONE-1", 60), f"history not shown on resume:\n{term.text()}"
            term.type_line("and now PROMPT-GM-2")
            assert term.wait_for("FAKE-GEMINI-RESUMED-2", 60), term.text()
        finally:
            term.close()
        last = fake.turn_requests()[-1]
        assert "PROMPT-GM-1" in last.text and "PROMPT-GM-2" in last.text
        assert gemini.find_transcripts(home, session.agent_session_id) == [transcript]
        assert "PROMPT-GM-2" in transcript.read_text()
    finally:
        fake.stop_thread()


# -- 2. through clauderon's engine and proxy ----------------------------------------------------------------


def _process_tree(root: int) -> list[int]:
    """`root` and its descendants (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def _scan_processes(root: int, needles: dict[str, str]) -> list[Hit]:
    hits: list[Hit] = []
    for pid in _process_tree(root):
        for view in ("environ", "cmdline"):
            try:
                data = Path(f"/proc/{pid}/{view}").read_bytes()
            except OSError:
                continue
            hits += scan_bytes(data, needles, f"/proc/{pid}/{view}")
    return hits


def test_gemini_as_a_local_session_through_the_proxy(gemini_cli: tuple[str, Path], scratch: Path) -> None:
    node, script = gemini_cli
    key = "AIza" + pysecrets.token_urlsafe(30)
    reply = f"FAKE-GEMINI-REPLY-{pysecrets.token_hex(4)}"
    fake = FakeGemini(default_reply="side reply")
    fake.script(shell_call("echo TOOL-OUT-42"), reply)
    # `gemini` on the engine's PATH, with a Node >= 20 before any other.
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    (bin_dir / "gemini").symlink_to(script)
    (bin_dir / "node").symlink_to(node)
    host = agent_named("gemini").traffic.model_hosts[0]
    rig = Rig(scratch, fake, [host], {"GEMINI_API_KEY": key, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    # An empty allowlist: the model host is reached by the agent's traffic alone, the status hooks by the proxy's
    # own hooks host, which no allowlist cuts off.
    proxy_toml = rig.home / "proxy.toml"
    proxy_toml.write_text(proxy_toml.read_text().replace(f'allowlist = ["{host}"]', "allowlist = []"))
    try:
        session = rig.cli("create", "--repo", str(rig.repo), "--name", "gm", "--agent", "gemini", "--backend", "local",
                          "--prompt", "say hello PROMPT-LOCAL", "--skip-permissions", "--json", timeout=180).json()
        screen = rig.cli.wait_screen("gm", reply, timeout=180)
        assert "PROMPT-LOCAL" in screen
        calls = fake.model_requests()
        assert calls and any("PROMPT-LOCAL" in r.text for r in fake.turn_requests()), fake.paths()
        # every model call carried the REAL key, put there by the proxy; the agent sent the placeholder
        assert {r.header("x-goog-api-key") for r in calls} == {key}
        lines = [line for line in rig.cli("audit", "gm", "--limit", "1000", "--json").json()
                 if line["host"] == host]
        assert lines and {line["credential"] for line in lines} == {"gemini_api_key"}
        # the status hooks came back through the proxy: the turn ended, waiting for the user
        deadline = time.monotonic() + 60
        shown: dict[str, object] = {}
        while time.monotonic() < deadline:
            [shown] = [s for s in rig.cli("list", "--json").json() if s["name"] == "gm"]
            if shown.get("agent_status") == "waiting-input":
                break
            time.sleep(0.5)
        audit_lines = rig.cli("audit", "gm", "--limit", "1000", "--json").json()
        assert shown.get("agent_status") == "waiting-input", (
            shown, [(a["host"], a["path"], a["status"]) for a in audit_lines])
        # Nothing but its model and the hooks: no update check, telemetry or other start-up calls.
        assert {a["host"] for a in audit_lines} == {host, HOOKS_HOST}
        assert reply in json.dumps(shown.get("agent_detail"))

        state = json.loads((rig.home / "run" / f"{session['id']}.json").read_text())
        child = int(state["child_pid"])
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        assert f"GEMINI_API_KEY={PLACEHOLDERS['gemini_api_key']}".encode() in environ
        needles = {"GEMINI_API_KEY": key}
        hits = _scan_processes(child, needles)
        agent_home = rig.home / "agents" / session["id"]
        assert (agent_home / ".gemini" / "settings.json").is_file()
        hits += scan_tree(agent_home, needles) + scan_tree(Path(session["worktree_path"]), needles)
        audit = rig.cli("audit", "--limit", "1000", "--json").out
        hits += [Hit("clauderon audit", label) for label, value in needles.items() if value in audit]
        hits += scan_tree(rig.home, needles, exclude=["secrets"])
        assert hits == [], "real credential values visible: " + "; ".join(map(str, hits))
    finally:
        rig.close()


@pytest.mark.docker
def test_gemini_in_a_sealed_container_through_the_proxy() -> None:
    key = "AIza" + pysecrets.token_urlsafe(30)
    reply = f"FAKE-GEMINI-SEALED-{pysecrets.token_hex(4)}"
    fake = FakeGemini(default_reply="side reply")
    fake.script(shell_call("echo TOOL-OUT-42"), reply)
    host = agent_named("gemini").traffic.model_hosts[0]
    tmp = Path(tempfile.mkdtemp(prefix="cl-gd-", dir="/var/tmp"))  # short: the engine socket lives under it
    rig = Rig(tmp, fake, [host], {"GEMINI_API_KEY": key})
    config = rig.home / "config.toml"
    config.write_text(config.read_text().replace(TEST_AGENT_IMAGE, TEST_GEMINI_IMAGE))
    proxy_toml = rig.home / "proxy.toml"  # an empty allowlist, as in the local test above
    proxy_toml.write_text(proxy_toml.read_text().replace(f'allowlist = ["{host}"]', "allowlist = []"))
    try:
        session = rig.create("gs", "gemini", "say hello PROMPT-SEALED")
        rig.cli.wait_screen("gs", reply, timeout=240)
        calls = fake.model_requests()
        assert calls and any("PROMPT-SEALED" in r.text for r in fake.turn_requests()), fake.paths()
        assert {r.header("x-goog-api-key") for r in calls} == {key}
        results = [p["functionResponse"] for r in fake.turn_requests() for c in r.json["contents"]
                   for p in c["parts"] if "functionResponse" in p]
        assert results and "TOOL-OUT-42" in json.dumps(results[0]["response"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            [shown] = [s for s in rig.cli("list", "--json").json() if s["name"] == "gs"]
            if shown["agent_status"] == "waiting-input":
                break
            time.sleep(0.5)
        assert shown["agent_status"] == "waiting-input" and reply in json.dumps(shown["agent_detail"]), shown
        env = rig.container(session).attrs["Config"]["Env"]
        assert f"GEMINI_API_KEY={PLACEHOLDERS['gemini_api_key']}" in env
        rig.assert_nowhere({"GEMINI_API_KEY": key}, session)
    finally:
        rig.close()
        shutil.rmtree(tmp, ignore_errors=True)
