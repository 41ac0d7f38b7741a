"""Pilot tests for the create dialog and the delete confirmation."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Checkbox, Input, RadioButton, RadioSet, TextArea

from clauderon_tui.screens.confirm_delete import ConfirmDeleteScreen
from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.widgets.terminal import TerminalView
from runtime.models import Status
from tests.fake_engine import HEALTH_OK, FakeEngineClient, fake_app, sample_sessions, wait_until
from tests.test_launch_options import BAD_ENV, BAD_ENV_LINE, BAD_MOUNT, BAD_MOUNT_LINE

SIZE = (120, 36)


async def _open_create(pilot) -> CreateSessionScreen:
    app = pilot.app
    await wait_until(pilot, lambda: app.sessions, "the first snapshot")
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, CreateSessionScreen), "the create dialog")
    screen = app.screen
    await wait_until(pilot, lambda: screen.query_one("#repo", Input).value, "recent repos")
    return screen


def _pick_agent(screen: CreateSessionScreen, name: str) -> None:
    [button] = [b for b in screen.query_one("#agent", RadioSet).query(RadioButton) if b.name == name]
    button.value = True


async def test_create_success_selects_and_focuses_the_new_session() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        assert screen.query_one("#repo", Input).value == "/home/dev/src/webapp"
        screen.query_one("#prompt", TextArea).text = "Fix the flaky login test"
        await wait_until(pilot, lambda: screen.query_one("#name", Input).value == "fix-flaky-login-test",
                         "the suggested name")
        _pick_agent(screen, "codex")
        screen.query_one("#env", TextArea).text = "DEBUG=1\nMODE=fast"
        screen.query_one("#mounts", TextArea).text = "/data:/mnt/data:ro"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CreateSessionScreen), "the dialog to close")
        request = app.client.create_requests[0]
        assert request["repo"] == "/home/dev/src/webapp"
        assert request["name"] == "fix-flaky-login-test"
        assert request["agent"] == "codex"
        assert request["backend"] == "docker"
        assert request["prompt"] == "Fix the flaky login test"
        assert request["env"] == {"DEBUG": "1", "MODE": "fast"}
        assert request["mounts"] == ["/data:/mnt/data:ro"]
        new = app.sessions[app.selected_id]
        assert new.name == "fix-flaky-login-test" and new.status == Status.RUNNING
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView), "the terminal focus")


async def test_a_quick_typists_tab_and_words_land_in_the_next_field() -> None:
    """Tab and words queued together, as a quick typist on a slow machine sends them: the Tab moves the focus
    before the words are handed out, so they land in the prompt, not the repository field."""
    from textual import events

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        repo, prompt = screen.query_one("#repo", Input), screen.query_one("#prompt", TextArea)
        await wait_until(pilot, lambda: app.focused is repo, "the repository field focused as the dialog opens")
        for key in ["tab", "f", "i", "x"]:
            app.post_message(events.Key(key, None if key == "tab" else key))
        await wait_until(pilot, lambda: prompt.text == "fix", "the words in the prompt")
        assert repo.value == "/home/dev/src/webapp"
        for key in ["shift+tab", "!"]:
            app.post_message(events.Key(key, None if key == "shift+tab" else key))
        await wait_until(pilot, lambda: repo.value.endswith("!"), "back in the repository field")


async def test_create_failure_stays_open_with_the_error() -> None:
    client = FakeEngineClient(sample_sessions())
    client.fail_next_create = "image clauderon-agent:latest not found; run `clauderon image build`"
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#name", Input).value = "doomed"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "not found" in str(screen.query_one("#create-error").render()),
                         "the error in the dialog")
        assert app.screen is screen
        assert "2/3" in str(screen.query_one("#progress").render())
        assert not screen.query_one("#submit", Button).disabled


async def test_create_refused_by_engine_shows_error() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#name", Input).value = "fix-login-bug"  # taken
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "already exists" in str(screen.query_one("#create-error").render()),
                         "the conflict")
        assert app.screen is screen


async def test_invalid_name_is_flagged_inline_and_not_sent() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        name = screen.query_one("#name", Input)
        name.focus()
        await pilot.press("B", "a", "d")
        error = screen.query_one("#name-error")
        await wait_until(pilot, lambda: error.display, "the inline error")
        assert "a-z" in str(error.render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.client.create_requests == []
        name.value = "good-name"
        await wait_until(pilot, lambda: not error.display, "the error to clear")


async def test_unavailable_backend_is_disabled_with_reason() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        buttons = {b.name: b for b in screen.query_one("#backend", RadioSet).query("RadioButton")}
        assert buttons["kubernetes"].disabled
        assert "no kubeconfig found" in str(buttons["kubernetes"].label)
        assert "unsandboxed" in str(buttons["local"].label)
        assert not buttons["docker"].disabled


async def test_bad_advanced_fields_open_advanced_and_block() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#name", Input).value = "ok-name"
        screen.query_one("#cpu", Input).value = "lots"
        screen.query_one("#mounts", TextArea).text = "relative:/x"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.client.create_requests == []
        assert not screen.query_one("#advanced").collapsed
        text = str(screen.query_one("#advanced-error").render())
        assert "cpu" in text and "mounts: 'relative:/x' is not HOST:PATH[:ro]" in text


@pytest.mark.parametrize(("field", "text", "line"), [("#env", f"OK=1\n{BAD_ENV}", BAD_ENV_LINE),
                                                    ("#mounts", f"\n {BAD_MOUNT} \n", BAD_MOUNT_LINE)])
async def test_dialog_refuses_env_and_mounts_with_the_apis_line(field: str, text: str, line: str) -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#name", Input).value = "ok-name"
        screen.query_one(field, TextArea).text = text
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.client.create_requests == []
        assert str(screen.query_one("#advanced-error").render()) == line


async def test_create_with_a_model_and_plan_mode() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#name", Input).value = "planned"
        _pick_agent(screen, "claude")
        model = screen.query_one("#model", Input)
        await wait_until(pilot, lambda: not model.disabled and "opus" in model.placeholder, "claude's models")
        model.focus()
        await pilot.press("s", "o", "n")
        await wait_until(pilot, lambda: model._suggestion == "sonnet", "the known model suggested")
        await pilot.press("right")  # take the suggestion
        assert model.value == "sonnet"
        screen.query_one("#plan-mode", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CreateSessionScreen), "the dialog to close")
        request = app.client.create_requests[0]
        assert (request["agent"], request["model"], request["plan_mode"]) == ("claude", "sonnet", True)
        assert app.sessions[app.selected_id].model == "sonnet"


async def test_a_bad_model_is_refused_inline_and_the_shell_takes_none() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#name", Input).value = "ok-name"
        _pick_agent(screen, "codex")
        model = screen.query_one("#model", Input)
        # codex has no plan mode (claude, the default, has)
        await wait_until(pilot, lambda: screen.query_one("#plan-mode", Checkbox).disabled, "codex's options")
        assert not model.disabled
        model.value = "gpt 5; rm -rf /"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.client.create_requests == []
        assert "is not a model name" in str(screen.query_one("#model-error").render())
        _pick_agent(screen, "shell")
        await wait_until(pilot, lambda: model.disabled, "the model field off for the shell")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.client.create_requests, "the create")
        assert app.client.create_requests[0]["model"] is None


async def test_the_dialog_is_claude_by_default_and_says_early_what_a_create_would_be_refused_for() -> None:
    """The engine's health names each agent's credential problem: the dialog shows it as soon as the agent is
    chosen, its checkbox sends `skip_credential_check`, and a prompt for the shell is said to be ignored."""
    problem = ("claude needs anthropic_oauth_token or anthropic_api_key: set CLAUDE_CODE_OAUTH_TOKEN or "
               "ANTHROPIC_API_KEY, or add an op:// reference under [onepassword.credentials] in proxy.toml, or put "
               "it in ~/.clauderon/secrets/anthropic_api_key (chmod 600)")
    health = {**HEALTH_OK, "agents": {"claude": {"credential_problem": problem}, "codex": {"credential_problem": None},
                                      "gemini": {"credential_problem": None}, "shell": {"credential_problem": None}}}
    app = fake_app(FakeEngineClient(sample_sessions(), health=health))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.health.get("agents"), "the engine's health")
        screen = await _open_create(pilot)
        note = screen.query_one("#agent-note")
        assert screen.query_one("#agent", RadioSet).pressed_button.name == "claude"
        await wait_until(pilot, lambda: note.display, "the credential note")
        assert str(note.render()) == f'{problem}; or tick "skip the credential check" under advanced'
        _pick_agent(screen, "codex")
        await wait_until(pilot, lambda: not note.display, "no note for an agent the host has a credential for")
        _pick_agent(screen, "claude")
        await wait_until(pilot, lambda: note.display, "the note again")
        screen.query_one("#skip-credential-check", Checkbox).value = True
        await wait_until(pilot, lambda: not note.display, "the note gone once the check is skipped")
        screen.query_one("#name", Input).value = "anyway"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.client.create_requests, "the create")
        assert app.client.create_requests[0]["skip_credential_check"] is True
        assert app.client.create_requests[0]["agent"] == "claude"


async def test_a_prompt_for_the_shell_is_said_to_be_ignored_in_the_dialog() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        note = screen.query_one("#agent-note")
        _pick_agent(screen, "shell")
        screen.query_one("#prompt", TextArea).text = "fix the login bug"
        await wait_until(pilot, lambda: note.display, "the warning")
        assert str(note.render()) == ("the shell agent ignores the prompt (nothing is typed into its shell); "
                                      "claude or codex or gemini takes it")
        _pick_agent(screen, "claude")
        await wait_until(pilot, lambda: not note.display, "no warning for an agent that takes the prompt")
        screen.query_one("#name", Input).value = "prompted"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.client.create_requests, "the create")
        assert "skip_credential_check" not in app.client.create_requests[0]


async def test_images_at_create_are_checked_inline_and_sent_as_paths(tmp_path) -> None:
    picture = tmp_path / "my screen.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#name", Input).value = "with-pics"
        images = screen.query_one("#images", Input)
        images.value = str(tmp_path / "notes.txt")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.client.create_requests == []
        assert "PNG, JPEG, GIF or WebP" in str(screen.query_one("#images-error").render())
        images.value = "'" + str(picture) + "'"  # as a terminal pastes a dropped file with a space in its name
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.client.create_requests, "the create")
        assert app.client.create_requests[0]["images"] == [str(picture)]


async def test_delete_confirm_deletes() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "snapshot")
        app.show_session("id-refactor-")
        await pilot.pause()
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeleteScreen), "the confirmation")
        assert "branch" in str(app.screen.query("Static")[1].render())
        await pilot.click("#delete")
        await wait_until(pilot, lambda: "id-refactor-" not in app.sessions, "the deletion")
        assert ("delete", ("id-refactor-", False)) in app.client.calls


async def test_delete_cancel_keeps_the_session() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "snapshot")
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeleteScreen), "the confirmation")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDeleteScreen), "cancel")
        assert not [c for c in app.client.calls if c[0] == "delete"]


async def test_delete_refused_offers_force() -> None:
    client = FakeEngineClient(sample_sessions())
    client.delete_refusal = "worktree has uncommitted changes (2 files); commit them or delete with force"
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "snapshot")
        app.show_session("id-refactor-")
        await pilot.pause()
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeleteScreen), "the confirmation")
        screen = app.screen
        assert not screen.query_one("#force").display
        await pilot.click("#delete")
        await wait_until(pilot, lambda: "uncommitted" in str(screen.query_one("#error").render()), "the refusal")
        assert "id-refactor-" in app.sessions
        await wait_until(pilot, lambda: screen.query_one("#force").display, "the force button")
        await pilot.click("#force")
        await wait_until(pilot, lambda: "id-refactor-" not in app.sessions, "the forced deletion")
        assert ("delete", ("id-refactor-", True)) in client.calls
