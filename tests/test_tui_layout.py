"""Responsive layout: the sidebar takes at most a third of the width below 120 columns, gives way to the
one-line session bar at 100 columns and less, and `b` (or the prefix then `b`) hides and shows it."""

from __future__ import annotations

import pytest

from clauderon_tui.widgets.compact_bar import CompactBar
from clauderon_tui.widgets.terminal import TerminalView
from tests.fake_engine import fake_app, wait_until

PREFIX = "ctrl+right_square_bracket"
SIZES = [(80, 24), (100, 30), (110, 30), (120, 40), (160, 45)]


def _sidebar_width(app) -> int:
    return app.sidebar.region.width


def _bar_shown(app) -> bool:
    return app.query_one(CompactBar).region.height == 1


async def _ready(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_sidebar_fits_the_width_and_b_toggles_it(size: tuple[int, int]) -> None:
    cols = size[0]
    app = fake_app()
    async with app.run_test(size=size) as pilot:
        await _ready(pilot)
        narrow = cols <= 100
        assert _bar_shown(app) is narrow
        assert (_sidebar_width(app) == 0) is narrow
        if cols < 120:
            assert _sidebar_width(app) <= cols / 3
        assert app.focused is app.sidebar.session_list  # hidden or not, the list has the keys
        await pilot.press("b")
        await pilot.pause()
        assert (_sidebar_width(app) > 0) is narrow and _bar_shown(app) is not narrow
        if cols < 120:
            assert _sidebar_width(app) <= cols / 3
        await pilot.press("b")
        await pilot.pause()
        assert (_sidebar_width(app) == 0) is narrow and _bar_shown(app) is narrow
        assert app.focused is app.sidebar.session_list


async def test_hidden_list_still_moves_the_shown_session() -> None:
    app = fake_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await _ready(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert _sidebar_width(app) == 0 and _bar_shown(app)
        first = app.selected_id
        await pilot.press("down")
        await wait_until(pilot, lambda: app.selected_id != first, "the next session")
        bar = app.query_one(CompactBar)
        assert bar.session is not None and bar.session.id == app.selected_id


async def test_prefix_b_toggles_the_sidebar_from_the_terminal() -> None:
    app = fake_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await _ready(pilot)
        app.show_session(app.client._find("fix-login-bug").id)
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.terminal.channel is not None and app.terminal.channel.state == "live",
                         "the console")
        wide_terminal = app.terminal.region.width
        await pilot.press(PREFIX, "b")
        await wait_until(pilot, lambda: _sidebar_width(app) == 0, "the sidebar to hide")
        assert isinstance(app.focused, TerminalView) and app.terminal.region.width > wide_terminal
        await pilot.press(PREFIX, "b")
        await wait_until(pilot, lambda: _sidebar_width(app) == 44, "the sidebar to come back")
        assert isinstance(app.focused, TerminalView)
        assert bytes(app.client.console_for("fix-login-bug").received) == b""  # the keys never reached it
