"""Pilot tests for the main screen's flows against the fake engine."""

from __future__ import annotations

from textual.command import CommandPalette

from clauderon_tui.screens.help import HelpScreen
from clauderon_tui.screens.switcher import SessionSwitcher
from clauderon_tui.widgets.health_bar import HealthBar
from clauderon_tui.widgets.terminal import TerminalView
from clauderon_tui.widgets.terminal_pane import PREFIX_HINT
from runtime.models import AgentStatus, Status
from tests.fake_engine import (
    FakeEngineClient,
    confirm,
    fake_app,
    make_session,
    run_from_palette,
    sample_sessions,
    wait_until,
)

SIZE = (120, 36)
PREFIX = "ctrl+right_square_bracket"


async def _ready(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")


async def _open_terminal(pilot, name: str) -> None:
    """Select a session, press Enter, and wait until its console is attached."""
    app = pilot.app
    app.show_session(app.client._find(name).id)
    await pilot.pause()
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.terminal.channel is not None and app.terminal.channel.state == "live",
                     "the console")
    assert isinstance(app.focused, TerminalView)


async def test_empty_state_and_first_selection() -> None:
    app = fake_app(FakeEngineClient([]))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query_one("#empty").display, "the empty state")
        assert "Press n" in str(app.query_one("#empty").render())
        assert app.selected_id is None


async def test_arrow_keys_change_selection_and_the_pane_follows() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        first = app.sidebar.shown_ids[0]
        assert app.selected_id == first
        await pilot.press("down")
        await wait_until(pilot, lambda: app.selected_id == app.sidebar.shown_ids[1], "selection to move")
        assert app.pane.session is not None and app.pane.session.id == app.selected_id


async def test_enter_focuses_terminal_and_typing_reaches_console() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        await pilot.press("l", "s", "space", "slash", "enter")
        console = app.client.console_for("fix-login-bug")
        assert bytes(console.received) == b"ls /\r"
        await wait_until(pilot, lambda: "ls /" in app.terminal.emulator.text(), "the echo on screen")


async def test_keys_the_app_would_steal_reach_the_program() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        await pilot.press("ctrl+c", "ctrl+q", "ctrl+p", "escape", "tab", "question_mark", "f1", "delete")
        console = app.client.console_for("fix-login-bug")
        assert bytes(console.received) == b"\x03\x11\x10\x1b\t?\x1bOP\x1b[3~"
        assert app.is_running
        assert not isinstance(app.screen, (CommandPalette, HelpScreen))
        assert isinstance(app.focused, TerminalView)


async def test_non_running_session_does_not_take_focus() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.show_session("id-refactor-")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.focused, TerminalView)
        assert "stopped" in app.pane.message


async def test_prefix_leave_next_previous_and_jump() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        shown = app.sidebar.shown_ids
        index = shown.index(app.selected_id)
        await pilot.press(PREFIX)
        assert app.terminal.prefix_pending
        title = str(app.query_one("#pane-title").render())
        assert title.split("  ", 1)[1] == f" PREFIX  {PREFIX_HINT}"  # every `[` shown, none eaten as markup
        assert "[ scroll" in PREFIX_HINT and "t f d i c tabs" in PREFIX_HINT
        await pilot.press("j")
        assert not app.terminal.prefix_pending
        assert app.selected_id == shown[index + 1]
        await pilot.press(PREFIX, "k", PREFIX, "k")
        assert app.selected_id == shown[index - 1]
        await pilot.press(PREFIX, "1")
        assert app.selected_id == shown[0]
        await pilot.press(PREFIX, "o")
        assert app.focused is app.sidebar.session_list
        console = app.client.console_for("fix-login-bug")
        assert bytes(console.received) == b""


async def test_double_prefix_sends_it_through() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        await pilot.press(PREFIX, PREFIX, "x", PREFIX, "escape")
        console = app.client.console_for("fix-login-bug")
        assert bytes(console.received) == b"\x1dx"
        assert app.focused is app.sidebar.session_list


async def test_custom_prefix_key_from_settings() -> None:
    app = fake_app(tui={"prefix_key": "ctrl+a"})
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        await pilot.press("ctrl+right_square_bracket", "ctrl+a", "ctrl+a")
        assert bytes(app.client.console_for("fix-login-bug").received) == b"\x1d\x01"


async def test_prefix_switcher_fuzzy_finds_a_session() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        await pilot.press(PREFIX, "s")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionSwitcher), "the switcher")
        await pilot.press("s", "c", "r", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, SessionSwitcher), "the switcher to close")
        assert app.sessions[app.selected_id].name == "scratch-shell"


