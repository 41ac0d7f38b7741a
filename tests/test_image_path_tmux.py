"""A newcomer in tmux (issue 18): a fresh home whose default image does not exist yet. The header says so, the
create dialog marks it missing and builds it with its lines shown live (the debootstrapped test base stands
in for buildpack-deps offline), and the header's warning goes."""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.conftest import TEST_BASE_IMAGE
from tests.test_tui_e2e_tmux import Tmux

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timeout(900)]

BUILT = "clauderon-test-new:latest"


def _remove_built() -> None:
    import docker
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        docker.from_env().images.remove(BUILT, force=True)


def test_a_newcomer_builds_the_missing_default_image_from_the_dialog(short_tmp: Path) -> None:
    _remove_built()
    cli = Cli(short_tmp / "home", image=BUILT)
    build_env = {"CLAUDERON_DOCKER_BUILD_BASE": TEST_BASE_IMAGE, "CLAUDERON_DOCKER_BUILD_AGENTS": '["claude", "codex"]'}
    # COLUMNS/LINES: under pytest they hold 80x24, which the app would take over the pane's own size.
    app = Tmux(f"{shlex.quote(sys.executable)} -m clauderon_tui.cli",
               {"CLAUDERON_HOME": str(cli.home), "COLUMNS": "150", "LINES": "50", **build_env}, cols=150, rows=50)
    try:
        app.wait_for(f"⚠ agent image: {BUILT} missing")
        app.keys("n")
        app.wait_for(f"{BUILT}  (default, missing)")
        app.wait_for(f"from {TEST_BASE_IMAGE}")  # the offer (wrapped where the pane is narrow)
        app.keys("C-g")
        app.wait_for(f"building {BUILT} from {TEST_BASE_IMAGE}", timeout=300)  # a live line of the engine's build
        app.wait_for(f"built {BUILT}", timeout=600)
        app.wait_for(f"{BUILT}  (default)")
        deadline = time.monotonic() + 60
        while "⚠" in app.screen().splitlines()[0] and time.monotonic() < deadline:  # the header's warning goes
            time.sleep(0.2)
        assert "⚠" not in app.screen().splitlines()[0]
        assert subprocess.run(["docker", "image", "inspect", BUILT], capture_output=True).returncode == 0
        app.keys("Escape")
        app.keys("C-q")
        app.wait_exit()
    finally:
        app.kill()
        cli.cleanup()
        _remove_built()
