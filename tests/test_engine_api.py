"""The engine API and its client, end to end over the real unix socket, with local (pty) sessions.

No Docker needed: the local backend runs `bash` under a pty held by a detached holder process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import time
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.engine.host import EngineHost, try_lock
from runtime.errors import ClauderonError, EngineUnavailable
from runtime.home import Home
from runtime.settings import load_settings
from runtime.terminal import TerminalEmulator
from tests.conftest import SHELL_BY_DEFAULT, run_git

pytestmark = pytest.mark.timeout(180)


async def wait_screen(client: EngineClient, name: str, needle: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = await client.screen(name)
        if needle in text:
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared:\n{text}")


async def test_socket_is_private_and_checks_the_peer(host: EngineHost) -> None:
    path = host.home.socket_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # a raw request works for the owner (this process) and says who may use it otherwise
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")


async def test_create_screen_send_console_and_events(host: EngineHost, git_repo: Path) -> None:
    client = EngineClient(host.home)
    events = client.events()
    try:
        first = await anext(events)
        assert first == {"type": "connection", "state": "connected"}
        snapshot = await anext(events)
        assert snapshot["type"] == "snapshot" and snapshot["sessions"] == []

        created = await client.create_session({"repo": str(git_repo), "name": "loc", "backend": "local"}, wait=True)
        assert created.status == "running", created.error
        seen = []
        while not any(e.get("type") == "session" and e["session"].status == "running" for e in seen):
            seen.append(await asyncio.wait_for(anext(events), 10))
        assert any(e.get("type") == "session" and e["session"].progress.message for e in seen)

        await client.send("loc", "echo from-$((40+2))", enter=True)
        await wait_screen(client, "loc", "from-42")

        console = await client.console("loc", 100, 30)
        viewer = TerminalEmulator(console.cols, console.rows)
        viewer.feed(console.snapshot)
        assert "from-42" in viewer.text()  # the snapshot rebuilds the current screen
        await console.write(b"echo typed-$((1+1))\r")
        deadline = time.monotonic() + 20
        while "typed-2" not in viewer.text() and time.monotonic() < deadline:
            viewer.feed(await asyncio.wait_for(console.read(), 20))
        assert "typed-2" in viewer.text()
        await console.resize(90, 25)
        await console.write(b"stty size\r")
        await wait_screen(client, "loc", "25 90")
        await console.close()

        listed = await client.list_sessions()
        assert [s.name for s in listed] == ["loc"]
        assert (await client.get_session(created.id)).name == "loc"  # id or name
    finally:
        await events.aclose()
        await client.close()


async def test_errors_are_one_clear_line(host: EngineHost, git_repo: Path, short_tmp: Path) -> None:
    client = EngineClient(host.home)
    try:
        with pytest.raises(ClauderonError, match="no session named 'ghost'") as err:
            await client.screen("ghost")
        assert err.value.status == 404
        with pytest.raises(ClauderonError, match="repo: Field required"):
            await client.create_session({"name": "x"})
        with pytest.raises(ClauderonError, match="invalid session name"):
            await client.create_session({"repo": str(git_repo), "name": "Nope!"})
        with pytest.raises(ClauderonError, match="cannot start local session|workdir|git"):
            await client.create_session({"repo": str(short_tmp), "name": "notrepo"}, wait=True)
        await client.create_session({"repo": str(git_repo), "name": "dup", "backend": "local"}, wait=True)
        with pytest.raises(ClauderonError, match="already exists") as err:
            await client.create_session({"repo": str(git_repo), "name": "dup", "backend": "local"})
        assert err.value.status == 409
    finally:
        await client.close()


async def test_real_credential_in_env_is_refused(short_tmp: Path, git_repo: Path, monkeypatch) -> None:
    secret = "ghp_" + "k" * 36
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    home = Home.open(short_tmp / "h")
    engine_host = EngineHost(home, load_settings(home, environ=SHELL_BY_DEFAULT), try_lock(home))
    engine_host.start()
    client = EngineClient(home)
    try:
        with pytest.raises(ClauderonError, match="--env TOKEN holds a real credential"):
            await client.create_session({"repo": str(git_repo), "name": "leaky", "backend": "local",
                                         "env": {"TOKEN": secret}})
        # A key typed into the prompt or an image reference would be stored and labelled: refused too.
        with pytest.raises(ClauderonError, match="session's prompt holds a real credential"):
            await client.create_session({"repo": str(git_repo), "name": "leaky", "backend": "local",
                                         "prompt": f"use the token {secret} to push"})
        with pytest.raises(ClauderonError, match="session's image holds a real credential"):
            await client.create_session({"repo": str(git_repo), "name": "leaky", "backend": "local",
                                         "image": f"registry.test/{secret}:latest"})
        # CLAUDERON_HOME (secrets, CA key, store), anything in it, or anything holding it, is never mounted.
        for source in (home.root, home.root / "secrets", home.root.parent):
            with pytest.raises(ClauderonError, match="would expose CLAUDERON_HOME"):
                await client.create_session({"repo": str(git_repo), "name": "leaky", "backend": "local",
                                             "mounts": [f"{source}:/data:ro"]})
        link = short_tmp / "innocent"
        link.symlink_to(home.root)
        with pytest.raises(ClauderonError, match="would expose CLAUDERON_HOME"):
            await client.create_session({"repo": str(git_repo), "name": "leaky", "backend": "local",
                                         "mounts": [f"{link}:/data"]})
        assert await client.list_sessions() == []
        assert not (home.worktrees / "leaky").exists()
        # A file `.worktreeinclude` copies in must not carry the key either: refused, nothing left behind.
        (git_repo / ".env.local").write_text(f"GITHUB_TOKEN={secret}\n")
        (git_repo / ".worktreeinclude").write_text(".env.local\n")
        failed = await client.create_session({"repo": str(git_repo), "name": "leaky", "backend": "local"}, wait=True)
        assert failed.status == "failed" and "names .env.local, which holds a real credential" in failed.error
        assert "allow_secret_files" in failed.error and secret not in failed.error
        assert not (home.worktrees / "leaky").exists()
        assert not home.agent_home(failed.id).exists()  # made beside the worktree, gone with it
        assert "clauderon/leaky" not in run_git(git_repo, "branch", "--list")
        # The retry of the same name replaces the failed record, and viewers are told to drop its row.
        (git_repo / ".worktreeinclude").unlink()
        events = client.events()
        assert (await anext(events))["state"] == "connected"
        assert (await anext(events))["type"] == "snapshot"
        again = await client.create_session({"repo": str(git_repo), "name": "leaky", "backend": "local"}, wait=True)
        assert again.status == "running" and again.id != failed.id
        while (event := await asyncio.wait_for(anext(events), 20))["type"] != "deleted":
            pass
        assert event["session_id"] == failed.id
        await events.aclose()
        assert [s.id for s in await client.list_sessions()] == [again.id]
    finally:
        await client.close()
        engine_host.stop()


async def test_client_reconnects_to_a_new_engine_from_a_fresh_snapshot(short_tmp: Path, git_repo: Path) -> None:
    home = Home.open(short_tmp / "h")
    home.config_file.write_text('[session]\nbackend = "local"\n')
    loaded = load_settings(home, environ=SHELL_BY_DEFAULT)
    first = EngineHost(home, loaded, try_lock(home))
    first.start()
    client = EngineClient(home)
    events = client.events()
    second = None
    try:
        assert (await anext(events))["state"] == "connected"
        assert (await anext(events))["type"] == "snapshot"
        await client.create_session({"repo": str(git_repo), "name": "mover", "backend": "local"}, wait=True)
        first.stop()
        kinds = []
        while "reconnecting" not in kinds:
            event = await asyncio.wait_for(anext(events), 20)
            kinds.append(event.get("state") or event["type"])
        second = EngineHost(home, loaded, try_lock(home))
        second.start()
        while True:
            event = await asyncio.wait_for(anext(events), 20)
            if event["type"] == "snapshot":
                break
        assert [s.name for s in event["sessions"]] == ["mover"]
        assert [s.status for s in event["sessions"]] == ["running"]  # the holder outlived the first engine
        await client.send("mover", "echo survived", enter=True)
        await wait_screen(client, "mover", "survived")
    finally:
        await events.aclose()
        await client.close()
        host = second or first
        if host.engine is not None:
            for s in host.engine.store.sessions():
                asyncio.run_coroutine_threadsafe(host.engine.backends["local"].remove(s.id), host.loop).result(30)
        host.stop()


async def test_no_engine_is_one_clear_line(short_tmp: Path) -> None:
    client = EngineClient(Home.open(short_tmp / "h"))
    with pytest.raises(EngineUnavailable, match="no engine is answering"):
        await client.health()
    await client.close()


async def test_handoff_to_a_background_engine_keeps_sessions_live(short_tmp: Path, git_repo: Path) -> None:
    from runtime.engine.host import engine_running, wait_for_socket

    home = Home.open(short_tmp / "h")
    home.config_file.write_text('[session]\nbackend = "local"\n')
    in_app = EngineHost(home, load_settings(home, environ=SHELL_BY_DEFAULT), try_lock(home))
    in_app.start()
    client = EngineClient(home)
    try:
        await client.create_session({"repo": str(git_repo), "name": "kept", "backend": "local"}, wait=True)
        await client.send("kept", "echo before-handoff", enter=True)
        await wait_screen(client, "kept", "before-handoff")
        assert in_app.running_count() == 1
        old_pid = (await client.health())["engine"]["pid"]
        new_pid = await asyncio.to_thread(in_app.handoff)
        await asyncio.to_thread(wait_for_socket, home, 60)
        health = await client.health()
        assert health["engine"]["pid"] == new_pid != old_pid  # a detached background engine now owns the home
        await wait_screen(client, "kept", "before-handoff")  # its screen was rebuilt from recent output
        await client.send("kept", "echo after-handoff", enter=True)
        await wait_screen(client, "kept", "after-handoff")
    finally:
        for s in await client.list_sessions():
            await client.delete_session(s.name, force=True)
        await client.stop_engine()
        await client.close()
        deadline = time.monotonic() + 30
        while engine_running(home) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    assert not engine_running(home)


async def test_access_mode_changes_store_and_proxy_together_or_neither(host: EngineHost, git_repo: Path,
                                                                       monkeypatch) -> None:
    client = EngineClient(host.home)
    try:
        created = await client.create_session({"repo": str(git_repo), "name": "mode", "backend": "local"}, wait=True)
        registry = host.engine.egress.service.registry
        assert (await client.set_access_mode("mode", "read-only")).access_mode == "read-only"
        assert registry.get(created.id).access_mode == "read-only"

        def disk_full(*_, **__):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(host.engine.store, "update", disk_full)
        with pytest.raises(ClauderonError, match="no space left in CLAUDERON_HOME") as refused:
            await client.set_access_mode("mode", "read-write")
        assert refused.value.status == 507 and "\n" not in str(refused.value)
        assert registry.get(created.id).access_mode == "read-only"  # the proxy did not change alone
        monkeypatch.undo()
        await client.delete_session("mode", force=True)
    finally:
        await client.close()


async def test_refresh_is_refused_where_the_engine_pulls_no_image_and_reconcile_reports(
        host: EngineHost, git_repo: Path) -> None:
    client = EngineClient(host.home)
    try:
        assert await client.reconcile() == []  # nothing is off: nothing done
        await client.create_session({"repo": str(git_repo), "name": "img", "backend": "local"}, wait=True)
        with pytest.raises(ClauderonError, match="cannot be refreshed on the local backend: it runs on the host"):
            await client.refresh_session("img")
        assert (await client.get_session("img")).status == "running"
    finally:
        await client.close()


async def test_uploaded_image_bytes_are_kept_0600_announced_and_sent_with_a_chat_message(
        host: EngineHost, git_repo: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    client = EngineClient(host.home)
    events = client.events()
    try:
        assert (await anext(events))["type"] == "connection"  # subscribed from here on
        await client.create_session({"repo": str(git_repo), "name": "pic", "backend": "local"}, wait=True)
        saved = await client.upload_image(png, "../../etc/shot.png")
        path = Path(saved["path"])
        assert path.parent == host.home.incoming and path.read_bytes() == png and saved["kind"] == "png"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        while (event := await asyncio.wait_for(anext(events), 10)).get("type") != "upload":
            pass
        assert event["path"] == saved["path"]
        # A stream that connects later (a browser tab's app still starting) finds it in its snapshot.
        late = EngineClient(host.home)
        try:
            async for snapshot in late.events():
                if snapshot["type"] == "snapshot":
                    break
        finally:
            await late.close()
        assert [(u["path"], u["at"]) for u in snapshot["uploads"]] == [(saved["path"], event["at"])]
        answer = await client.chat("pic", "look", [saved["path"]])
        [copy] = answer["images"]
        assert Path(copy).read_bytes() == png and Path(copy).parent.name == "uploads"
        with pytest.raises(ClauderonError, match="is not a PNG, JPEG, GIF or WebP image"):
            await client.upload_image(b"#!/bin/sh\necho hi\n", "x.png")
        with pytest.raises(ClauderonError, match="over 20 MB"):
            await client.upload_image(png + b"\0" * (20 * 1024 * 1024), "big.png")
        assert sorted(host.home.incoming.iterdir()) == [path]  # nothing kept of the refused ones
    finally:
        await client.close()
