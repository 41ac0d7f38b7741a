"""Shared test setup: snapshot location, the Docker gate, short homes and throwaway git repos."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import pytest_textual_snapshot
from syrupy.location import PyTestLocation

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_DIR = ROOT / "snapshots"

# Test images: built by `python -m tests.images` (run by `make test`), cached by tag.
TEST_BASE_IMAGE = "clauderon-test-base:bookworm"
TEST_AGENT_IMAGE = "clauderon-test-agent:latest"
TEST_GEMINI_IMAGE = "clauderon-test-gemini:latest"  # the Gemini CLI and its Node 20, beside the agent image

# The product's default agent is `claude`; a test that names no agent gets a shell (fast, and needs no model
# credential): every CLI and engine the tests start reads this override (`[session] agent`). The tests of the
# default itself remove it (tests/test_cli_config.py).
DEFAULT_AGENT_ENV = "CLAUDERON_SESSION_AGENT"
os.environ.setdefault(DEFAULT_AGENT_ENV, "shell")
SHELL_BY_DEFAULT = {DEFAULT_AGENT_ENV: "shell"}
"""`environ` for a test's `load_settings` that shuts out the machine's environment but keeps the shell default."""


def _snapshot_dirname(cls, *, test_location: PyTestLocation) -> str:
    return str(SNAPSHOT_DIR / Path(test_location.filepath).stem)


# Snapshots live in the top-level snapshots/ folder (the design card), not beside each test.
pytest_textual_snapshot.SVGImageExtension.dirname = classmethod(_snapshot_dirname)


def docker_reachable() -> tuple[bool, str]:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.images.get(TEST_AGENT_IMAGE)
        return True, ""
    except ImportError:
        return False, "docker SDK not installed"
    except Exception as exc:  # any failure means "no usable engine or image"
        return False, (f"no usable Docker engine or test image ({exc.__class__.__name__}); "
                       "run `make test` with dockerd up")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("docker") for item in items):
        return
    ok, reason = docker_reachable()
    if ok:
        remove_orphans_of_dead_test_runs()
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true requires Docker for the docker tests: {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(skip)


def remove_orphans_of_dead_test_runs() -> None:
    """A test run killed mid-way (CI timeout, a restarted machine) leaves containers behind whose names would
    refuse the next run's sessions. A container is the orphan of a dead run when all it mounts lies in one
    temporary test directory (`/tmp/cl-*`) that is gone, or whose engines are all stopped."""
    import docker

    client = docker.from_env(timeout=10)
    for container in client.containers.list(all=True, filters={"label": "clauderon.home"}):
        sources = {m.get("Source", "") for m in container.attrs.get("Mounts", []) if m.get("Type") == "bind"}
        roots = {Path(*Path(s).parts[:3]) for s in sources}
        if len(roots) != 1 or not (root := roots.pop()).name.startswith("cl-") or root.parent != Path("/tmp"):
            continue
        locks = list(root.glob("*/engine.lock"))
        if not root.exists() or (locks and not any(_held(lock) for lock in locks)):
            container.remove(force=True)


def _held(lock: Path) -> bool:
    import fcntl

    with open(lock, "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


@pytest.fixture
def short_tmp() -> Path:
    """A short temporary directory (unix socket paths must stay under ~104 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="cl-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def home_dir(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CLAUDERON_HOME, exported for subprocesses."""
    home = short_tmp / "h"
    monkeypatch.setenv("CLAUDERON_HOME", str(home))
    return home


def run_git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.test",
             "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.test"},
    ).stdout


@pytest.fixture
def git_repo(short_tmp: Path) -> Path:
    """A git repository with one commit on `main`."""
    repo = short_tmp / "repo"
    repo.mkdir()
    umask = os.umask(0o022)  # as a user's repository usually is (the test process may run under 077)
    try:
        _fill_repo(repo)
    finally:
        os.umask(umask)
    return repo


def _fill_repo(repo: Path) -> None:
    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo, "config", "core.sharedRepository", "world")  # later commits too, whatever the umask
    run_git(repo, "config", "user.name", "Test User")
    run_git(repo, "config", "user.email", "test@example.test")
    (repo / "README.md").write_text("hello\n")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("print('hi')\n")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-q", "-m", "initial")


@pytest.fixture
def host(short_tmp: Path):
    """An in-process engine (local backend, no Docker) on a fresh home; its sessions are removed after."""
    import asyncio

    from runtime.engine.host import EngineHost, try_lock
    from runtime.home import Home
    from runtime.settings import load_settings

    home = Home.open(short_tmp / "h")
    home.config_file.write_text('[session]\nbackend = "local"\nagent = "shell"\n[engine]\non_exit = "stop"\n')
    engine_host = EngineHost(home, load_settings(home, environ={}), try_lock(home))
    engine_host.start()
    yield engine_host
    if engine_host.engine is not None:
        for session in engine_host.engine.store.sessions():
            remove = engine_host.engine.backends["local"].remove(session.id)
            asyncio.run_coroutine_threadsafe(remove, engine_host.loop).result(30)
    engine_host.stop()


@pytest.fixture
def cli(short_tmp: Path):
    """The real CLI on a fresh home whose docker sessions use the test image with the default (sealed)
    network; every engine and container it made is gone afterwards."""
    from tests.cli_harness import Cli

    c = Cli(short_tmp / "home", image=TEST_AGENT_IMAGE)
    yield c
    c.cleanup()


@pytest.fixture
def kube(short_tmp: Path):
    """The fake Kubernetes API server on its own loop thread (for tests that drive the CLI)."""
    from tests.fakes.kube_api import FakeKubeThread

    fake = FakeKubeThread(short_tmp / "kube")
    yield fake
    fake.stop()
