"""Snapshot matrix: the main screen, the help screen and the create dialog at 60x20, 80x24, 100x30 and 160x45
(sidebar, session bar and dialogs at every layout step), in each built-in theme."""

from __future__ import annotations

import pytest

from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.screens.help import HelpScreen
from tests.fake_engine import fake_app, wait_until
from themes import BUILT_IN

SIZES = [(60, 20), (80, 24), (100, 30), (160, 45)]


def _run_before(screen: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: app.sessions and app.selected_id, "the sessions")
        await pilot.pause()
        if screen == "help":
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        elif screen == "create":
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, CreateSessionScreen)
                             and app.screen.query_one("#repo").value, "the create dialog")
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("theme", BUILT_IN)
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("screen", ["main", "help", "create"])
def test_screen_at_size(snap_compare, screen: str, size: tuple[int, int], theme: str) -> None:
    assert snap_compare(fake_app(tui={"theme": theme}), terminal_size=size, run_before=_run_before(screen))
