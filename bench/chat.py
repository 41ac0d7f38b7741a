"""Chat open time: from the chat pane mounting until the newest page of the agent's transcript is shown.

The real pane (`ChatPane`) on a real `EngineClient` over the engine's unix socket (local backend; the
session is recorded as a Claude one and its transcript written by this script), headless. Transcripts
of about 1 MB and 100 MB, beside the baseline measured in the same run: a transcript of a few KB.
For reference, the naive way (parse the whole file) is timed on the 100 MB file. Medians of 5 runs.
Reported, not a test: `.venv/bin/python bench/chat.py`.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.app import App, ComposeResult

from clauderon_tui.widgets.chat import ChatPane  # noqa: E402
from runtime.agents.registry import agent_named  # noqa: E402
from runtime.agents.transcripts import parse_file  # noqa: E402
from runtime.api.client import EngineClient  # noqa: E402
from runtime.engine.host import EngineHost, try_lock  # noqa: E402
from runtime.home import Home  # noqa: E402
from runtime.settings import load_settings  # noqa: E402
from tests.test_transcript_api import write_transcript  # noqa: E402

RUNS = 5


class ChatApp(App[None]):
    def __init__(self, client: EngineClient, ref: str) -> None:
        super().__init__()
        self.client, self.ref = client, ref

    def compose(self) -> ComposeResult:
        yield ChatPane(self.client, self.ref)


async def open_once(home: Home, ref: str) -> float:
    client = EngineClient(home)
    app = ChatApp(client, ref)
    async with app.run_test(size=(120, 40)) as pilot:
        started = time.perf_counter()
        pane = app.query_one(ChatPane)
        pane.session_ref = None  # the pane started on mount; time a fresh open from here
        await pilot.pause()
        started = time.perf_counter()
        pane.session_ref = ref
        while not (pane._ready and pane.message_widgets):
            await pilot.pause(0.001)
        await pilot.pause()  # one refresh: laid out and painted
        elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="cl-bc-", dir="/tmp"))
    home = Home.open(base / "h")
    home.config_file.write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    repo = base / "repo"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b",
           "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    lock = try_lock(home)
    if lock is None:
        raise SystemExit(f"another engine holds {home.root}")
    host = EngineHost(home, load_settings(home, environ={}), lock)
    host.start()
    engine = host.engine
    assert engine is not None, "EngineHost.start returns once the engine runs"
    try:
        async def create() -> str:
            client = EngineClient(home)
            try:
                request = {"repo": str(repo), "name": "bench", "backend": "local", "agent": "shell"}
                session = await client.create_session(request, wait=True)
            finally:
                await client.close()
            return session.id
        session_id = asyncio.run(create())
        conversation = str(uuid.uuid4())

        async def change() -> None:
            await engine.update(session_id, agent="claude", agent_session_id=conversation)
        asyncio.run_coroutine_threadsafe(change(), host.loop).result(10)
        project = home.agent_home(session_id) / ".claude" / "projects" / "-workspace"
        project.mkdir(parents=True)
        path = project / f"{conversation}.jsonl"
        rows = []
        for label, size in (("baseline (small)", 1), ("1 MB", 1 << 20), ("100 MB", 100 << 20)):
            write_transcript(path, size)
            times = [asyncio.run(open_once(home, "bench")) for _ in range(RUNS)]
            rows.append((label, path.stat().st_size, statistics.median(times)))
        started = time.perf_counter()
        parse_file(path, agent_named("claude").parse_transcript_line)
        naive = time.perf_counter() - started
        baseline = rows[0][2]
        for label, size, median in rows:
            print(f"chat open {label:>16} ({size / 1e6:7.1f} MB): {median * 1000:7.1f} ms  "
                  f"(x{median / baseline:.2f} of baseline)")
        print(f"naive full parse of the 100 MB transcript: {naive * 1000:.0f} ms")
    finally:
        async def remove() -> None:
            for session in engine.store.sessions():
                await engine.backends["local"].remove(session.id)
        asyncio.run_coroutine_threadsafe(remove(), host.loop).result(30)
        host.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
