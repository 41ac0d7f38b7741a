"""Snapshot tests: fixed data, frozen clock, 120x36."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette

from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.widgets.terminal import TerminalView
from runtime.models import AgentStatus
from tests.fake_engine import FakeEngineClient, fake_app, make_session, sample_sessions, wait_until

SIZE = (120, 36)

TERMINAL_BYTES = b"".join([
    b"main screen text that the alternate screen hides\r\n",
    b"\x1b[?1049h\x1b[H\x1b[2J",
    b"\x1b[1mclauderon terminal test\x1b[0m  (alternate screen)\r\n",
    b"16: " + b"".join(b"\x1b[%dm%d\x1b[0m " % (30 + i, i) for i in range(8))
    + b"".join(b"\x1b[%dm%d\x1b[0m " % (90 + i, 8 + i) for i in range(8)) + b"\r\n",
    b"256: " + b"".join(b"\x1b[48;5;%dm  " % n for n in range(16, 232, 12)) + b"\x1b[0m\r\n",
    b"256 fg: \x1b[38;5;196mred196\x1b[0m \x1b[38;5;46mgreen46\x1b[0m \x1b[38;5;21mblue21\x1b[0m\r\n",
    b"true: \x1b[38;2;255;128;0morange\x1b[0m \x1b[48;2;40;80;160m\x1b[38;2;255;255;255m on blue \x1b[0m\r\n",
    b"styles: \x1b[1mbold\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munder\x1b[0m "
    b"\x1b[7mreverse\x1b[0m \x1b[9mstrike\x1b[0m\r\n",
    "wide: 漢字テスト | emoji: 🙂👍 | end\r\n".encode(),
    b"\x1b[18;30Hcursor here->",
])


def _terminal_client() -> FakeEngineClient:
    sessions = sample_sessions()
    return FakeEngineClient(sessions, screens={"id-fix-login": TERMINAL_BYTES}, echo=False)


def test_empty_state(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.query_one("#empty").display, "the empty state")

    assert snap_compare(fake_app(FakeEngineClient([])), terminal_size=SIZE, run_before=run_before)


def test_main_screen_sessions(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: len(pilot.app.sidebar.shown_ids) == 7, "the sessions")
        await pilot.pause()

    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=run_before)


def test_terminal_widget_rendering(snap_compare) -> None:
    app = fake_app(_terminal_client())

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: app.sessions and app.selected_id, "snapshot")
        app.show_session("id-fix-login")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView) and app.terminal.channel is not None
                         and app.terminal.emulator is not None and not app.terminal.channel.pending
                         and "cursor here" in app.terminal.emulator.text(), "the fixed bytes")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_create_dialog(snap_compare) -> None:
    app = fake_app()

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: app.sessions, "snapshot")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, CreateSessionScreen)
                         and app.screen.query_one("#repo").value, "the dialog")
        app.screen.query_one("#name").value = "Bad Name"
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.sessions, "snapshot")
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(fake_app(), terminal_size=SIZE, run_before=run_before)


def test_command_palette(snap_compare) -> None:
    sessions = [make_session("only-one", agent_status=AgentStatus.WORKING)]

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.sessions, "snapshot")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "the palette")
        # A query only one entry matches: hits from several providers arrive in no fixed order.
        await pilot.press(*"unarch")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(CommandList).option_count == 1, "one hit")
        await pilot.pause(0.3)

    assert snap_compare(fake_app(FakeEngineClient(sessions)), terminal_size=SIZE, run_before=run_before)