async def test_switching_back_keeps_the_console_and_its_screen() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        await pilot.press("h", "e", "l", "l", "o")
        await wait_until(pilot, lambda: "hello" in app.terminal.emulator.text(), "echo")
        first_channel = app.terminal.channel
        await _open_terminal(pilot, "scratch-shell")
        assert app.terminal.channel is not first_channel
        await pilot.press(PREFIX, "o")
        await _open_terminal(pilot, "fix-login-bug")
        assert app.terminal.channel is first_channel
        assert "hello" in app.terminal.emulator.text()


async def test_palette_opens_from_sidebar_only() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette to close")


async def test_palette_runs_an_action() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.show_session("id-fix-login")
        await run_from_palette(pilot, app, "restart session")
        await confirm(pilot)  # the palette runs the key's action: it asks too
        await wait_until(pilot, lambda: ("restart", "id-fix-login") in app.client.calls, "the restart call")


async def test_help_is_contextual_and_lists_the_key_table() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        sections = app.screen.sections
        assert [heading for heading, _ in sections][:2] == ["Session list", "Everywhere"]
        keys = {key for _, rows in sections for key, _ in rows}
        for key in ("n", "r", "x", "a", "m", "p", "v", "/", "j ↓", "g", "G", "q", "1-9", "s", "t f d i c",
                    "ctrl+]", "  Esc o", "  [  y"):
            assert key in keys, key
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")
        # From the terminal (prefix then ?), the terminal's keys come first.
        await _open_terminal(pilot, "fix-login-bug")
        await pilot.press(PREFIX, "question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help from the terminal")
        assert app.screen.sections[0][0].startswith("Terminal")
        await pilot.press("escape")


async def test_filters_and_search() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        names = lambda: [app.sessions[i].name for i in app.sidebar.shown_ids]  # noqa: E731
        assert "old-experiment" in names() and len(names()) == 7  # "all" is all: archived ones dimmed
        await pilot.press("v")
        assert sorted(names()) == ["add-dark-mode", "fix-login-bug", "scratch-shell"]
        await pilot.press("v")
        assert sorted(names()) == ["add-dark-mode", "broken-build"]
        await pilot.press("v")
        assert names() == ["old-experiment"]
        await pilot.press("v")
        assert len(names()) == 7
        await pilot.press("slash", "d", "b")
        assert names() == ["refactor-db"]
        await pilot.press("escape")
        assert len(names()) == 7


async def test_life_cycle_keys() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.show_session("id-refactor-")
        await pilot.pause()
        await pilot.press("r")
        await confirm(pilot)
        await wait_until(pilot, lambda: ("restart", "id-refactor-") in app.client.calls, "restart")
        await wait_until(pilot, lambda: app.sessions["id-refactor-"].status == Status.RUNNING, "running")
        await pilot.press("m")
        await confirm(pilot)
        await wait_until(pilot, lambda: app.sessions["id-refactor-"].access_mode == "read-only", "read-only")
        await pilot.press("a")
        await confirm(pilot)
        await wait_until(pilot, lambda: app.sessions["id-refactor-"].status == Status.ARCHIVED, "archived")
        # Archived sessions stay in the "all" list, dimmed, in their place; `a` brings one back.
        assert "id-refactor-" in app.sidebar.shown_ids and app.selected_id == "id-refactor-"
        assert app.sidebar.session_filter == "all"
        await pilot.press("a")
        await confirm(pilot)
        await wait_until(pilot, lambda: ("unarchive", "id-refactor-") in app.client.calls, "unarchive")


async def test_the_mode_key_cycles_the_agents_permission_mode_and_the_sidebar_shows_it() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.client.update(app.sessions["id-fix-login"].model_copy(update={"model": "sonnet",
                                                                          "permission_mode": "acceptEdits"}))
        app.show_session("id-fix-login")
        app.sidebar.session_list.focus()
        await pilot.pause()
        await pilot.press("p")
        await confirm(pilot)
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].permission_mode == "plan", "plan mode")
        assert ("cycle_permission_mode", "id-fix-login") in app.client.calls
        line = str(app.sidebar.session_list.get_option("id-fix-login").prompt).splitlines()[1]
        assert "claude sonnet · plan mode" in line
        from rich.console import Console

        from clauderon_tui.widgets.info import field_table

        console = Console(width=200, record=True, color_system=None)  # the Info tab's field table
        console.print(field_table(app.sessions["id-fix-login"].public()))
        info = {line[:16].strip(): line[16:].strip() for line in console.export_text().splitlines() if line.strip()}
        assert info["model"] == "sonnet" and info["permission mode"] == "plan"
        await wait_until(pilot, lambda: any("plan mode" in n.message for n in app._notifications), "the toast")
        app.show_session("id-scratch-s")
        await pilot.pause()
        await pilot.press("p")
        await confirm(pilot)
        await wait_until(pilot, lambda: any("no permission modes" in n.message for n in app._notifications),
                         "the shell's refusal")


