"""Print mode in the app: the create dialog's "print (headless)" box reaches the engine's create request, and
a print session shows as such in the sidebar, the terminal pane's message and the Info tab (its final message
as data, never markup)."""

from __future__ import annotations

from rich.console import Console
from textual.widgets import Checkbox, Input, TextArea

from clauderon_tui.formatting import not_running_message
from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.widgets.info import field_table
from clauderon_tui.widgets.sidebar import session_prompt
from runtime.models import AgentStatus, PrintRun, Status
from tests.fake_engine import FROZEN_NOW, fake_app, make_session, wait_until
from tests.test_tui_dialogs import SIZE, _open_create


async def test_the_create_dialog_asks_for_a_print_run() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#prompt", TextArea).text = "Summarise the README"
        await wait_until(pilot, lambda: screen.query_one("#name", Input).value, "the suggested name")
        screen.query_one("#print", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CreateSessionScreen), "the dialog to close")
        [request] = app.client.create_requests  # the fake passes it through the engine's CreateRequest
        assert request["print"] is True and request["prompt"] == "Summarise the README"


async def test_an_interactive_create_sends_no_print_field() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_create(pilot)
        screen.query_one("#prompt", TextArea).text = "Fix it"
        await wait_until(pilot, lambda: screen.query_one("#name", Input).value, "the suggested name")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CreateSessionScreen), "the dialog to close")
        assert "print" not in app.client.create_requests[0]


def test_print_sessions_are_marked_in_the_sidebar_pane_and_info() -> None:
    running = make_session("pr-run").model_copy(update={"print_run": PrintRun()})
    done = make_session("pr-done", Status.STOPPED, agent_status=AgentStatus.EXITED).model_copy(update={
        "print_run": PrintRun(exit_status=0, result="[b]done[/b]\x1b[31m", transcript=".claude/projects/x.jsonl",
                              finished_at=FROZEN_NOW)})
    failed = done.model_copy(update={"name": "pr-fail", "print_run": PrintRun(exit_status=1, result="API Error",
                                                                              finished_at=FROZEN_NOW)})
    cut = done.model_copy(update={"name": "pr-cut", "print_run": PrintRun(result="lost", finished_at=FROZEN_NOW)})
    first = {s.name: str(session_prompt(s, FROZEN_NOW)).splitlines()[0] for s in (running, done, failed, cut)}
    assert "print: running" in first["pr-run"] and "print: finished" in first["pr-done"]
    assert "print: failed (exit 1)" in first["pr-fail"] and "print: failed (cut off)" in first["pr-cut"]
    assert "print run (finished)" in not_running_message(done) and "restart" not in not_running_message(done)
    console = Console(width=200, record=True, color_system=None)
    console.print(field_table(done.public()))
    shown = console.export_text()
    assert "finished: exit 0; transcript .claude/projects/x.jsonl" in shown
    assert "[b]done[/b]" in shown and "\x1b" not in shown  # the agent's words are data
    console = Console(width=200, record=True, color_system=None)
    console.print(field_table(make_session("plain").public()))
    assert "print run" not in console.export_text()
