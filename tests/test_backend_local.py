"""LocalBackend: a pty held by a detached process that outlives the engine object that started it."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest

from runtime.backends.base import Attachment, LaunchSpec
from runtime.backends.local import LocalBackend
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.models import Status


@pytest.fixture
def home(home_dir: Path) -> Home:
    home = Home.open(home_dir)
    yield home
    # Never leave a holder behind, whatever a test did.
    for state_file in home.run.glob("*.json"):
        try:
            state = json.loads(state_file.read_text())
            os.killpg(state["child_pid"], 9)
            os.kill(state["pid"], 9)
        except (OSError, ValueError, KeyError, TypeError):
            pass


def _spec(home: Home, workdir: Path, command: list[str], **kw) -> LaunchSpec:
    session_id = uuid.uuid4().hex[:12]
    return LaunchSpec(session_id=session_id, name=f"l-{session_id}", home_id=home.home_id, command=command,
                      workdir=str(workdir), host_workdir=str(workdir), **kw)


async def _read_until(att: Attachment, needle: bytes, seen: bytearray) -> None:
    while needle not in seen:
        chunk = await att.read()
        if not chunk:
            raise AssertionError(f"stream ended before {needle!r}; got {bytes(seen)!r}")
        seen.extend(chunk)


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def test_shell_session_echo_resize_and_reattach_after_engine_restart(home: Home, short_tmp: Path) -> None:
    spec = _spec(home, short_tmp, ["sh"], env={"PS1": "$ ", "GREETING": "hi-from-env"}, cols=90, rows=30)
    engine = LocalBackend(home)
    sid = await engine.create(spec)
    assert sid == spec.session_id
    assert await engine.status(sid) == Status.RUNNING
    att = await engine.attach(sid)
    seen = bytearray()
    await att.write(b'echo "$GREETING in $(pwd)"; stty size\n')
    await _read_until(att, f"hi-from-env in {short_tmp}".encode(), seen)
    await _read_until(att, b"30 90", seen)
    await att.resize(101, 33)
    await att.write(b"stty size\n")
    await _read_until(att, b"33 101", seen)
    await att.close()

    # The "engine" goes away; the holder is not its child and keeps the shell alive.
    state = json.loads(engine.state_file(sid).read_text())
    assert _ppid(state["pid"]) != os.getpid()
    del engine

    engine = LocalBackend(home)
    found = await engine.list_owned(home.home_id)
    assert [(f.session_id, f.backend_id, f.status) for f in found] == [(sid, sid, Status.RUNNING)]
    assert await engine.list_owned("another-home") == []
    assert b"33 101" in await engine.recent_output(sid, 4096)
    assert len(await engine.recent_output(sid, 5)) == 5
    att = await engine.attach(sid)
    seen = bytearray()
    await att.write(b"echo again-$((40+2))\n")
    await _read_until(att, b"again-42", seen)
    await att.close()

    socket = Path(state["socket"])
    assert socket.exists()
    await engine.remove(sid)
    assert not socket.exists() and not engine.state_file(sid).exists()
    assert await engine.status(sid) == Status.FAILED
    assert await engine.list_owned(home.home_id) == []
    with pytest.raises(ProcessLookupError):
        os.kill(state["child_pid"], 0)
    await engine.remove(sid)  # missing is fine


async def test_exit_status_reaches_the_viewer_and_the_socket_goes(home: Home, short_tmp: Path) -> None:
    engine = LocalBackend(home)
    sid = await engine.create(_spec(home, short_tmp, ["sh", "-c", "read x; echo bye-$x; exit 7"]))
    att = await engine.attach(sid)
    await att.write(b"now\n")
    seen = bytearray()
    while chunk := await att.read():
        seen.extend(chunk)
    assert b"bye-now" in seen
    assert att.exit_code == 7
    state = json.loads(engine.state_file(sid).read_text())
    for _ in range(100):  # the holder removes its socket as it exits
        if not Path(state["socket"]).exists():
            break
        await asyncio.sleep(0.05)
    assert not Path(state["socket"]).exists()
    assert await engine.status(sid) == Status.STOPPED
    assert json.loads(engine.state_file(sid).read_text())["exit_code"] == 7
    with pytest.raises(ClauderonError, match="is not running"):
        await engine.attach(sid)
    await engine.remove(sid)
    assert not engine.state_file(sid).exists()


async def test_a_missing_program_or_workdir_is_one_clear_error(home: Home, short_tmp: Path) -> None:
    engine = LocalBackend(home)
    spec = _spec(home, short_tmp, ["/no/such/program"])
    with pytest.raises(ClauderonError, match="cannot start local session .*/no/such/program"):
        await engine.create(spec)
    assert await engine.list_owned(home.home_id) == []
    assert list(home.run.iterdir()) == []
    with pytest.raises(ClauderonError, match="needs an existing host working directory"):
        await engine.create(_spec(home, short_tmp / "nope", ["sh"]))


async def test_long_home_paths_fall_back_to_a_short_socket(tmp_path: Path, short_tmp: Path) -> None:
    home = Home.open(tmp_path / ("x" * 90))
    engine = LocalBackend(home)
    spec = _spec(home, short_tmp, ["sh"])
    assert len(os.fsencode(home.run / f"{spec.session_id}.sock")) > 104
    sid = await engine.create(spec)
    try:
        socket = engine.socket_for(sid)
        assert str(socket).startswith("/tmp/") and socket.exists()
        assert await engine.status(sid) == Status.RUNNING
    finally:
        await engine.remove(sid)
    assert not socket.exists()


async def test_session_survives_kill_9_of_the_engine_process(home: Home, short_tmp: Path) -> None:
    import subprocess
    import sys

    spec = _spec(home, short_tmp, ["sh"])
    script = (
        "import asyncio, sys, time\n"
        "from runtime.backends.base import LaunchSpec\n"
        "from runtime.backends.local import LocalBackend\n"
        "from runtime.home import Home\n"
        f"spec = LaunchSpec(session_id={spec.session_id!r}, name={spec.name!r}, home_id={spec.home_id!r},\n"
        f"                  command=['sh'], workdir={spec.workdir!r}, host_workdir={spec.host_workdir!r})\n"
        f"print(asyncio.run(LocalBackend(Home.open({str(home.root)!r})).create(spec)), flush=True)\n"
        "time.sleep(600)\n"
    )
    engine_proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                   cwd=Path(__file__).resolve().parent.parent)
    try:
        assert engine_proc.stdout.readline().strip() == spec.session_id
    finally:
        engine_proc.kill()  # SIGKILL: no cleanup runs in the "engine"
        engine_proc.wait()
    engine = LocalBackend(home)
    assert await engine.status(spec.session_id) == Status.RUNNING
    att = await engine.attach(spec.session_id)
    seen = bytearray()
    await att.write(b"echo still-$((6*7))\n")
    await _read_until(att, b"still-42", seen)
    await att.close()
    await engine.remove(spec.session_id)


@pytest.mark.timeout(120)
async def test_a_large_paste_into_an_echoing_program_never_deadlocks(home: Home, short_tmp: Path) -> None:
    """A 120 KB paste into `tee` (the pty echoes it and tee prints it back) used to freeze the session
    after ~9 KB: the holder blocked on the full pty input while nobody drained its output."""
    received = short_tmp / "received.txt"
    spec = _spec(home, short_tmp, ["sh", "-c", f"tee {received}; echo TEE-DONE"])
    engine = LocalBackend(home)
    sid = await engine.create(spec)
    att = await engine.attach(sid, replay=True)
    paste = b"".join(b"%05d" % n + b"x" * 94 + b"\n" for n in range(1200))  # 120,000 bytes
    seen = bytearray()
    await att.write(paste)
    await att.write(b"\x04")  # end of tee's input, once the whole paste went in
    while b"TEE-DONE" not in seen:
        try:
            chunk = await asyncio.wait_for(att.read(), 30)
        except TimeoutError:
            raise AssertionError(f"the session froze after {len(seen)} bytes of output") from None
        assert chunk, f"stream ended after {len(seen)} bytes"
        seen.extend(chunk)
    assert received.read_bytes() == paste  # every byte reached the program, in order
    await att.close()
    await engine.remove(sid)


async def test_a_state_file_naming_a_reused_pid_never_gets_that_process_killed(home: Home, short_tmp: Path) -> None:
    """After a reboot (or pid reuse) the pids a state file names belong to someone else: the session is
    not running, and removing it signals nobody."""
    import signal
    import subprocess

    backend = LocalBackend(home)
    spec = _spec(home, short_tmp, ["sh"])
    await backend.create(spec)
    state_file = home.run / f"{spec.session_id}.json"
    state = json.loads(state_file.read_text())
    os.killpg(state["child_pid"], signal.SIGKILL)
    os.kill(state["pid"], signal.SIGKILL)
    bystander = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        # The holder and its program are gone; a stranger now has "their" pid (simulated by rewriting it).
        state_file.write_text(json.dumps({**state, "pid": bystander.pid, "child_pid": bystander.pid}))
        assert await backend.status(spec.session_id) == Status.FAILED
        await backend.remove(spec.session_id)
        assert bystander.poll() is None, "a process that merely reused the pid was killed"
        assert not state_file.exists()
    finally:
        bystander.kill()
        bystander.wait()