async def test_refresh_asks_first_only_while_the_agent_works() -> None:
    from clauderon_tui.screens.confirm import ConfirmScreen

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        session = app.client.sessions["id-fix-login"]
        app.client.update(session.model_copy(update={"agent_status": AgentStatus.WORKING}))
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].agent_status == AgentStatus.WORKING, "working")
        app.show_session("id-fix-login")
        await pilot.pause()
        app.action_refresh()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#confirm"),
                         "the question")
        await pilot.press("escape")  # cancelled: nothing is refreshed
        await pilot.pause()
        assert ("refresh", "id-fix-login") not in app.client.calls
        app.action_refresh()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#confirm"),
                         "the question again")
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: ("refresh", "id-fix-login") in app.client.calls, "the refresh")
        await wait_until(pilot, lambda: any("recreated" in n.message for n in app._notifications), "its result")
        app.client.update(session.model_copy(update={"agent_status": AgentStatus.IDLE}))
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].agent_status == AgentStatus.IDLE, "idle")
        app.client.calls.clear()
        app.action_refresh()  # an idle agent loses nothing: no question
        await wait_until(pilot, lambda: ("refresh", "id-fix-login") in app.client.calls, "the direct refresh")


async def test_engine_errors_are_shown_not_raised() -> None:
    client = FakeEngineClient(sample_sessions())

    async def refuse(ref: str):
        from runtime.errors import Conflict
        raise Conflict("docker daemon is not reachable; start it and retry")

    client.restart_session = refuse  # type: ignore[method-assign]
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("r")
        await confirm(pilot)
        await wait_until(pilot, lambda: any("docker daemon" in str(n.message) for n in app._notifications),
                         "the error notification")
        assert app.is_running


async def test_reconnecting_indicator() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        bar = app.query_one(HealthBar)
        assert "reconnecting" not in str(bar.render())
        app.client.emit({"type": "connection", "state": "reconnecting"})
        await wait_until(pilot, lambda: bar.has_class("-reconnecting"), "the reconnecting state")
        assert "reconnecting" in str(bar.render())
        app.client.emit({"type": "snapshot", "sessions": list(app.client.sessions.values())})
        await wait_until(pilot, lambda: not bar.has_class("-reconnecting"), "connected again")


async def test_health_event_updates_header() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        bar = app.query_one(HealthBar)
        await wait_until(pilot, lambda: bar.health is not None, "health")
        app.client.emit({"type": "health", "health": {**bar.health, "proxy": {"ok": False, "port": None,
                                                                              "detail": "port 18100 in use"}}})
        await wait_until(pilot, lambda: "port 18100 in use" in str(bar.render()), "proxy down")


async def test_live_session_events() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        session = app.client.sessions["id-fix-login"].model_copy(update={"agent_status": AgentStatus.WAITING_INPUT})
        app.client.update(session)
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].agent_status == AgentStatus.WAITING_INPUT,
                         "the update")
        await pilot.press("v", "v")  # needs attention
        assert "id-fix-login" in app.sidebar.shown_ids
        app.client.update(make_session("brand-new", agent_status=AgentStatus.NEEDS_PERMISSION, age=1))
        await wait_until(pilot, lambda: "id-brand-new" in app.sidebar.shown_ids, "the new session")
        app.client.emit({"type": "deleted", "session_id": "id-brand-new"})
        await wait_until(pilot, lambda: "id-brand-new" not in app.sidebar.shown_ids, "the deletion")


async def test_bell_when_a_session_starts_needing_attention() -> None:
    app = fake_app()
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        session = app.client.sessions["id-fix-login"]
        app.client.update(session.model_copy(update={"agent_status": AgentStatus.IDLE}))
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].agent_status == AgentStatus.IDLE, "idle")
        assert rings == []
        app.client.update(session.model_copy(update={"agent_status": AgentStatus.NEEDS_PERMISSION}))
        await wait_until(pilot, lambda: rings == [1], "the bell")


