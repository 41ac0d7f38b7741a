"""Hook event -> event-stream latency: how long an agent's status hook takes to show in every UI.

Run: ``.venv/bin/python -m bench.hooks [--events 200]``.

Setup, as in production but without Docker: a real engine process (`clauderon engine`) on a fresh
`CLAUDERON_HOME`, one local-backend `shell` session on a throwaway git repo, and an `EngineClient`
subscribed to `events()` (what the TUI's sidebar is fed from).

The session's proxy credentials are read from inside the session: the bench types
``env | grep ... > file`` into its shell (`client.send`), so it uses exactly the `HTTPS_PROXY` URL and CA
the engine handed that session (no password is minted or re-registered by the bench).

Each sample: spawn `curl` the way `~/.clauderon/hook.sh` does (POST through `$HTTPS_PROXY`, TLS to
`clauderon.internal` with the engine's CA, `?t=<ns>`), alternating `UserPromptSubmit` (-> working) and
`Stop` (-> waiting-input) so every event is a real status change, and time from just before the spawn
to the `session` event carrying the new `agent_status` arriving at the subscriber. This includes the curl
process start and a fresh TLS handshake, as a real hook pays.

Baseline: `client.health()`, a plain `GET /api/v1/health` round trip over the engine's unix socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

from runtime.api.client import EngineClient
from runtime.home import Home

SESSION = "hookbench"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _git_repo(path: Path) -> None:
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(["git", *args], cwd=path, check=True, env=env)


async def _session_env(client: EngineClient, out: Path, timeout: float = 20.0) -> dict[str, str]:
    """The proxy and CA variables of the session's shell, as the agent inside sees them."""
    await client.send(SESSION, f"env | grep -E '^(HTTPS_PROXY|CURL_CA_BUNDLE)=' > {out}.tmp && mv {out}.tmp {out}",
                      enter=True)
    deadline = time.monotonic() + timeout
    while not out.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the session never wrote its environment")
        await asyncio.sleep(0.05)
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


async def _post_hook(env: dict[str, str], event: str, payload: dict[str, Any]) -> int:
    url = f"https://clauderon.internal/hooks/claude/{event}?t={time.time_ns()}"
    proc = await asyncio.create_subprocess_exec(
        "curl", "--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "--max-time", "2",
        "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", json.dumps(payload),
        "--proxy", env["HTTPS_PROXY"], "--cacert", env["CURL_CA_BUNDLE"], url,
        stdout=asyncio.subprocess.PIPE, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    out, _ = await proc.communicate()
    return int(out or b"0")


async def _measure(home: Home, repo: Path, events: int) -> list[str]:
    client = EngineClient(home)
    stream = client.events()
    try:
        created = await client.create_session({"repo": str(repo), "name": SESSION, "backend": "local",
                                               "agent": "shell"}, wait=True)
        if created.status != "running":
            raise RuntimeError(f"session did not start: {created.error}")
        env = await _session_env(client, home.root / "hookbench.env")

        health: list[float] = []
        for _ in range(events):
            start = time.perf_counter()
            await client.health()
            health.append(time.perf_counter() - start)

        latest: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

        async def follow() -> None:
            async for event in stream:
                if event.get("type") == "session" and event["session"].name == SESSION:
                    latest.put_nowait((time.perf_counter(), str(event["session"].agent_status)))

        follower = asyncio.get_running_loop().create_task(follow())
        await asyncio.sleep(0.5)  # past the snapshot and the creation events
        while not latest.empty():
            latest.get_nowait()
        hooks: list[float] = []
        codes: dict[int, int] = {}
        for i in range(events):
            if i % 2 == 0:
                event, payload, want = "UserPromptSubmit", {"prompt": f"task {i}"}, "working"
            else:
                event, payload, want = "Stop", {"last_assistant_message": f"done {i}?"}, "waiting-input"
            payload = {"hook_event_name": event, "session_id": "bench", **payload}
            start = time.perf_counter()
            code = await _post_hook(env, event, payload)
            codes[code] = codes.get(code, 0) + 1
            while True:  # the event carrying this status (earlier leftovers are skipped)
                arrived, status = await asyncio.wait_for(latest.get(), 5)
                if status == want:
                    hooks.append(arrived - start)
                    break
        follower.cancel()
        await client.delete_session(SESSION, force=True)
    finally:
        # EngineClient.events is an async generator; it is declared as the iterator it is used as.
        await cast(AsyncGenerator[dict[str, Any], None], stream).aclose()
        await client.close()

    def row(name: str, values: list[float]) -> str:
        return (f"  {name:38} median {_percentile(values, 50) * 1e3:7.1f} ms  "
                f"p99 {_percentile(values, 99) * 1e3:7.1f} ms"
                f"  max {max(values) * 1e3:7.1f} ms  (n={len(values)})")

    return ["hook -> sidebar event latency, local shell session, real engine process (goal: p99 <= 250 ms)",
            row("GET /api/v1/health over the socket", health),
            row("hook POST via proxy -> session event", hooks),
            f"  hook HTTP answers: {codes}"]


def run(events: int) -> list[str]:
    if shutil.which("curl") is None:
        return ["hooks: skipped (no curl)"]
    with tempfile.TemporaryDirectory(prefix="cl-hk-", dir="/tmp") as tmp:
        root = Path(tmp) / "h"
        home = Home.open(root)
        home.config_file.write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
        repo = Path(tmp) / "repo"
        _git_repo(repo)
        env = {**os.environ, "CLAUDERON_HOME": str(root)}
        cli = [sys.executable, "-m", "clauderon_tui.cli"]
        engine = subprocess.Popen([*cli, "engine"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  cwd=Path(__file__).resolve().parent.parent)
        try:
            for _ in range(300):
                if home.socket_path.exists():
                    break
                time.sleep(0.05)
            return asyncio.run(_measure(home, repo, events))
        finally:
            subprocess.run([*cli, "engine", "stop"], env=env, capture_output=True, timeout=60)
            try:
                engine.wait(timeout=30)
            except subprocess.TimeoutExpired:
                engine.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="hook POSTs (and health calls) to time")
    args = parser.parse_args(argv)
    for line in run(args.events):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
