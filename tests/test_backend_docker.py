"""DockerBackend against the real engine: create options, ownership, attach, removal, a dead daemon."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from runtime.backends.base import LABEL_HOME, LABEL_NAME, LABEL_SESSION, Attachment, LaunchSpec
from runtime.backends.docker import AGENT_CAPABILITIES, DockerBackend, container_name
from runtime.errors import ClauderonError
from runtime.models import Mount, Status

from .conftest import TEST_AGENT_IMAGE


def _inspect(ref: str) -> dict:
    out = subprocess.run(["docker", "inspect", ref], capture_output=True, text=True)
    return json.loads(out.stdout)[0] if out.returncode == 0 else {}


def _spec(home_id: str, command: list[str], **kw) -> LaunchSpec:
    session_id = uuid.uuid4().hex[:12]
    return LaunchSpec(
        session_id=session_id, name=f"t-{session_id}", home_id=home_id, command=command,
        workdir="/workspace", image=TEST_AGENT_IMAGE, network="host", **kw,
    )


@pytest.fixture
def home_id() -> str:
    """A fresh home id; everything labelled with it is removed afterwards."""
    ident = f"test-{uuid.uuid4().hex[:8]}"
    yield ident
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL_HOME}={ident}"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


async def _read_until(att: Attachment, needle: bytes, seen: bytearray) -> bytes:
    """Read into `seen` until `needle` appears (the test timeout bounds a hang)."""
    while needle not in seen:
        chunk = await att.read()
        if not chunk:
            raise AssertionError(f"stream ended before {needle!r}; got {bytes(seen)!r}")
        seen.extend(chunk)
    return bytes(seen)


@pytest.mark.docker
async def test_create_applies_labels_user_mounts_limits_and_hardening(home_id: str, short_tmp: Path) -> None:
    work = short_tmp / "work"
    ro = short_tmp / "ro"
    work.mkdir()
    ro.mkdir()
    spec = _spec(
        home_id, ["sleep", "300"], user="1000:1000", cpu=0.5, memory="256m",
        mounts=[Mount(host=str(work), path="/workspace"), Mount(host=str(ro), path="/ro", readonly=True)],
        env={"FOO": "bar"}, extra_capabilities=["net_raw"],
    )
    backend = DockerBackend()
    cid = await backend.create(spec)
    info = _inspect(cid)
    assert info["Name"] == f"/{container_name(spec.name)}"
    labels = info["Config"]["Labels"]
    assert labels[LABEL_HOME] == home_id and labels[LABEL_SESSION] == spec.session_id
    assert labels[LABEL_NAME] == spec.name
    assert info["Config"]["User"] == "1000:1000"
    assert info["Config"]["Tty"] is True and info["Config"]["OpenStdin"] is True
    assert "FOO=bar" in info["Config"]["Env"]
    assert info["Config"]["WorkingDir"] == "/workspace"
    host = info["HostConfig"]
    assert [(m["Source"], m["Target"], bool(m.get("ReadOnly"))) for m in host["Mounts"]] == [
        (str(work), "/workspace", False), (str(ro), "/ro", True)]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == sorted(AGENT_CAPABILITIES + ["NET_RAW"])
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Init"] is True
    assert host["NetworkMode"] == "host"
    assert info["State"]["Running"] is True
    assert await backend.status(cid) == Status.RUNNING
    assert await backend.owner_of(spec.name) == home_id


@pytest.mark.docker
async def test_missing_image_is_one_clear_error_and_leaves_nothing(home_id: str) -> None:
    spec = _spec(home_id, ["true"])
    spec.image = "clauderon-test-missing:nope"
    missing = r"image clauderon-test-missing:nope not found locally: run `clauderon image build`"
    with pytest.raises(ClauderonError, match=missing):
        await DockerBackend().create(spec)
    assert _inspect(container_name(spec.name)) == {}


@pytest.mark.docker
async def test_failure_after_creation_removes_the_container(home_id: str) -> None:
    # The image exists, so the container is created; resolving an unknown user then fails at start.
    spec = _spec(home_id, ["sleep", "300"], user="no-such-user")
    with pytest.raises(ClauderonError, match="cannot start container"):
        await DockerBackend().create(spec)
    assert _inspect(container_name(spec.name)) == {}


@pytest.mark.docker
async def test_name_owned_by_another_home_is_refused_and_list_owned_is_per_home(home_id: str) -> None:
    other_home = f"{home_id}-other"
    backend = DockerBackend()
    theirs = _spec(other_home, ["sleep", "300"])
    try:
        their_id = await backend.create(theirs)
        mine = _spec(home_id, ["sleep", "300"])
        mine.name = theirs.name
        with pytest.raises(ClauderonError, match="belongs to another clauderon home"):
            await backend.create(mine)
        same_home_again = _spec(other_home, ["sleep", "300"])
        same_home_again.name = theirs.name
        with pytest.raises(ClauderonError, match="already exists in this home"):
            await backend.create(same_home_again)
        mine = _spec(home_id, ["sleep", "300"])
        my_id = await backend.create(mine)
        found = await backend.list_owned(home_id)
        assert [(f.session_id, f.backend_id, f.status) for f in found] == [(mine.session_id, my_id, Status.RUNNING)]
        assert [f.backend_id for f in await backend.list_owned(other_home)] == [their_id]
    finally:
        subprocess.run(["docker", "rm", "-f", container_name(theirs.name)], capture_output=True)


@pytest.mark.docker
async def test_attach_write_ctrl_p_and_resize(home_id: str) -> None:
    script = (
        'read x; echo "got:$x $(stty size)"; '
        'read y; printf %s "$y" | od -An -tx1; '
        'read z; echo "size:$(stty size)"; sleep 300'
    )
    backend = DockerBackend()
    cid = await backend.create(_spec(home_id, ["sh", "-c", script]))
    att = await backend.attach(cid)
    seen = bytearray()
    try:
        await att.write(b"hello\n")
        await _read_until(att, b"got:hello 40 120", seen)  # the spec's default size, set at create
        # ctrl-p (0x10) must reach the program at once: with the default detach keys (ctrl-p,ctrl-q) the
        # daemon holds a trailing ctrl-p back until the next key, so its echo (^P) would never come.
        await att.write(b"a\x10")
        await asyncio.wait_for(_read_until(att, b"a^P", seen), 30)
        await att.write(b"b\n")
        await _read_until(att, b"61 10 62", seen)
        await att.resize(101, 33)
        await att.write(b"\n")
        await _read_until(att, b"size:33 101", seen)
    finally:
        await att.close()
    assert await backend.status(cid) == Status.RUNNING  # closing the attachment leaves it running
    assert b"size:33 101" in await backend.recent_output(cid, 4096)
    assert len(await backend.recent_output(cid, 10)) == 10


@pytest.mark.docker
async def test_read_returns_empty_at_exit_and_remove_is_idempotent(home_id: str) -> None:
    backend = DockerBackend()
    cid = await backend.create(_spec(home_id, ["sh", "-c", "read x; echo bye:$x"]))
    att = await backend.attach(cid)
    seen = bytearray()
    await att.write(b"now\n")
    await _read_until(att, b"bye:now", seen)
    while await att.read():
        pass
    await att.close()
    for _ in range(100):  # the stream ends as the process exits; the engine records it a moment later
        if await backend.status(cid) == Status.STOPPED:
            break
        await asyncio.sleep(0.1)
    assert await backend.status(cid) == Status.STOPPED
    await backend.remove(cid)
    assert _inspect(cid) == {}
    assert await backend.status(cid) == Status.FAILED
    await backend.remove(cid)  # missing is fine


@pytest.mark.docker
async def test_auto_network_is_sealed_and_doctor_names_the_open_modes() -> None:
    bridge = _inspect("bridge")
    has_gateway = any(c.get("Gateway") for c in ((bridge.get("IPAM") or {}).get("Config") or []))
    backend = DockerBackend()
    assert await backend.resolve_network("auto") == "sealed"
    assert await backend.resolve_network("host") == "host"
    report = await backend.network_report()
    assert "auto -> sealed" in report and "host (open network)" in report
    assert ("bridge (gateway" in report) if has_gateway else ("no bridge" in report)
    with pytest.raises(ClauderonError, match="unknown network mode"):
        await backend.resolve_network("overlay")


async def test_dead_daemon_gives_one_clear_line() -> None:
    backend = DockerBackend(base_url="unix:///tmp/nonexistent.sock")
    ok, reason = await backend.available()
    assert not ok
    assert reason.startswith("cannot reach the Docker engine at unix:///tmp/nonexistent.sock")
    assert reason.endswith("start dockerd or set DOCKER_HOST") and "\n" not in reason
    with pytest.raises(ClauderonError, match="cannot reach the Docker engine"):
        await backend.create(_spec("h", ["true"]))
    with pytest.raises(ClauderonError, match="cannot reach the Docker engine"):
        await backend.list_owned("h")


@pytest.mark.docker
async def test_attach_keeps_the_first_bytes_after_the_upgrade(home_id: str) -> None:
    # Attach to a created-but-not-started container, then start it: its first output follows the 101
    # response immediately, which is where docker-py's attach_socket can drop bytes.
    from runtime.backends.docker_attach import open_attach

    name = f"clauderon-first-{uuid.uuid4().hex[:8]}"
    created = subprocess.run(
        ["docker", "create", "-t", "-i", "--network", "host", "--name", name, "--label", f"{LABEL_HOME}={home_id}",
         TEST_AGENT_IMAGE, "sh", "-c", "echo first-bytes-here; read x"],
        capture_output=True, text=True, check=True,
    )
    cid = created.stdout.strip()
    backend = DockerBackend()
    client = backend._client_sync()
    att = await open_attach(backend.base_url, client.api.api_version, cid)
    try:
        subprocess.run(["docker", "start", cid], capture_output=True, check=True)
        seen = bytearray()
        await _read_until(att, b"first-bytes-here", seen)
        assert bytes(seen).startswith(b"first-bytes-here")
    finally:
        await att.close()
