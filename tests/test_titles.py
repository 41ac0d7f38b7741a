"""Session titles from the prompt: one small model call with the user's own credential, put on by the proxy's rule
table and sent where `[routes]` says (here, the fake Anthropic and OpenAI upstreams on loopback)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from pathlib import Path

import pytest

from proxy import CredentialStore, build_rules
from runtime.api.client import EngineClient
from runtime.engine.host import EngineHost, try_lock
from runtime.engine.records import SessionRecords
from runtime.engine.tasks import BackgroundTasks
from runtime.engine.titles import TitleMaker, parse_title
from runtime.events import EventBus
from runtime.home import Home
from runtime.models import Session
from runtime.settings import TitlesSettings, load_settings
from runtime.store import Store
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI

pytestmark = pytest.mark.timeout(120)

ANSWER = '{"title": "Add a \\u001b[31mclick counter", "description": "Counts clicks on the widget."}'


def session(agent: str) -> Session:
    return Session(name="s", repo_path="/r", base_branch="main", branch="clauderon/s", worktree_path="/w", agent=agent,
                   initial_prompt="Add a click counter to the widget")


def maker(tmp: Path, routes: dict[str, str], secret_files: dict[str, str], environ: dict[str, str] | None = None,
          **settings) -> TitleMaker:
    store_dir = tmp / "secrets"
    store_dir.mkdir(mode=0o700, parents=True)
    for name, value in secret_files.items():
        (store_dir / name).write_text(value)
        (store_dir / name).chmod(0o600)
    credentials = CredentialStore(secrets_dir=store_dir, environ={"HOME": str(tmp), **(environ or {})})
    records = SessionRecords(Store(Home.open(tmp / "home")), EventBus())
    return TitleMaker(TitlesSettings(**settings), routes, credentials, build_rules(), records, BackgroundTasks())


def test_the_answer_becomes_one_plain_bounded_line() -> None:
    expected = ("Add a click counter", "Counts clicks on the widget.")
    assert parse_title("Sure! " + ANSWER + " Hope that helps.") == expected
    assert parse_title('{"title": "' + "x" * 500 + '"}') == ("x" * 80, "")
    for junk in ("no json here", '{"description": "no title"}', '{"title": "   "}', "{broken"):
        assert parse_title(junk) is None, junk


async def test_claude_sessions_are_titled_with_the_users_anthropic_key(tmp_path: Path) -> None:
    fake = FakeAnthropic(default_reply=ANSWER)  # a side call: the fake answers it with its default reply
    key = "sk-ant-api03-" + secrets.token_urlsafe(40)
    await fake.start()
    try:
        titles = maker(tmp_path, {"api.anthropic.com": fake.base_url}, {"anthropic_api_key": key},
                       anthropic_model="claude-haiku-test")
        assert await titles.make(session("claude")) == ("Add a click counter", "Counts clicks on the widget.")
        [call] = fake.requests
        assert call.path == "/v1/messages" and call.header("x-api-key") == key
        assert call.json["model"] == "claude-haiku-test"
        assert "Add a click counter to the widget" in call.json["messages"][0]["content"]
        fake.default_reply = "I cannot help with that."
        assert await titles.make(session("claude")) is None  # no title in the answer: none, nothing raised
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        unreachable = maker(tmp_path / "down", {"api.anthropic.com": f"http://127.0.0.1:{port}"},
                            {"anthropic_api_key": key})
        task = unreachable.schedule(session("claude"))
        assert task is not None
        await task  # the upstream cannot be reached: one log line, no title, nothing raised
    finally:
        await fake.stop()


async def test_codex_sessions_are_titled_with_the_users_openai_key(tmp_path: Path) -> None:
    fake = FakeOpenAI(default_reply=ANSWER)
    key = "sk-" + secrets.token_urlsafe(40)
    await fake.start()
    try:
        titles = maker(tmp_path, {"api.openai.com": fake.base_url}, {"openai_api_key": key})
        assert await titles.make(session("codex")) == ("Add a click counter", "Counts clicks on the widget.")
        [call] = fake.requests
        assert call.path == "/v1/responses" and call.header("Authorization") == f"Bearer {key}"
        assert call.json["model"] == "gpt-4o-mini"
    finally:
        await fake.stop()


async def test_a_claude_sign_in_token_goes_as_claude_code_sends_it(tmp_path: Path) -> None:
    fake = FakeAnthropic(default_reply=ANSWER)
    token = "sk-ant-oat01-" + secrets.token_urlsafe(40)
    await fake.start()
    try:
        titles = maker(tmp_path, {"api.anthropic.com": fake.base_url}, {"anthropic_oauth_token": token})
        assert await titles.make(session("claude")) is not None
        [call] = fake.requests
        assert call.header("Authorization") == f"Bearer {token}" and call.header("x-api-key") is None
        assert call.header("anthropic-beta") == "oauth-2025-04-20" and "Claude Code" in call.json["system"]
    finally:
        await fake.stop()


async def test_a_chatgpt_sign_in_is_not_an_openai_api_key(tmp_path: Path) -> None:
    fake = FakeOpenAI(default_reply=ANSWER)
    await fake.start()
    try:
        titles = maker(tmp_path, {"api.openai.com": fake.base_url}, {},
                       {"CODEX_ACCESS_TOKEN": "clauderon-test-access", "CODEX_REFRESH_TOKEN": "clauderon-test-refresh"})
        assert titles.credentials.has("codex_oauth")
        assert await titles.make(session("codex")) is None and fake.requests == []
    finally:
        await fake.stop()


async def test_without_a_credential_or_with_titles_off_nothing_is_sent(tmp_path: Path) -> None:
    fake = FakeAnthropic(default_reply=ANSWER)
    await fake.start()
    try:
        titles = maker(tmp_path, {"api.anthropic.com": fake.base_url}, {})
        assert await titles.make(session("claude")) is None
        assert await titles.make(session("shell")) is None
        off = maker(tmp_path / "off", {"api.anthropic.com": fake.base_url}, {"anthropic_api_key": "sk-ant-x"},
                    enabled=False)
        assert off.schedule(session("claude")) is None
        assert fake.requests == []
    finally:
        await fake.stop()


def test_a_new_session_gets_its_title_in_the_background_and_rename_edits_it(short_tmp: Path, git_repo: Path) -> None:
    fake = FakeAnthropic(default_reply=ANSWER)
    fake.start_in_thread()
    home = Home.open(short_tmp / "h")
    home.config_file.write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    home.proxy_config_file.write_text(f'[routes]\n"api.anthropic.com" = "{fake.base_url}"\n')
    key = "sk-ant-api03-" + secrets.token_urlsafe(40)
    (home.secrets / "anthropic_api_key").write_text(key)
    (home.secrets / "anthropic_api_key").chmod(0o600)
    engine_host = EngineHost(home, load_settings(home, environ={}), try_lock(home))
    engine_host.start()
    try:
        asyncio.run(_titled_then_renamed(home, git_repo))
        assert len(fake.requests) == 1
        logs = "".join(p.read_text(errors="replace") for p in home.logs.rglob("*") if p.is_file())
        assert key not in logs
    finally:
        engine_host.stop()
        fake.stop_thread()


async def _titled_then_renamed(home: Home, repo: Path) -> None:
    client = EngineClient(home)
    try:
        created = await client.create_session({"repo": str(repo), "name": "counter", "agent": "claude",
                                               "prompt": "Add a click counter to the widget"})
        assert created.title is None  # create did not wait for it
        deadline = time.monotonic() + 30  # a bound for slow machines, not a speed check
        titled = created
        while time.monotonic() < deadline and not titled.title:
            await asyncio.sleep(0.05)
            titled = await client.get_session("counter")
        assert (titled.title, titled.description) == ("Add a click counter", "Counts clicks on the widget.")
        assert (titled.name, titled.branch) == ("counter", "clauderon/counter")  # display fields only
        while titled.status == "creating" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            titled = await client.get_session("counter")
        assert titled.status != "creating" and titled.title == "Add a click counter"  # the create's last write kept it
        renamed = await client.rename_session("counter", title="Counter \x1b]0;pwned\x07widget", description="")
        assert (renamed.title, renamed.description) == ("Counter widget", None)
    finally:
        await client.close()


def test_rename_from_the_cli(short_tmp: Path, git_repo: Path) -> None:
    from tests.cli_harness import Cli

    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    try:
        cli("create", "--repo", str(git_repo), "--name", "plain", "--agent", "shell", "--backend", "local")
        out = cli("rename", "plain", "--title", "Fix the login", "--description", "Tokens expire too soon").out
        assert out.strip() == "plain: Fix the login — Tokens expire too soon"
        [listed] = cli("list", "--json").json()
        assert (listed["name"], listed["title"], listed["branch"]) == ("plain", "Fix the login", "clauderon/plain")
        refused = cli("rename", "plain", check=False)
        assert refused.code == 1
        assert refused.err.strip() == "clauderon: nothing to rename: give a title or a description"
    finally:
        cli("delete", "plain", "--force", check=False)
        cli.cleanup()


async def test_e_edits_the_title_in_the_app() -> None:
    from textual.widgets import Input

    from clauderon_tui.screens.rename import RenameScreen
    from tests.fake_engine import fake_app, wait_until

    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.sessions, "sessions")
        app.show_session("id-fix-login")
        app.sidebar.session_list.focus()
        await pilot.pause()
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen) and app.screen.query("#rename-title"),
                         "the dialog")
        app.screen.query_one("#rename-title", Input).value = "Login tokens"
        app.screen.query_one("#rename-description", Input).value = "They expire after a minute"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].title == "Login tokens", "the new title")
        assert app.sessions["id-fix-login"].description == "They expire after a minute"
        row = str(app.sidebar.session_list.get_option("id-fix-login").prompt).splitlines()[0]
        assert "fix-login" in row and "Login tokens" in row
