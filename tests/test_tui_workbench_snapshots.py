"""Workbench snapshots (fixed data, frozen clock, 120x36): the Files, Diff and Info tabs, and the main
screen in every built-in theme."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from clauderon_tui.widgets.diff import DiffPane
from clauderon_tui.widgets.files import FilesPane
from clauderon_tui.widgets.info import InfoPane
from tests.fake_engine import fake_app, wait_until
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
        await pilot.press("F")
        files = pilot.app.query_one(FilesPane)
        await wait_until(pilot, lambda: len(files.tree.root.children) >= 5, "the listing")
        src = next(node for node in files.tree.root.children if node.data and node.data["name"] == "src")
        src.expand()
        await wait_until(pilot, lambda: len(src.children) == 2, "src/")
        files.open_file("src/login.py")
        await wait_until(pilot, lambda: files._text, "the file")
        await pilot.pause()

    assert snap_compare(fake_app(workbench_client(tmp_path)), terminal_size=SIZE, run_before=run_before)


def test_diff_tab(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:
        await _select(pilot)
        await pilot.press("D")
        diff = pilot.app.query_one(DiffPane)
        option_list = diff.query_one(OptionList)
        await wait_until(pilot, lambda: option_list.option_count == 6 and option_list.highlighted == 1, "the diff")
        await pilot.pause()

    assert snap_compare(fake_app(workbench_client(tmp_path)), terminal_size=SIZE, run_before=run_before)


def test_info_tab(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:
        await _select(pilot)
        await pilot.press("I")
        info = pilot.app.query_one(InfoPane)
        await wait_until(pilot, lambda: len(info.cpu_history) == 1, "the first sample")
        info.active = False  # stop the timer: the rest of the history is fed by hand, deterministically
        for answer in info_answers()[1:]:
            info.show_info({"session": None, **answer})
        await pilot.pause()

    assert snap_compare(fake_app(workbench_client(tmp_path)), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("theme", ["clauderon-dark", "clauderon-light", "clauderon-contrast"])
def test_main_screen_theme(snap_compare, tmp_path: Path, theme: str) -> None:
    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: len(pilot.app.sidebar.shown_ids) == 6, "the sessions")
        await pilot.pause()

    app = fake_app(workbench_client(tmp_path), tui={"theme": theme})
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
