"""The transcript and chat routes over the real unix socket, with a local (pty) session whose agent home
holds transcript files the test writes: pages and cursors, the live websocket (appends, a newer transcript,
a partial line), a 100 MB transcript (open time printed), symlinks out of the agent home refused, and
chat typed into the session's terminal with an image copied (never through a symlink)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.api.transcript import open_transcript
from runtime.engine.host import EngineHost
from runtime.engine.messages import chat_bytes
from runtime.errors import ClauderonError
from tests.test_engine_api import wait_screen

pytestmark = pytest.mark.timeout(300)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 200


def set_fields(host: EngineHost, session_id: str, **changes) -> None:
    """Change a session record on the engine's own loop (the store has one owner)."""
    async def change() -> None:
        await host.engine.update(session_id, **changes)
    asyncio.run_coroutine_threadsafe(change(), host.loop).result(10)


def user_line(text: str) -> str:
    return json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n"


def reply_line(text: str) -> str:
    message = {"role": "assistant", "content": [{"type": "text", "text": text}]}
    return json.dumps({"type": "assistant", "message": message}) + "\n"


async def claude_session(host: EngineHost, client: EngineClient, repo: Path, name: str = "loc") -> tuple[str, Path]:
    """A running local session recorded as a Claude one; returns (its id, its transcript path)."""
    created = await client.create_session({"repo": str(repo), "name": name, "backend": "local"}, wait=True)
    assert created.status == "running", created.error
    conversation = str(uuid.uuid4())
    set_fields(host, created.id, agent="claude", agent_session_id=conversation)
    project = host.home.agent_home(created.id) / ".claude" / "projects" / "-workspace"
    project.mkdir(parents=True)
    return created.id, project / f"{conversation}.jsonl"