async def test_creating_session_shows_progress_in_the_pane() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.show_session("id-new-api")
        await wait_until(pilot, lambda: "being created" in app.pane.message, "the creating message")
        session = app.client.sessions["id-new-api"].model_copy(deep=True)
        session.progress.step, session.progress.total, session.progress.message = 2, 3, "starting container"
        app.client.update(session)
        await wait_until(pilot, lambda: "2/3: starting container" in app.pane.message, "the progress")
        app.client.update(session.model_copy(update={"status": Status.RUNNING}))
        await wait_until(pilot, lambda: app.terminal.channel is not None, "the console once running")
        assert app.pane.message == ""


async def test_typing_while_the_console_connects_is_not_lost() -> None:
    import asyncio

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.client.console_gate = asyncio.Event()
        app.show_session("id-fix-login")
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.focused, TerminalView)
        assert app.terminal.channel is not None and app.terminal.channel.state == "connecting"
        await pilot.press("l", "s", "enter")
        app.client.console_gate.set()
        await wait_until(pilot, lambda: "id-fix-login" in app.client.consoles
                         and bytes(app.client.console_for("fix-login-bug").received) == b"ls\r", "the queued keys")


async def test_keys_in_one_burst_after_prefix_leave_go_to_the_sidebar() -> None:
    from textual import events

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await _open_terminal(pilot, "fix-login-bug")
        # As a fast typist (or tmux send-keys) delivers them: all queued before the app handles any.
        for key, char in ((PREFIX, "\x1d"), ("o", "o"), ("slash", "/")):
            app.post_message(events.Key(key, char))
        await wait_until(pilot, lambda: app.query_one("#search").display, "the search box")
        assert bytes(app.client.console_for("fix-login-bug").received) == b""


async def test_keys_typed_right_after_enter_reach_the_program() -> None:
    """No pause between Enter on a session and typing: the terminal must already have the keys."""
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.show_session(app.client._find("fix-login-bug").id)
        await pilot.pause()
        await pilot.press("enter", "e", "c", "h", "o")
        await wait_until(pilot, lambda: app.client._find("fix-login-bug").id in app.client.consoles, "the console")
        console = app.client.console_for("fix-login-bug")
        await wait_until(pilot, lambda: bytes(console.received) == b"echo", "the keys at the program")


HOSTILE = "[@click=app.access_mode]click me[/] [b]bold[/b] \x1b]52;c;Y3VybCBldmlsfHNo\x07\x1b[2J"


async def test_agent_written_text_is_shown_literally_and_never_acts() -> None:
    """An agent's hook payload reaches a toast and Info: as markup its `[@click=...]` would be a live link
    that switches the session's access mode on one click."""
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        session = app.client.sessions["id-fix-login"]
        app.client.update(session.model_copy(update={"agent_status": AgentStatus.IDLE}))
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].agent_status == AgentStatus.IDLE, "idle")
        app.client.update(session.model_copy(update={"agent_status": AgentStatus.WAITING_INPUT,
                                                     "agent_detail": {"question": HOSTILE}}))
        await wait_until(pilot, lambda: any("click me" in str(n.message) for n in app._notifications), "the toast")
        [note] = [n for n in app._notifications if "click me" in str(n.message)]
        assert note.markup is False
        assert "[@click=app.access_mode]click me[/]" in note.message and "[b]bold[/b]" in note.message
        assert "\x1b" not in note.message and "\x07" not in note.message


def test_info_fields_show_agent_text_literally() -> None:
    from rich.console import Console

    from clauderon_tui.widgets.info import audit_line, field_table

    console = Console(width=200, record=True, color_system=None)
    console.print(field_table({"agent_detail": {"question": HOSTILE}, "title": HOSTILE}))
    shown = console.export_text()
    assert shown.count("[@click=app.access_mode]click me[/]") == 2 and "[b]bold[/b]" in shown
    assert "\x1b" not in shown
    line = audit_line({"ts": 0, "method": "GET", "host": "evil\x1b]2;pwned\x07.example", "path": "/\x1b[2J"})
    assert "\x1b" not in line and "\x07" not in line


def test_info_sums_up_the_branch_sync_and_shows_paths_literally() -> None:
    from rich.console import Console

    from clauderon_tui.widgets.info import field_table, sync_summary

    assert sync_summary(None) == "not yet brought back from the sandbox"
    done = sync_summary({"taken_at": 0, "tip": "abcdef1234567890", "uncommitted": ["a", "b"], "ignored": ["out/"]})
    assert done.startswith("brought back ") and "(abcdef123456); 2 uncommitted, 1 ignored" in done
    failed = {"taken_at": 0, "error": f"cannot bring clauderon/x back: {HOSTILE}"}
    console = Console(width=300, record=True, color_system=None)
    console.print(field_table({"sandbox_changes": failed}))
    shown = console.export_text()
    assert "branch sync" in shown and "[@click=app.access_mode]click me[/]" in shown and "\x1b" not in shown


