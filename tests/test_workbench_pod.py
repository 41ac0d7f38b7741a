"""Workbench (files, file, diff) and transcript pages of a pod session, read inside the pod through exec.

A pod session is created end to end through the CLI against the fake Kubernetes API (its volume is a
host directory, its commands run for real), changed from inside the pod with `clauderon send`, and the
engine's routes are asked over its socket: what they show must be the pod's /workspace, not the host
worktree (which never sees the change).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.backends.kubernetes import KubernetesBackend
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.settings import KubernetesSettings
from runtime.workbench.pod import Pod, transcript_page
from tests.cli_harness import Cli
from tests.fakes.kube_api import FakeKubeThread
from tests.test_engine_kubernetes import NAMESPACE

pytestmark = pytest.mark.timeout(240)


def _pod_cli(kube: FakeKubeThread, short_tmp: Path) -> tuple[Cli, Path]:
    kubeconfig = kube.api.write_kubeconfig(short_tmp / "kubeconfig")
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text(
        '[engine]\non_exit = "stop"\n'
        f'[kubernetes]\nkubeconfig = "{kubeconfig}"\nnamespace = "{NAMESPACE}"\nimage = "agent:test"\n'
        'proxy_url = "http://127.0.0.1:18100"\nstart_timeout = 60\n'
    )
    return cli, kubeconfig


async def _ask(home: Path, call):
    client = EngineClient(Home(home))
    try:
        return await call(client)
    finally:
        await client.close()


def test_pod_workbench_reads_the_pod(kube: FakeKubeThread, short_tmp: Path, git_repo: Path) -> None:
    cli, _ = _pod_cli(kube, short_tmp)
    try:
        created = cli("create", "--repo", str(git_repo), "--name", "wbpod", "--backend", "kubernetes",
                      "--agent", "shell", "--json").json()
        assert created["status"] == "running"
        worktree = Path(created["worktree_path"])
        cli("send", "wbpod", "--enter",
            "echo pod-edit >> README.md && printf 'fresh\\nlines\\n' > src/new.py && "
            "ln -s /etc/hostname out-link && echo done-$((2+3))")
        cli.wait_screen("wbpod", "done-5")
        assert (worktree / "README.md").read_text() == "hello\n"  # the host worktree never saw it

        top = asyncio.run(_ask(cli.home, lambda c: c.list_files("wbpod")))
        by_name = {e["name"]: e for e in top["entries"]}
        assert top["path"] == "" and top["left_out"] == 0
        assert by_name["README.md"]["status"] == "M" and by_name["README.md"]["kind"] == "file"
        assert by_name["README.md"]["size"] == len("hello\npod-edit\n")
        assert by_name["src"]["kind"] == "dir" and by_name["src"]["status"] == "M"
        assert by_name["out-link"]["kind"] == "link" and by_name["out-link"]["target"] == "/etc/hostname"
        assert [e["kind"] for e in top["entries"]][0] == "dir"
        src = asyncio.run(_ask(cli.home, lambda c: c.list_files("wbpod", "src")))
        assert {e["name"]: e["status"] for e in src["entries"]} == {"app.py": "", "new.py": "?"}

        page = asyncio.run(_ask(cli.home, lambda c: c.read_file("wbpod", "README.md")))
        assert page == {"path": "README.md", "size": 15, "offset": 0, "next_offset": None, "binary": False,
                        "text": "hello\npod-edit\n"}
        second = asyncio.run(_ask(cli.home, lambda c: c.read_file("wbpod", "README.md", offset=6, limit=4)))
        assert second["text"] == "pod-" and second["next_offset"] == 10  # no newline in the page: cut as read

        for path, expected, status in (("../x", "leaves the worktree", 403), ("/etc/hostname", "absolute", 403),
                                       ("out-link", "outside the worktree", 403),
                                       ("nope.txt", "does not exist", 404)):
            with pytest.raises(ClauderonError, match=expected) as err:
                asyncio.run(_ask(cli.home, lambda c, path=path: c.read_file("wbpod", path)))
            assert err.value.status == status, path
        with pytest.raises(ClauderonError, match="leaves the worktree") as err:
            asyncio.run(_ask(cli.home, lambda c: c.list_files("wbpod", "src/../..")))
        assert err.value.status == 403
        cli("send", "wbpod", "--enter", "ln -s / rootdir && echo linked-$((3+4))")
        cli.wait_screen("wbpod", "linked-7")
        with pytest.raises(ClauderonError, match="symbolic link") as err:
            asyncio.run(_ask(cli.home, lambda c: c.list_files("wbpod", "rootdir/etc")))
        assert err.value.status == 403

        with pytest.raises(ClauderonError, match="is a directory"):
            asyncio.run(_ask(cli.home, lambda c: c.read_file("wbpod", "src")))
        with pytest.raises(ClauderonError, match="not a directory"):
            asyncio.run(_ask(cli.home, lambda c: c.list_files("wbpod", "README.md")))
        cli("send", "wbpod", "--enter", "printf 'a\\000b' > blob.bin && echo bin-$((5+5))")
        cli.wait_screen("wbpod", "bin-10")
        binary = asyncio.run(_ask(cli.home, lambda c: c.read_file("wbpod", "blob.bin")))
        assert binary == {"path": "blob.bin", "size": 3, "offset": 0, "next_offset": None, "binary": True, "text": ""}

        diff = asyncio.run(_ask(cli.home, lambda c: c.diff("wbpod")))
        assert diff["base"] == "main" and diff["branch"] == "clauderon/wbpod"
        assert diff["committed"]["files"] == []
        changed = {f["path"]: f for f in diff["uncommitted"]["files"]}
        assert changed["README.md"]["status"] == "M"
        assert (changed["README.md"]["added"], changed["README.md"]["removed"]) == (1, 0)
        assert "+pod-edit" in changed["README.md"]["patch"]
        assert changed["src/new.py"]["status"] == "?" and changed["src/new.py"]["added"] == 2
        assert changed["blob.bin"]["binary"] is True

        cli("send", "wbpod", "--enter",
            "git add README.md && git -c user.name=p -c user.email=p@p commit -qm pod-commit && echo ok-$((4+4))")
        cli.wait_screen("wbpod", "ok-8")
        diff = asyncio.run(_ask(cli.home, lambda c: c.diff("wbpod")))
        assert [f["path"] for f in diff["committed"]["files"]] == ["README.md"]
        assert "README.md" not in {f["path"] for f in diff["uncommitted"]["files"]}
    finally:
        cli("delete", "wbpod", "--force", check=False)
        cli.cleanup()


def _line(kind: str, text: str, uuid: str) -> str:
    return json.dumps({"type": kind, "uuid": uuid, "timestamp": "2026-01-01T00:00:00Z",
                       "message": {"role": kind, "content": text}}) + "\n"


def test_pod_transcript_pages(kube: FakeKubeThread, short_tmp: Path, git_repo: Path) -> None:
    cli, kubeconfig = _pod_cli(kube, short_tmp)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    backend = KubernetesBackend(KubernetesSettings(kubeconfig=str(kubeconfig), namespace=NAMESPACE), "unused")
    try:
        created = cli("create", "--repo", str(git_repo), "--name", "chat", "--backend", "kubernetes",
                      "--agent", "shell", "--json").json()
        pod = Pod(backend, created["backend_id"], loop)
        project = kube.api.volume_dir(NAMESPACE, created["backend_id"]) / "home" / ".claude" / "projects" / "-workspace"
        project.mkdir(parents=True)
        lines = [_line("user" if n % 2 == 0 else "assistant", f"message {n}", f"u{n}") for n in range(30)]
        (project / "older.jsonl").write_text(_line("user", "old conversation", "o1"))
        os.utime(project / "older.jsonl", (1, 1))
        (project / "conv.jsonl").write_text("".join(lines) + '{"partial": ')  # a line still being written
        # a link planted out of the agent home is never read, even when it is the newest
        os.symlink("/etc/passwd", project / "zzz.jsonl")

        fake_session = _session_like(created)
        reading = asyncio.to_thread(transcript_page, pod, fake_session, None, 10)
        page = asyncio.run_coroutine_threadsafe(reading, loop).result(60)
        assert page["file"] == ".claude/projects/-workspace/conv.jsonl"
        assert [m["text"] for m in page["messages"]] == [f"message {n}" for n in range(20, 30)]
        assert page["end"] == len("".join(lines).encode()) and page["malformed"] == 0 and page["lines"] == 10
        assert page["before"] == f".claude/projects/-workspace/conv.jsonl:{page['start']}"

        earlier = asyncio.run_coroutine_threadsafe(
            asyncio.to_thread(transcript_page, pod, fake_session, page["before"], 100), loop).result(60)
        assert [m["text"] for m in earlier["messages"]] == [f"message {n}" for n in range(20)]
        assert earlier["start"] == 0 and earlier["before"] is None
        with pytest.raises(ClauderonError, match="not a cursor"):
            asyncio.run_coroutine_threadsafe(
                asyncio.to_thread(transcript_page, pod, fake_session, ".claude/projects/-workspace/zzz.jsonl:10", 5),
                loop).result(60)
    finally:
        asyncio.run_coroutine_threadsafe(backend.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        cli("delete", "chat", "--force", check=False)
        cli.cleanup()


class _session_like:  # noqa: N801 - a Session's fields the transcript reader uses
    def __init__(self, created: dict) -> None:
        self.name = created["name"]
        self.agent = "claude"
        self.agent_session_id = None
