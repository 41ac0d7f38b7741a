"""The create dialog's image selector and the header's doctor warnings, on the fake engine (the real engine's
side: tests/test_image_build_docker.py)."""

from __future__ import annotations

import asyncio

from textual.widgets import Button, Input, Select

from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.widgets.health_bar import HealthBar
from tests.fake_engine import HEALTH_OK, FakeEngineClient, fake_app, sample_sessions, wait_until

SIZE = (120, 40)


def _missing_default(client: FakeEngineClient) -> FakeEngineClient:
    client.image_listing["images"][0]["present"] = False
    return client


async def _open_create(pilot) -> CreateSessionScreen:
    app = pilot.app
    await wait_until(pilot, lambda: app.sessions, "the first snapshot")
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, CreateSessionScreen), "the create dialog")
    screen = app.screen
    await wait_until(pilot, lambda: screen.query_one("#repo", Input).value, "recent repos")
    await wait_until(pilot, lambda: screen.query_one("#image-picker").listing, "the images")
    return screen


def _options(screen: CreateSessionScreen) -> list[str]:
    select = screen.query_one("#image", Select)
    return [str(prompt) for prompt, _ in select._options]  # noqa: SLF001 - what the list shows


async def test_the_default_is_listed_first_and_marked_missing_and_create_is_refused_before_it_starts() -> None:
    client = _missing_default(FakeEngineClient(sample_sessions()))
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        assert _options(screen) == ["clauderon-agent:latest  (default, missing)", "my-agent:dev"]
        shown = screen.query_one("#image", Select).query_one("SelectCurrent #label")
        assert str(shown.render()) == "clauderon-agent:latest  (default, missing)"  # the selector itself says so
        assert not screen.query_one("#image-missing").has_class("-hidden")
        assert "from buildpack-deps:bookworm-scm" in str(screen.query_one("#image-note").render())
        screen.query_one("#name", Input).value = "needs-image"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "is missing" in str(screen.query_one("#create-error").render()),
                         "the refusal")
        assert client.create_requests == []  # nothing was sent, nothing half-created


async def test_build_it_now_shows_the_engines_lines_then_the_default_is_present_and_create_goes() -> None:
    client = _missing_default(FakeEngineClient(sample_sessions()))
    client.image_build_lines = [f"line {n}" for n in range(1, 7)]
    client.image_build_gate = asyncio.Event()
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        await pilot.press("ctrl+g")  # the dialog's key for "build it now"
        progress = screen.query_one("#image-progress")
        await wait_until(pilot, lambda: str(progress.render()) == "line 3\nline 4\nline 5\nline 6", "live lines")
        assert screen.query_one("#build-image", Button).disabled  # while it runs
        client.image_build_gate.set()
        await wait_until(pilot, lambda: "built clauderon-agent:latest" in str(screen.query_one("#image-progress")
                                                                              .render()), "the build's end")
        assert ("build_image", (None, None)) in client.calls
        await wait_until(pilot, lambda: screen.query_one("#image-missing").has_class("-hidden"), "the offer gone")
        assert _options(screen)[0] == "clauderon-agent:latest  (default)"
        screen.query_one("#name", Input).value = "after-build"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: client.create_requests, "the create")
        assert client.create_requests[0]["image"] == "clauderon-agent:latest"


async def test_live_lines_and_a_failure_in_one_line() -> None:
    client = _missing_default(FakeEngineClient(sample_sessions()))
    client.image_build_lines = ["fetching the agents with npm"]
    client.image_build_error = "cannot fetch the agent CLIs: the npm registry http://127.0.0.1:9/ is unreachable"
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        await pilot.click("#build-image")
        progress = screen.query_one("#image-progress")
        await wait_until(pilot, lambda: progress.has_class("-failed"), "the failure")
        assert "✖ cannot fetch the agent CLIs" in str(progress.render())
        assert not screen.query_one("#build-image", Button).disabled  # it can be tried again


async def test_the_repositorys_last_image_is_chosen() -> None:
    client = FakeEngineClient(sample_sessions())
    client.image_listing["last_by_repo"] = {"/home/dev/src/api": "my-agent:dev"}
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        select = screen.query_one("#image", Select)
        assert select.value == "clauderon-agent:latest"  # /home/dev/src/webapp, the newest, has none
        screen.query_one("#repo", Input).value = "/home/dev/src/api"
        await wait_until(pilot, lambda: select.value == "my-agent:dev", "the repository's last image")
        screen.query_one("#name", Input).value = "on-api"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: client.create_requests, "the create")
        assert client.create_requests[0]["image"] == "my-agent:dev"


async def test_doctor_warnings_show_in_the_header_until_fixed() -> None:
    warning = {"name": "agent image", "status": "warn", "detail": "clauderon-agent:latest missing",
               "fix": "clauderon image build"}
    client = FakeEngineClient(sample_sessions(), health={**HEALTH_OK, "warnings": [warning]})
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(HealthBar)
        await wait_until(pilot, lambda: "⚠ agent image: clauderon-agent:latest missing" in str(bar.render()),
                         "the warning")
        client.emit({"type": "health", "health": {**HEALTH_OK, "warnings": []}})
        await wait_until(pilot, lambda: "⚠" not in str(bar.render()), "the warning gone")
