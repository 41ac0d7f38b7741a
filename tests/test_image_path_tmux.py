"""A newcomer's first five minutes in tmux (issue 18), with the real app, engine, Docker and Claude Code: the
default image is built from the dialog (the debootstrapped test base stands in for buildpack-deps offline), the
credential preflight, the fake model's reply on screen, keyboard-only switching, the quit line, a restart."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.conftest import DEFAULT_AGENT_ENV, TEST_BASE_IMAGE, run_git
from tests.fakes import make_test_certificate
from tests.fakes.anthropic import FakeAnthropic
from tests.secret_scan import env_without_credentials
from tests.test_tui_e2e_tmux import Tmux

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timeout(900)]

BUILT = "clauderon-test-new:latest"


def _remove_built() -> None:
    import docker
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        docker.from_env().images.remove(BUILT, force=True)


def _wait_for_a_suggested_name(app: Tmux) -> None:
    """The dialog names the session from its prompt (a request to the engine): wait until the name field holds
    one rather than its placeholder (a deadline for slow machines, not a speed check)."""
    deadline = time.monotonic() + 30
    while "lowercase-with-dashes" in app.screen() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "lowercase-with-dashes" not in app.screen(), app.screen()


def test_a_newcomers_first_five_minutes(short_tmp: Path) -> None:
    """Fresh home, `clauderon` in a repository, `n`: the default image is missing and is built from the dialog;
    a claude session without a credential is refused with the three ways to give one; with the secret file it
    is created and the (fake) model's reply shows on screen; a second session, switching with the keyboard
    only; `q` says where the sessions live on, and the next `clauderon` finds both."""
    _remove_built()
    reply = f"NEWCOMER-REPLY-{secrets.token_hex(3)}"
    fake = FakeAnthropic(default_reply=reply)
    cert = make_test_certificate(short_tmp / "tls", ["localhost"])
    url = fake.start_in_thread(ssl_context=cert.server_context())
    cli = Cli(short_tmp / "home", image=BUILT)
    (cli.home / "proxy.toml").write_text(
        f'[proxy]\nupstream_ca_bundle = "{cert.ca}"\n[routes]\n"api.anthropic.com" = "{url}"\n')
    repo = short_tmp / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-q", "-m", "initial")
    env = {k: v for k, v in env_without_credentials(cli.env, short_tmp).items() if k != DEFAULT_AGENT_ENV}
    env.update({"CLAUDERON_DOCKER_BUILD_BASE": TEST_BASE_IMAGE, "CLAUDERON_DOCKER_BUILD_AGENTS": '["claude"]',
                "CLAUDERON_ENGINE_ON_EXIT": "handoff",
                # under pytest COLUMNS/LINES hold 80x24, which the app would take over the pane's own size
                "COLUMNS": "150", "LINES": "50"})
    cli.env = env
    # tmux's server has this process's environment: drop what the newcomer's shell would not have.
    unset = " ".join(f"-u {key}" for key in sorted(set(os.environ) - set(env)))
    command = f"env {unset} {shlex.quote(sys.executable)} -m clauderon_tui.cli"
    changed = {key: value for key, value in env.items() if os.environ.get(key) != value}
    app = Tmux(command, changed, cols=150, rows=50, cwd=repo)
    try:
        app.wait_for(f"⚠ agent image: {BUILT} missing")
        app.keys("n")
        app.wait_for(f"{BUILT}  (default, missing)")
        app.keys("C-g")
        app.wait_for(f"building {BUILT} from {TEST_BASE_IMAGE}", timeout=300)  # a live line of the engine's build
        app.wait_for(f"built {BUILT}", timeout=600)
        app.wait_for(f"{BUILT}  (default)")
        assert subprocess.run(["docker", "image", "inspect", BUILT], capture_output=True).returncode == 0

        # A claude session with no credential anywhere: refused, saying what to set and where.
        app.keys("Escape")
        time.sleep(0.5)  # Esc then n at once is alt+n to a terminal program
        app.keys("n")
        app.wait_for(str(repo))  # the repository `clauderon` was started in
        app.keys("Tab")
        app.type("say hello")
        _wait_for_a_suggested_name(app)
        app.keys("C-s")
        shown = app.wait_for("✖ claude needs")  # the refusal, beside the same line shown under the agent early
        flat = " ".join(shown.replace("│", " ").split())
        assert "claude needs anthropic_oauth_token or anthropic_api_key" in flat
        assert "ANTHROPIC_API_KEY" in flat and "op://" in flat and "anthropic_api_key (chmod 600)" in flat
        assert cli("list", "--json").json() == []

        # The third way: the secret file. The same Create now goes through and the model's reply shows.
        secret = cli.home / "secrets" / "anthropic_api_key"
        secret.write_text("sk-ant-api03-" + secrets.token_urlsafe(40))
        secret.chmod(0o600)
        app.keys("C-s")
        try:
            app.wait_for(reply, timeout=300)
        except AssertionError as exc:
            logs = "\n".join(p.read_text()[-3000:] for p in (cli.home / "logs").glob("*.log"))
            raise AssertionError(f"{exc}\n{cli('list', '--json').out}\n{logs}") from None
        [first] = cli("list", "--json").json()

        # A second session from the keyboard: prefix, then o to the list, n, a prompt, create.
        app.keys("C-]", "o")
        app.keys("n")
        app.wait_for("New session")
        app.wait_for(str(repo))  # the dialog has mounted (it fills the repository in), focused on it
        app.keys("Tab")
        app.type("second one")
        _wait_for_a_suggested_name(app)
        app.keys("C-s")
        deadline = time.monotonic() + 180
        while len(cli("list", "--json").json()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        names = [s["name"] for s in cli("list", "--json").json()]
        second = next(name for name in names if name != first["name"])
        app.wait_for(f"● {second}", timeout=120)
        # Switch back and forth with the prefix then k / j (previous / next), seeing each terminal.
        app.keys("C-]", "k")
        app.wait_for(reply)
        app.keys("C-]", "o")
        app.keys("q")
        said = app.wait_for("2 sessions keep running in the background engine (pid ")
        assert "brings them back" in " ".join(said.split())
    finally:
        app.kill()

    again = Tmux(command, changed, cols=150, rows=50, cwd=repo)
    try:
        again.wait_for(first["name"])
        again.wait_for(second)
        statuses = {s["name"]: s["status"] for s in cli("list", "--json").json()}
        assert statuses == {first["name"]: "running", second: "running"}
        again.keys("Enter")
        again.wait_for(reply)
    finally:
        again.kill()
        cli.cleanup()
        fake.stop_thread()
        _remove_built()
