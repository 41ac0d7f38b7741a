"""The one keyboard model (issue 18): one key table for the list, the prefix, help and the palette; typing
into the list never changes a session without a confirmation; Esc goes back; a stable list; no ghost rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.widgets import Input, OptionList, Tree

from clauderon_tui.app import ClauderonApp
from clauderon_tui.commands import PALETTE_ACTIONS, with_key
from clauderon_tui.key_table import SESSION_KEYS, TAB_KEYS, TABLE_ACTIONS, prefix_action
from clauderon_tui.screens.confirm import ConfirmScreen
from clauderon_tui.screens.confirm_delete import ConfirmDeleteScreen
from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.screens.landing import MergeScreen, OpenPrScreen
from clauderon_tui.widgets.chat import ChatInput
from clauderon_tui.widgets.sidebar import SessionSidebar
from clauderon_tui.widgets.terminal import TerminalView
from clauderon_tui.workbench import WORKBENCH_PANES
from runtime.models import AgentStatus, Status
from tests.fake_engine import FakeEngineClient, confirm, fake_app, make_session, sample_sessions, wait_until
from tests.workbench_fixtures import workbench_client

SIZE = (120, 36)
PREFIX = "ctrl+right_square_bracket"
MUTATING = ("create_session", "delete_session", "archive_session", "unarchive_session", "restart_session",
            "resume_session", "rename_session", "refresh_session", "set_access_mode", "send", "cycle_permission_mode",
            "chat", "upload_image", "push", "open_pr", "merge", "pull", "stop_engine", "reconcile")
"""Every client call that changes a session (or the engine)."""


def recording_client() -> tuple[FakeEngineClient, list[str]]:
    """A fake engine whose every changing call is recorded."""
    client = FakeEngineClient(sample_sessions())
    calls: list[str] = []
    for name in MUTATING:
        original = getattr(client, name)

        async def recorded(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return await _original(*args, **kwargs)

        setattr(client, name, recorded)
    return client, calls


# -- the table ---------------------------------------------------------------------------------------------------
def test_one_meaning_per_key_and_tabs_are_the_same_letters_everywhere() -> None:
    seen: dict[str, str] = {}
    for spec in SESSION_KEYS:
        for key in spec.keys.split(","):
            assert seen.setdefault(key, spec.action) == spec.action, f"{key} means two things"
    assert [spec.keys for spec in TAB_KEYS] == ["t", "f", "d", "i", "c"]
    for spec in TAB_KEYS:  # in the list and after the prefix alike
        assert spec.list and spec.prefix and prefix_action(spec.keys) == spec.action
        assert spec.keys in {b.key for b in SessionSidebar.BINDINGS}
    tab_letters = {spec.keys for spec in TAB_KEYS}
    for spec in SESSION_KEYS:
        if spec.changes:
            assert not set(spec.keys.split(",")) & tab_letters, spec
    assert prefix_action("q") == "quit" and prefix_action("j") == "next_session"
    assert prefix_action("o") == prefix_action("escape") == "focus_sidebar"


def test_every_table_action_exists_but_the_reserved_sidebar_toggle() -> None:
    missing = {name for name in TABLE_ACTIONS if not hasattr(ClauderonApp, f"action_{name}")}
    assert missing <= {"toggle_sidebar"}  # `b`, kept for the layout work; off (not an error) until it exists


def test_every_palette_entry_shows_its_key() -> None:
    helps = {entry.action: with_key(entry.help, entry.action) for entry in PALETTE_ACTIONS}
    assert helps["delete"].endswith("· key x") and helps["quit"].endswith("· key q")
    assert helps["copy_mode"].endswith("· key prefix then y")
    assert helps["refresh"].endswith("· palette only")
    for spec in WORKBENCH_PANES:
        assert with_key("", f"show_tab('{spec.id}')").endswith(f"key {spec.key}")
    for action, text in helps.items():
        assert "· key " in text or "· palette only" in text, action


# -- typing into the list ------------------------------------------------------------------------------------------
async def _type_into_the_list(text: str) -> None:
    client, calls = recording_client()
    before = {sid: s.model_dump() for sid, s in client.sessions.items()}
    app = fake_app(client)
    changing_keys = {spec.keys for spec in SESSION_KEYS if spec.changes}
    dialogs = (ConfirmScreen, ConfirmDeleteScreen, OpenPrScreen, MergeScreen)
    typed, quit_key, _ = text.partition("q")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        assert app.focused is app.sidebar.session_list
        for character in typed:
            in_list = app.focused is app.sidebar.session_list and app.screen is app.screen_stack[0]
            await pilot.press(character)
            if in_list and character in changing_keys:  # a key that changes a session asked first
                await wait_until(pilot, lambda: isinstance(app.screen, dialogs), f"the question {character} asks")
        await pilot.pause()
        assert calls == [], f"typing {typed!r} called {calls}"
        assert {sid: s.model_dump() for sid, s in client.sessions.items()} == before
        assert all(not console.received for console in client.consoles.values()), "keys reached an agent"
        if quit_key:
            await pilot.press("q")
            await pilot.pause()
    assert calls == []


@pytest.mark.timeout(400)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=24)
       | st.sampled_from(["tput cols", "git status", "make test", "ls -la", "xarmpUPM", "rm -rf /", "yes"]))
def test_typing_into_the_list_changes_no_session(text: str) -> None:
    asyncio.run(_type_into_the_list(text))


@pytest.mark.parametrize(("key", "dialog", "call"), [
    ("a", ConfirmScreen, "archive_session"), ("r", ConfirmScreen, "restart_session"),
    ("m", ConfirmScreen, "set_access_mode"), ("p", ConfirmScreen, "cycle_permission_mode"),
    ("U", ConfirmScreen, "push"), ("x", ConfirmDeleteScreen, "delete_session"),
    ("P", OpenPrScreen, "open_pr"), ("M", MergeScreen, "merge"),
])
async def test_each_changing_key_asks_and_a_typed_line_cancels(key: str, dialog: type, call: str) -> None:
    client, calls = recording_client()
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        # The rest of a line typed into the list by mistake, Enter included, lands on Cancel.
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, dialog), f"the question {key} asks")
        await pilot.press(*"ake test", "enter")
        await pilot.pause()
        assert call not in calls  # Cancel took the Enter (the merge dialog's method list kept it)
        if isinstance(app.screen, dialog):
            await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, dialog), "the dialog to close")
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, dialog), "the question again")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, dialog), "Esc to cancel")
        assert calls == [] and app.focused is app.sidebar.session_list


async def test_the_question_says_the_agent_is_working() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "the first snapshot")
        app.show_session("id-fix-login")  # working
        await pilot.pause()
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "Its agent is working." in str(app.screen.query("Static")[1].render())
        await confirm(pilot)
        await wait_until(pilot, lambda: ("restart", "id-fix-login") in app.client.calls, "the restart")


# -- the same keys from every pane -----------------------------------------------------------------------------------
async def test_tab_keys_from_the_list_a_tab_and_after_the_prefix() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        app.show_session("id-fix-login")
        await pilot.pause()
        await pilot.press("i")
        await wait_until(pilot, lambda: app.workbench.shown == "info", "info from the list")
        await pilot.press("d")  # from inside a tab: the same letters
        await wait_until(pilot, lambda: app.workbench.shown == "diff", "diff from the info tab")
        await pilot.press("escape")  # back toward the list
        await wait_until(pilot, lambda: app.focused is app.sidebar.session_list, "the list again")
        await pilot.press("t")  # shows the terminal; typing stays with the list until Enter
        await wait_until(pilot, lambda: app.workbench.shown == "terminal", "the terminal tab")
        assert app.focused is app.sidebar.session_list
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView) and app.terminal.channel is not None
                         and app.terminal.channel.state == "live", "the terminal")
        await pilot.press(PREFIX, "f")
        await wait_until(pilot, lambda: app.workbench.shown == "files", "files after the prefix")
        assert bytes(app.client.console_for("fix-login-bug").received) == b""


async def test_j_k_g_G_move_in_a_tabs_list_too(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        app.show_session("id-fix-login")
        await pilot.pause()
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.focused, Tree) and app.focused.last_line > 2, "the files")
        tree = app.focused
        await pilot.press("g", "j", "j", "k")
        assert tree.cursor_line == 1
        await pilot.press("G")
        assert tree.cursor_line == tree.last_line
        await pilot.press("g")
        assert tree.cursor_line == 0
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.focused, OptionList) and app.focused.option_count > 2,
                         "the diff's files")
        files = app.focused
        await pilot.press("G")
        assert files.highlighted == files.option_count - 1
        await pilot.press("k")
        assert files.highlighted == files.option_count - 2


async def test_esc_goes_back_from_the_chat_box_and_dialogs_but_belongs_to_the_agent_in_the_terminal() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        app.show_session("id-fix-login")
        await pilot.pause()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.focused, ChatInput), "the chat box")
        await pilot.press("h", "i", "escape")
        await wait_until(pilot, lambda: app.focused is app.sidebar.session_list, "the list after Esc")
        assert "chat" not in [c[0] for c in app.client.calls]
        for key, screen in (("n", CreateSessionScreen), ("s", None), ("e", None)):
            await pilot.press(key)
            await wait_until(pilot, lambda: app.screen is not app.screen_stack[0], f"the {key} dialog")
            assert screen is None or isinstance(app.screen, screen)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.screen_stack[0], f"Esc to close the {key} dialog")
        await pilot.press("slash", "x", "escape")
        assert not app.query_one("#search", Input).value and app.focused is app.sidebar.session_list
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView) and app.terminal.channel is not None
                         and app.terminal.channel.state == "live", "the terminal")
        await pilot.press("escape")
        assert isinstance(app.focused, TerminalView)
        assert bytes(app.client.console_for("fix-login-bug").received) == b"\x1b"


async def test_q_quits_from_the_list_and_after_the_prefix_but_is_typed_in_the_terminal() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        app.show_session("id-fix-login")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView) and app.terminal.channel is not None
                         and app.terminal.channel.state == "live", "the terminal")
        await pilot.press("q")
        assert bytes(app.client.console_for("fix-login-bug").received) == b"q"
        await pilot.press(PREFIX, "o", "q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_focus_shows_as_the_border_of_the_focused_pane() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        app.show_session("id-fix-login")
        await pilot.pause()
        list_focused = (app.sidebar.styles.border_top, app.workbench.styles.border_top)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView), "the terminal")
        await pilot.pause()
        terminal_focused = (app.sidebar.styles.border_top, app.workbench.styles.border_top)
        assert list_focused[0][1] != list_focused[1][1]  # the focused pane's border is the highlighted one
        assert list_focused[0] == terminal_focused[1] and list_focused[1] == terminal_focused[0]


# -- a stable list -------------------------------------------------------------------------------------------------
async def test_attention_never_reorders_and_numbers_keep_their_sessions() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
        order = app.sidebar.shown_ids
        assert order == [s.id for s in sorted(app.sessions.values(),
                                              key=lambda s: (s.status == Status.ARCHIVED, s.created_at))]
        assert "id-old-exper" in order  # "all" is all, archived ones dimmed
        prompt = app.sidebar.session_list.get_option("id-old-exper").prompt
        assert any("dim" in str(span.style) for span in prompt.spans)
        await pilot.press("3")
        third = app.selected_id
        session = app.client.sessions["id-scratch-s"]
        app.client.update(session.model_copy(update={"agent_status": AgentStatus.NEEDS_PERMISSION}))
        await wait_until(pilot, lambda: app.sessions["id-scratch-s"].agent_status == AgentStatus.NEEDS_PERMISSION,
                         "the attention")
        assert app.sidebar.shown_ids == order
        app.client.update(make_session("brand-new", age=0))
        await wait_until(pilot, lambda: "id-brand-new" in app.sidebar.shown_ids, "the new session")
        assert app.sidebar.shown_ids == [*order[:-1], "id-brand-new", order[-1]]  # 1-9 still mean the same
        await pilot.press("1", "3")
        assert app.selected_id == third


# -- no ghost rows -------------------------------------------------------------------------------------------------
async def test_a_retried_create_replaces_the_failed_row() -> None:
    client = FakeEngineClient(sample_sessions())
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "the first snapshot")
        failed = app.sessions["id-broken-bu"]
        assert failed.status == Status.FAILED
        await client.create_session({"repo": "/home/dev/src/webapp", "name": "broken-build", "agent": "shell"})
        await wait_until(pilot, lambda: "id-broken-bu" not in app.sessions, "the failed row to go")
        names = [app.sessions[i].name for i in app.sidebar.shown_ids]
        assert names.count("broken-build") == 1
        retry = next(s for s in app.sessions.values() if s.name == "broken-build")
        await wait_until(pilot, lambda: app.sessions[retry.id].status == Status.RUNNING, "the retry to run")
        number = app.sidebar.shown_ids.index(retry.id) + 1
        await pilot.press(str(number))
        assert app.selected_id == retry.id


async def test_late_or_duplicate_events_never_make_a_ghost_row() -> None:
    client = FakeEngineClient(sample_sessions())
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "the first snapshot")
        stale = app.sessions["id-broken-bu"]
        client.emit({"type": "deleted", "session_id": stale.id})
        client.emit({"type": "session", "session": stale})  # published before the delete, read after it
        await wait_until(pilot, lambda: stale.id not in app.sessions, "the deletion")
        await pilot.pause()
        assert stale.id not in app.sessions and stale.id not in app.sidebar.shown_ids
        # A new id under a name the mirror holds (its deletion never arrived): one row, the new one.
        replacement = make_session("add-dark-mode", age=1).model_copy(update={"id": "id-add-dark-2"})
        client.emit({"type": "session", "session": replacement})
        await wait_until(pilot, lambda: "id-add-dark-2" in app.sessions, "the replacement")
        assert [s.name for s in app.sessions.values()].count("add-dark-mode") == 1
        assert "id-add-dark-" not in app.sidebar.shown_ids


@pytest.mark.timeout(180)
async def test_the_real_engine_retry_of_a_failed_create_leaves_one_row(host: Any, git_repo: Any) -> None:
    """Through the real engine and client: a failed create, then its retry under the same name."""
    from runtime.api.client import EngineClient
    from runtime.settings import Settings

    client = EngineClient(host.home)
    app = ClauderonApp(client, Settings(), clock=lambda: 0.0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query_one("#empty").display, "the empty list")
        request = {"repo": str(git_repo), "name": "retry-me", "backend": "local", "agent": "shell"}
        failed = await client.create_session({**request, "base_branch": "no-such-branch"}, wait=True)
        assert failed.status == Status.FAILED
        await wait_until(pilot, lambda: app.sessions.get(failed.id) is not None
                         and app.sessions[failed.id].status == Status.FAILED, "the failed row")
        again = await client.create_session(request, wait=True)
        assert again.status == Status.RUNNING
        await wait_until(pilot, lambda: failed.id not in app.sessions and again.id in app.sessions, "one row",
                         tries=2000)
        assert [app.sessions[i].name for i in app.sidebar.shown_ids] == ["retry-me"]
        await pilot.press("1", "x")  # numbers land on the live session, and delete asks, then deletes it
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeleteScreen), "the delete question")
        assert app.screen.session.id == again.id
        await pilot.click("#delete")
        await wait_until(pilot, lambda: not app.sessions and not app.sidebar.shown_ids, "an empty list", tries=2000)


def test_the_quit_line_says_where_the_sessions_keep_running() -> None:
    from clauderon_tui.cli_format import quit_line

    assert quit_line(3, 4242) == ("3 sessions keep running in the background engine (pid 4242); "
                                  "`clauderon` brings them back")
    assert quit_line(1, None) == "1 session keeps running in the background engine; `clauderon` brings them back"
    assert quit_line(0, 4242) == "no session is running"
