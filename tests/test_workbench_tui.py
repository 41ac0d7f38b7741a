"""Pilot tests of the workbench tabs, themes and attention notifications (fake engine, real files)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import OptionList, Sparkline, Static, Tree

from clauderon_tui.app import ClauderonApp
from clauderon_tui.widgets.diff import DiffPane
from clauderon_tui.widgets.files import FilesPane
from clauderon_tui.widgets.info import InfoPane
from clauderon_tui.widgets.terminal import TerminalView
from runtime.home import Home
from runtime.models import AgentStatus
from runtime.settings import Settings, load_settings, save_setting
from tests.fake_engine import FROZEN_NOW, FakeEngineClient, fake_app, sample_sessions, wait_until
from tests.workbench_fixtures import SESSION_ID, workbench_client

SIZE = (120, 36)


async def _ready(pilot, app) -> None:
    await wait_until(pilot, lambda: app.sessions and app.selected_id, "the snapshot")
    app.show_session(SESSION_ID)
    await pilot.pause()


def _text(widget: Static) -> str:
    """The plain text a Static shows (its content, or the code of a `Syntax`)."""
    content = widget.content
    code = getattr(content, "code", None)
    return code if isinstance(code, str) else str(content)


def _tree_labels(tree: Tree) -> list[str]:
    labels = []

    def walk(node) -> None:
        for child in node.children:
            labels.append(str(child.label))
            walk(child)
    walk(tree.root)
    return labels


async def test_tabs_switch_from_the_sidebar_the_prefix_and_the_palette(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        assert app.workbench.shown == "terminal"
        await pilot.press("f")
        await wait_until(pilot, lambda: app.workbench.shown == "files", "the files tab")
        files = app.query_one(FilesPane)
        await wait_until(pilot, lambda: "M src/" in _tree_labels(files.file_tree), "the listing")
        assert ("list_files", (SESSION_ID, "")) in app.client.calls
        await pilot.press("d")
        await wait_until(pilot, lambda: app.workbench.shown == "diff", "the diff tab")
        await pilot.press("i")
        await wait_until(pilot, lambda: app.workbench.shown == "info", "the info tab")
        await pilot.press("t")
        await wait_until(pilot, lambda: app.workbench.shown == "terminal", "the terminal tab")

        # From the terminal: the prefix, then the tab's key; plain keys still reach the program.
        app.action_focus_terminal()
        await wait_until(pilot, lambda: isinstance(app.focused, TerminalView) and app.terminal.channel is not None
                         and app.terminal.channel.state == "live", "the terminal")
        await pilot.press("d")  # typed: a d for the program, not a tab switch
        await wait_until(pilot, lambda: b"d" in app.client.console_for("fix-login-bug").received, "the typing")
        assert app.workbench.shown == "terminal"
        await pilot.press("ctrl+right_square_bracket", "d")
        await wait_until(pilot, lambda: app.workbench.shown == "diff", "prefix d")
        await wait_until(pilot, lambda: isinstance(app.focused, OptionList), "focus in the diff")

        # The palette's entries run the same action.
        await app.run_action("show_tab('info')")
        assert app.workbench.shown == "info"


async def test_files_tab_shows_marks_highlighted_text_and_binary(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("f")
        files = app.query_one(FilesPane)
        await wait_until(pilot, lambda: "M src/" in _tree_labels(files.file_tree), "the listing")
        labels = _tree_labels(files.file_tree)
        assert labels[:2] == ["M src/", "M tests/"]  # directories first, marked when anything under them changed
        assert "A logo.png" in labels and "D old.txt" in labels
        files.open_file("src/login.py")
        body = files.query_one("#file-body", Static)
        await wait_until(pilot, lambda: "class Credentials" in _text(body), "the file")
        files.open_file("logo.png")
        await wait_until(pilot, lambda: "binary file" in _text(body), "the binary notice")
        assert "PNG" not in _text(body)

        # Another session (its worktree gone): the old file goes, the engine's reason shows.
        app.show_session("id-add-dark-")
        await wait_until(pilot, lambda: "worktree of add-dark-mode is gone" in _text(body), "the other session")
        assert not files.file_tree.root.children and files._path is None


async def test_a_planted_link_to_a_host_file_shows_an_error_not_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("HOST PRIVATE KEY\n")
    client = workbench_client(tmp_path)
    os.symlink(secret, client.worktrees[SESSION_ID] / "innocent.txt")
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("f")
        files = app.query_one(FilesPane)
        await wait_until(pilot, lambda: any("innocent.txt" in row for row in _tree_labels(files.file_tree)),
                         "the listing")
        files.open_file("innocent.txt")
        body = files.query_one("#file-body", Static)
        await wait_until(pilot, lambda: "pointing outside the worktree" in _text(body), "the refusal")
        assert "HOST PRIVATE KEY" not in _text(body)
        assert body.has_class("-error")


async def test_diff_tab_lists_committed_and_uncommitted_apart(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("d")
        diff = app.query_one(DiffPane)
        option_list = diff.query_one(OptionList)
        await wait_until(pilot, lambda: option_list.option_count == 6, "the diff")
        prompts = [str(option_list.get_option_at_index(i).prompt) for i in range(6)]
        assert prompts[0].startswith("Committed · 2 files +3 -1")
        assert prompts[1] == "M src/login.py  +3 -1" and prompts[2] == "A logo.png  binary"
        assert prompts[3].startswith("Uncommitted · 2 files +2 -2")
        body = diff.query_one("#diff-body", Static)
        await wait_until(pilot, lambda: "len(creds.password)" in _text(body), "the first patch")


async def test_info_tab_samples_while_shown(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("i")
        info = app.query_one(InfoPane)
        await wait_until(pilot, lambda: len(info.cpu_history) == 1, "the first sample")
        assert "CPU 2.0%" in _text(info.query_one("#info-cpu-line", Static))
        await wait_until(pilot, lambda: info.query_one("#info-container", Static).visual is not None, "the container")
        calls = sum(1 for c in app.client.calls if c[0] == "session_info")
        await pilot.press("t")  # hidden: no more samples
        await wait_until(pilot, lambda: not info.active, "hidden")
        info._sample()
        await pilot.pause()
        assert sum(1 for c in app.client.calls if c[0] == "session_info") == calls
        assert info.query_one("#info-cpu", Sparkline).data == [2.0]


async def test_theme_switch_persists_in_config(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    app = ClauderonApp(FakeEngineClient(sample_sessions()), load_settings(home, environ={}).settings,
                       clock=lambda: FROZEN_NOW, themes_dir=home.themes,
                       persist_theme=lambda name: save_setting(home, "tui", "theme", name))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sessions, "the snapshot")
        assert app.theme == "clauderon-dark"
        palette = app.terminal._painter
        app.theme = "clauderon-light"
        await pilot.pause()
        assert app.terminal._painter is not palette  # the terminal's 16 colours follow
    assert load_settings(home, environ={}).settings.tui.theme == "clauderon-light"
    again = ClauderonApp(FakeEngineClient([]), load_settings(home, environ={}).settings, themes_dir=home.themes)
    async with again.run_test(size=SIZE):
        assert again.theme == "clauderon-light"


async def test_user_themes_load_and_a_broken_one_is_reported(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    home.themes.mkdir(parents=True, exist_ok=True)
    palette = ", ".join(f'"#{i:02x}{i:02x}{i:02x}"' for i in range(0, 160, 10))
    (home.themes / "ocean.toml").write_text(
        f'name = "ocean"\ndark = true\nprimary = "#2a9d8f"\nbackground = "#001219"\nterminal_palette = [{palette}]\n')
    (home.themes / "broken.toml").write_text('name = "broken"\ndark = true\nprimary = "blue-ish"\n')
    app = ClauderonApp(FakeEngineClient([]), Settings.model_validate({"tui": {"theme": "ocean"}}),
                       themes_dir=home.themes)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "ocean"
        assert "broken" not in app.available_themes
        notes = [n for n in app._notifications]
        assert any("broken.toml" in n.message and "`primary` must be a colour" in n.message for n in notes)
        assert app.terminal._painter is not None
    from themes import terminal_palette

    assert terminal_palette("ocean")[1] == "#0a0a0a"


async def test_attention_toast_bell_and_sidebar_mark_until_viewed(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path))
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        other = app.client.sessions["id-scratch-s"]
        app.client.update(other.model_copy(update={
            "agent_status": AgentStatus.NEEDS_PERMISSION, "agent_detail": {"tool": "Bash(rm -rf build/)"}}))
        await wait_until(pilot, lambda: rings == [1], "the bell")
        toast = [n for n in app._notifications][-1]
        assert toast.title == "scratch-shell needs permission" and toast.message == "Bash(rm -rf build/)"
        assert "id-scratch-s" in app.marked
        prompt = str(app.sidebar.session_list.get_option("id-scratch-s").prompt)
        assert prompt.startswith("! ")

        # The engine's pull-request attention event notifies too.
        app.client.emit({"type": "attention", "session_id": "id-add-dark-", "name": "add-dark-mode",
                         "reasons": ["checks-failing", "changes-requested"]})
        await wait_until(pilot, lambda: rings == [1, 1], "the second bell")
        toast = [n for n in app._notifications][-1]
        assert toast.title == "add-dark-mode: pull request needs attention"
        assert toast.message == "checks failing, changes requested"

        # Selected with the Files tab in front is not "viewed"; the terminal tab in front is.
        await pilot.press("f")
        app.show_session("id-scratch-s")
        await pilot.pause()
        assert "id-scratch-s" in app.marked
        await pilot.press("t")
        await wait_until(pilot, lambda: "id-scratch-s" not in app.marked, "the mark to clear")
        prompt = str(app.sidebar.session_list.get_option("id-scratch-s").prompt)
        assert not prompt.startswith("! ")


async def test_no_bell_when_bell_is_off(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path), tui={"bell": False})
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        other = app.client.sessions["id-scratch-s"]
        app.client.update(other.model_copy(update={"agent_status": AgentStatus.WAITING_INPUT,
                                                   "agent_detail": {"question": "Which database?"}}))
        await wait_until(pilot, lambda: "id-scratch-s" in app.marked, "the mark")
        toast = [n for n in app._notifications][-1]
        assert toast.title == "scratch-shell is waiting for input" and toast.message == "Which database?"
        assert rings == []


async def test_diff_tab_stacks_its_panes_on_a_narrow_screen(tmp_path: Path) -> None:
    app = fake_app(workbench_client(tmp_path))
    async with app.run_test(size=(45, 40)) as pilot:  # a phone's browser at 390 CSS pixels
        await _ready(pilot, app)
        await app.workbench.show("diff")
        diff = app.query_one(DiffPane)
        option_list = diff.query_one(OptionList)
        await wait_until(pilot, lambda: option_list.option_count == 6 and diff.has_class("-stacked"), "the diff")
        files, view = option_list.region, diff.query_one("#diff-view").region
        assert files.width == view.width == diff.region.width  # full width each, the patch below the list
        assert files.y < view.y and files.bottom <= view.y and view.height > 5
        await pilot.resize_terminal(*SIZE)
        await wait_until(pilot, lambda: not diff.has_class("-stacked"), "side by side again")
        await pilot.pause()
        files, view = option_list.region, diff.query_one("#diff-view").region
        assert files.y == view.y and files.right <= view.x


async def test_a_browser_upload_sent_before_the_app_listened_is_attached_once(tmp_path: Path, monkeypatch) -> None:
    """A served page can send an image before its app's event stream connects: the snapshot repeats the recent
    uploads; those since this app started are attached, once, however often the stream reconnects."""
    from clauderon_tui.widgets.chat import ChatPane

    monkeypatch.setattr(ClauderonApp, "is_web", property(lambda app: True))
    client = workbench_client(tmp_path)
    client.uploads.add({"path": "/incoming/other-tab.png", "name": "other-tab.png"})  # before this app
    app = fake_app(client)
    client.uploads.add({"path": "/incoming/mine.png", "name": "mine.png"})
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        chat = app.workbench.panes["chat"]
        assert isinstance(chat, ChatPane)
        await wait_until(pilot, lambda: chat.attachments == ("/incoming/mine.png",), "the upload attached")
        assert app.workbench.shown == "chat"
        chat.attachments = ()  # sent with a message
        client.emit({"type": "snapshot", "sessions": list(client.sessions.values()),
                     "uploads": client.uploads.recent()})  # a reconnect
        client.emit({"type": "upload", "path": "/incoming/mine.png", "name": "mine.png"})
        await pilot.pause(0.3)
        assert chat.attachments == ()
