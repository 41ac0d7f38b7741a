"""Workbench snapshots (fixed data, frozen clock, 120x36): the Files, Diff and Info tabs, and the main
screen in every built-in theme."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList

from clauderon_tui.widgets.diff import DiffPane
from clauderon_tui.widgets.files import FilesPane
from clauderon_tui.widgets.info import InfoPane
from clauderon_tui.widgets.terminal import TerminalView
from tests.fake_engine import fake_app, wait_until
from tests.test_tui_snapshots import TERMINAL_BYTES
from tests.workbench_fixtures import SESSION_ID, info_answers, workbench_client

SIZE = (120, 36)


async def _select(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.sessions and app.selected_id, "the snapshot")
    app.show_session(SESSION_ID)
    await pilot.pause()


def test_files_tab(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:
        await _select(pilot)
        await pilot.press("f")
        files = pilot.app.query_one(FilesPane)
        await wait_until(pilot, lambda: len(files.file_tree.root.children) >= 5, "the listing")
        src = next(node for node in files.file_tree.root.children if node.data and node.data["name"] == "src")
        src.expand()
        await wait_until(pilot, lambda: len(src.children) == 2, "src/")
        files.open_file("src/login.py")
        await wait_until(pilot, lambda: files._text, "the file")
        await pilot.pause()

    assert snap_compare(fake_app(workbench_client(tmp_path)), terminal_size=SIZE, run_before=run_before)


def test_diff_tab(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:
        await _select(pilot)
        await pilot.press("d")
        diff = pilot.app.query_one(DiffPane)
        option_list = diff.query_one(OptionList)
        await wait_until(pilot, lambda: option_list.option_count == 6 and option_list.highlighted == 1, "the diff")
        await pilot.pause()

    assert snap_compare(fake_app(workbench_client(tmp_path)), terminal_size=SIZE, run_before=run_before)


def test_info_tab(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:
        await _select(pilot)
        await pilot.press("i")
        info = pilot.app.query_one(InfoPane)
        await wait_until(pilot, lambda: len(info.cpu_history) == 1, "the first sample")
        info.active = False  # stop the timer: the rest of the history is fed by hand, deterministically
        for answer in info_answers()[1:]:
            info.show_info({"session": None, **answer})
        await pilot.pause()

    assert snap_compare(fake_app(workbench_client(tmp_path)), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("theme", ["clauderon-dark", "clauderon-light", "clauderon-contrast"])
def test_main_screen_theme(snap_compare, tmp_path: Path, theme: str) -> None:
    """The main screen with a terminal showing all 16 colours, so each theme's palette is in the picture."""
    client = workbench_client(tmp_path)
    client.screens[SESSION_ID] = TERMINAL_BYTES
    app = fake_app(client, tui={"theme": theme})

    async def run_before(pilot) -> None:
        await _select(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView) and app.terminal.channel is not None
                         and app.terminal.emulator is not None and not app.terminal.channel.pending
                         and "cursor here" in app.terminal.emulator.text(), "the fixed bytes")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