async def test_pages_cursor_and_malformed(host: EngineHost, git_repo: Path) -> None:
    client = EngineClient(host.home)
    try:
        _, path = await claude_session(host, client, git_repo)
        page = await client.transcript("loc")
        assert page["messages"] == [] and page["file"] is None and page["before"] is None
        lines = []
        for i in range(500):
            lines.append(user_line(f"q{i}") if i % 2 == 0 else reply_line(f"a{i}"))
            if i in (10, 300):
                lines.append("{this is not json\n")
        lines.append(json.dumps({"type": "assistant", "message": {"content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]}}) + "\n")
        lines.append(json.dumps({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "OUT-1"}]}}) + "\n")
        path.write_text("".join(lines) + '{"type": "user", "mess')  # the agent is writing a line
        page = await client.transcript("loc", limit=150)
        assert page["file"] == f".claude/projects/-workspace/{path.name}"
        assert page["messages"][-1].kind == "tool_call" and page["messages"][-1].result == "OUT-1"
        texts, malformed, pages = [], page["malformed"], 1
        texts[:0] = [m.text for m in page["messages"] if m.kind != "tool_call"]
        while page["before"]:
            page = await client.transcript("loc", before=page["before"], limit=150)
            texts[:0] = [m.text for m in page["messages"]]
            malformed += page["malformed"]
            pages += 1
        assert texts == [f"q{i}" if i % 2 == 0 else f"a{i}" for i in range(500)]
        assert malformed == 2 and pages == 4
        # A cursor names a transcript of this session and an offset; nothing else is accepted.
        for bad in ("../../../etc/passwd:0", ".claude/projects/-workspace/other.jsonl:0", "x"):
            with pytest.raises(ClauderonError, match="not a cursor") as err:
                await client.transcript("loc", before=bad)
            assert err.value.status == 400
        with pytest.raises(ClauderonError, match="no session named"):
            await client.transcript("ghost")
    finally:
        await client.close()


async def test_shell_sessions_have_no_transcript_and_chat_types_into_the_terminal(host: EngineHost, git_repo: Path,
                                                                                 short_tmp: Path) -> None:
    client = EngineClient(host.home)
    try:
        created = await client.create_session({"repo": str(git_repo), "name": "sh", "backend": "local"}, wait=True)
        with pytest.raises(ClauderonError, match="keeps no transcript") as err:
            await client.transcript("sh")
        assert err.value.status == 409
        with pytest.raises(ClauderonError, match="keeps no transcript"):
            await anext(client.transcript_live("sh"))
        await wait_screen(client, "sh", "worktrees/sh")  # the prompt
        answer = await client.chat("sh", "echo chat-$((40+2))")
        assert answer["ok"] and answer["images"] == []
        await wait_screen(client, "sh", "chat-42")
        # An image: copied into the agent home's uploads (a local session sees the host path).
        image = short_tmp / "shot.png"
        image.write_bytes(PNG)
        answer = await client.chat("sh", "echo with-image", [str(image)])
        [stored] = answer["images"]
        uploads = host.home.agent_home(created.id) / "uploads"
        assert Path(stored).parent == uploads and Path(stored).read_bytes() == PNG
        await wait_screen(client, "sh", "with-image")
        # Refused: a symlink (even to an image), a non-image, a directory, a relative path.
        link = short_tmp / "link.png"
        link.symlink_to(image)
        (short_tmp / "notes.txt").write_text("hello")
        for bad, reason in ((link, "symbolic link"), (short_tmp / "notes.txt", "not a PNG"),
                            (short_tmp, "not a regular file"), (Path("shot.png"), "must be absolute")):
            with pytest.raises(ClauderonError, match=reason) as err:
                await client.chat("sh", "echo never", [str(bad)])
            assert err.value.status == 400
        with pytest.raises(ClauderonError, match="symbolic link"):  # a good image before a bad one is not kept
            await client.chat("sh", "echo never", [str(image), str(link)])
        assert len(list(uploads.iterdir())) == 1
        with pytest.raises(ClauderonError, match="nothing to send"):
            await client.chat("sh", "  ")
        assert "never" not in await client.screen("sh")
    finally:
        await client.close()


def test_chat_bytes_paste_then_paths() -> None:
    assert chat_bytes("fix it\nplease", ["/home/agent/uploads/a.png"], True) == \
        b"\x1b[200~fix it\nplease\n/home/agent/uploads/a.png\x1b[201~"
    # The text cannot end the paste early.
    assert chat_bytes("a\x1b[201~b", [], True) == b"\x1b[200~a[201~b\x1b[201~"
    assert chat_bytes("one\ntwo", [], False) == b"one\rtwo"


async def test_live_tail_appends_and_moves_to_a_newer_transcript(host: EngineHost, git_repo: Path) -> None:
    client = EngineClient(host.home)
    live = None
    try:
        _, path = await claude_session(host, client, git_repo)
        path.write_text(user_line("first"))
        live = client.transcript_live("loc")
        page = await asyncio.wait_for(anext(live), 20)
        assert page["type"] == "page" and [m.text for m in page["messages"]] == ["first"]
        with path.open("a") as handle:
            handle.write(reply_line("second") + '{"type": "user", "mes')
            handle.flush()
            event = await asyncio.wait_for(anext(live), 20)
            assert event["type"] == "append" and [m.text for m in event["messages"]] == ["second"]
            handle.write('sage": {"content": "third"}}\n' + "garbage\n")
        event = await asyncio.wait_for(anext(live), 20)
        assert [m.text for m in event["messages"]] == ["third"] and event["malformed"] == 1
        # The agent starts a new conversation (/clear): the tail moves to it, as a fresh page.
        newer = path.with_name(f"{uuid.uuid4()}.jsonl")
        newer.write_text(user_line("new conversation"))
        future = time.time() + 5
        os.utime(newer, (future, future))
        event = await asyncio.wait_for(anext(live), 20)
        assert event["type"] == "page" and event["file"].endswith(newer.name)
        assert [m.text for m in event["messages"]] == ["new conversation"]
    finally:
        if live is not None:
            await live.aclose()
        await client.close()


async def test_symlinks_out_of_the_agent_home_are_refused(host: EngineHost, git_repo: Path, short_tmp: Path) -> None:
    client = EngineClient(host.home)
    try:
        session_id, path = await claude_session(host, client, git_repo)
        outside = short_tmp / "outside"
        outside.mkdir()
        secret = outside / "secret.jsonl"
        secret.write_text(user_line("HOST-SECRET"))
        agent_home = host.home.agent_home(session_id)
        # 1. the transcript itself is a link to a host file
        path.symlink_to(secret)
        page = await client.transcript("loc")
        assert page["file"] is None and page["messages"] == []
        with pytest.raises(ClauderonError, match="not a cursor"):
            await client.transcript("loc", before=f".claude/projects/-workspace/{path.name}:999")
        # 2. a directory on the way is a link out (the agent replaced projects/ with one)
        path.unlink()
        projects = agent_home / ".claude" / "projects"
        (projects / "-workspace").rmdir()
        projects.rmdir()
        projects.symlink_to(outside)
        (outside / "-workspace").mkdir()
        (outside / "-workspace" / path.name).write_text(user_line("HOST-SECRET"))
        page = await client.transcript("loc")
        assert page["file"] is None and page["messages"] == []
        live = client.transcript_live("loc")
        first = await asyncio.wait_for(anext(live), 20)
        assert first["type"] == "page" and first["messages"] == []
        await live.aclose()
        # 3. even a reader handed such a path checks what it opened
        with pytest.raises(ClauderonError, match="outside the agent home") as err:
            open_transcript(agent_home, projects / "-workspace" / path.name, "claude")
        assert err.value.status == 403
    finally:
        await client.close()


def write_transcript(path: Path, size: int) -> int:
    """Claude-shaped lines (prompts, replies, tool calls with results) up to `size` bytes; returns line count."""
    block = []
    for i in range(50):
        block.append(user_line(f"question {i} " + "words " * 40))
        block.append(json.dumps({"type": "assistant", "message": {"content": [
            {"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": f"cat file{i}"}}]}}) + "\n")
        block.append(json.dumps({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": f"t{i}", "content": "output line\n" * 60}]}}) + "\n")
        block.append(reply_line(f"answer {i} " + "more words " * 30))
    data = "".join(block).encode()
    count = 0
    with path.open("wb") as handle:
        written = 0
        while written < size:
            handle.write(data)
            written += len(data)
            count += len(block)
    return count


async def test_big_transcripts_open_from_their_end(host: EngineHost, git_repo: Path) -> None:
    client = EngineClient(host.home)
    try:
        _, path = await claude_session(host, client, git_repo)
        figures = []
        for size in (1 << 20, 100 << 20):
            write_transcript(path, size)
            started = time.perf_counter()
            page = await client.transcript("loc")
            http_s = time.perf_counter() - started
            started = time.perf_counter()
            live = client.transcript_live("loc")
            first = await asyncio.wait_for(anext(live), 60)
            ws_s = time.perf_counter() - started
            await live.aclose()
            assert page["messages"][-1].text.startswith("answer 49") and page["before"] is not None
            assert first["type"] == "page" and len(first["messages"]) == len(page["messages"])
            figures.append(f"{path.stat().st_size / 1e6:.0f} MB: page {http_s * 1000:.1f} ms, "
                           f"live first page {ws_s * 1000:.1f} ms")
        print("\ntranscript open over the socket (200 lines): " + "; ".join(figures))
    finally:
        await client.close()