def test_open_networks_are_marked_wherever_a_session_is_listed() -> None:
    from rich.console import Console

    from clauderon_tui.cli_format import session_table
    from clauderon_tui.widgets.info import field_table
    from clauderon_tui.widgets.sidebar import session_prompt
    from tests.fake_engine import FROZEN_NOW

    sealed, local = make_session("sealed"), make_session("here", backend="local")
    opened = make_session("opened").model_copy(update={"network_mode": "host"})
    bridged = make_session("bridged").model_copy(update={"network_mode": "bridge"})
    rows = {s.name: str(session_prompt(s, FROZEN_NOW)).splitlines()[1] for s in (sealed, local, opened, bridged)}
    assert "open network" not in rows["sealed"] and "· docker ·" in rows["sealed"]
    assert "docker (open network: host)" in rows["opened"] and "docker (open network: bridge)" in rows["bridged"]
    assert "local (unsandboxed)" in rows["here"]
    listed = session_table([sealed, opened, local], FROZEN_NOW)
    assert "docker (open network: host)" in listed and "local (unsandboxed)" in listed
    assert listed.count("open network") == 1
    console = Console(width=300, record=True, color_system=None)
    console.print(field_table(opened.public()))
    assert "host (open network" in console.export_text()


async def test_a_disk_below_the_floor_shows_in_the_header() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        bar = app.query_one(HealthBar)
        await wait_until(pilot, lambda: bar.health is not None, "health")
        assert "disk" not in str(bar.render())  # a healthy disk is not mentioned
        app.client.emit({"type": "health", "health": {**bar.health, "disk": {"ok": False, "short": "90 MiB free"}}})
        await wait_until(pilot, lambda: "disk ✖ 90 MiB free" in str(bar.render()), "the disk warning")


async def test_a_paused_session_is_flagged_toasted_and_resumed_from_the_palette() -> None:
    from clauderon_tui.widgets.sidebar import session_prompt
    from tests.fake_engine import FROZEN_NOW

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        reason = "paused: its worktree grew 900 MiB while only 80 MiB were free in CLAUDERON_HOME"
        paused = app.sessions["id-fix-login"].model_copy(update={"paused": reason})
        app.client.update(paused)
        app.client.emit({"type": "attention", "kind": "paused", "session_id": paused.id, "name": paused.name,
                         "reasons": [reason]})
        await wait_until(pilot, lambda: any("was paused" in str(n.title) and "900 MiB" in str(n.message)
                                            for n in app._notifications), "the toast")
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].paused == reason, "the paused record")
        assert "paused: disk short" in str(session_prompt(app.sessions["id-fix-login"], FROZEN_NOW))
        app.show_session("id-fix-login")
        await pilot.pause()
        assert "paused: disk short" in str(app.query_one("#pane-title").render())
        await run_from_palette(pilot, app, "resume session")
        await wait_until(pilot, lambda: ("resume", "id-fix-login") in app.client.calls, "the resume call")
        await wait_until(pilot, lambda: app.sessions["id-fix-login"].paused is None, "thawed")


def test_info_groups_the_fields_and_marks_the_network() -> None:
    from clauderon_tui.widgets.info import field_groups, network_mark

    sealed = make_session("sealed").model_copy(update={"model": "sonnet"}).public()
    groups = field_groups({**sealed, "from_a_newer_engine": "x"})
    titles = [title for title, _ in groups]
    assert titles == ["Session", "Sandbox", "Network", "Agent", "Landing", "Other"]
    rows = {title: dict(rows) for title, rows in groups}
    assert rows["Session"]["name"] == "sealed" and rows["Agent"]["model"] == "sonnet"
    assert rows["Landing"]["base"] == sealed["base_branch"] and rows["Landing"]["branch sync"].startswith("not yet")
    assert rows["Other"] == {"from a newer engine": "x"} and "title" not in rows["Session"]  # unset: no row
    assert network_mark(sealed) == ("sealed", "$success") and "sealed" in rows["Network"]["network mode"]
    opened = make_session("opened").model_copy(update={"network_mode": "host"}).public()
    assert network_mark(opened)[0] == "open"
    assert "open network" in dict(field_groups(opened)[2][1])["network mode"]
    assert network_mark(make_session("here", backend="local").public())[0].endswith("unsandboxed")
