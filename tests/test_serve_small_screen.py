"""Narrow screens (a phone's browser): up to 100 columns the sidebar gives way to a one-line session bar."""

from __future__ import annotations

from clauderon_tui.screens.switcher import SessionSwitcher
from clauderon_tui.widgets.compact_bar import CompactBar
from clauderon_tui.widgets.terminal import TerminalView
from tests.fake_engine import FakeEngineClient, fake_app, sample_sessions, wait_until

NARROW = (60, 30)


def test_narrow_screen_snapshot(snap_compare) -> None:
    app = fake_app()

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: app.sessions and app.selected_id, "the sessions")
        await pilot.pause()

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


async def test_narrow_screen_picks_a_session_from_the_bar() -> None:
    app = fake_app(FakeEngineClient(sample_sessions()))
    async with app.run_test(size=NARROW) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id, "the sessions")
        bar = app.query_one(CompactBar)
        assert bar.display and app.sidebar.region.width == 0  # hidden by width: its list keeps the keys
        assert app.sidebar.region.width == 0 and bar.region.width == NARROW[0]
        assert bar.count == len(app.sessions)
        await pilot.click(CompactBar)
        await wait_until(pilot, lambda: isinstance(app.screen, SessionSwitcher), "the switcher")
        assert app.screen.query_one("#switcher").region.right <= NARROW[0]  # fits the narrow screen
        await pilot.press(*"scratch", "enter")
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView), "the terminal to take the keys")
        assert app.sessions[app.selected_id].name == "scratch-shell"
        assert bar.session is not None and bar.session.name == "scratch-shell"
        assert "scratch-shell" in str(bar.render())


async def test_wide_screen_keeps_the_sidebar() -> None:
    app = fake_app(FakeEngineClient(sample_sessions()))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.sessions, "the sessions")
        await pilot.pause()
        assert app.sidebar.display and app.sidebar.region.width > 0
        assert app.query_one(CompactBar).region.height == 0
        await pilot.resize_terminal(70, 30)
        await wait_until(pilot, lambda: app.sidebar.region.width == 0, "the sidebar to collapse")
        assert app.query_one(CompactBar).region.height == 1
