"""Landing from the app: the sidebar PR badge, the Info tab's Pull request section, and P / U / M."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from clauderon_tui.formatting import pr_badge
from clauderon_tui.screens.help import HelpScreen
from clauderon_tui.screens.landing import MergeScreen, OpenPrScreen
from clauderon_tui.widgets.info import NO_PR, InfoPane, pr_section
from clauderon_tui.widgets.sidebar import session_prompt
from runtime.errors import ClauderonError, Conflict
from runtime.models import AgentStatus
from tests.fake_engine import (
    FROZEN_NOW,
    FakeEngineClient,
    confirm,
    fake_app,
    make_session,
    run_from_palette,
    sample_sessions,
    wait_until,
)

SIZE = (120, 36)
FIX = "id-fix-login"


def pr(number: int, stage: str, **fields: Any) -> dict[str, Any]:
    """A stored PrState JSON (see runtime/git/pr_watch.py) at `stage`."""
    return {"number": number, "html_url": f"https://github.com/dev/webapp/pull/{number}", "state": "open",
            "merged": False, "draft": False, "checks": "passing", "failing_checks": [], "pending_checks": [],
            "review": "approved", "mergeable": True, "mergeable_state": "clean", "conflicts": False,
            "stage": stage, **fields}


def landing_sessions() -> list:
    """One session per PR stage, and one without a PR."""
    return [
        make_session("ready-one", agent_status=AgentStatus.IDLE, age=60, pr=pr(12, "ready-to-merge")),
        make_session("blocked-one", agent_status=AgentStatus.IDLE, age=120,
                     pr=pr(13, "blocked", checks="failing", failing_checks=["lint"], conflicts=True,
                           mergeable=False, mergeable_state="dirty")),
        make_session("review-one", agent_status=AgentStatus.WORKING, age=180,
                     pr=pr(14, "needs-review", review="review-required", mergeable_state="blocked")),
        make_session("changes-one", agent_status=AgentStatus.IDLE, age=240,
                     pr=pr(15, "changes-requested", review="changes-requested")),
        make_session("merged-one", agent_status=AgentStatus.EXITED, age=300,
                     pr=pr(16, "merged", state="closed", merged=True)),
        make_session("closed-one", agent_status=AgentStatus.EXITED, age=360, pr=pr(17, "closed", state="closed")),
        make_session("no-pr-yet", agent_status=AgentStatus.WORKING, age=420),
    ]


async def _ready(pilot, session_id: str = FIX) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.sessions and app.selected_id is not None, "the first snapshot")
    app.show_session(session_id)
    await pilot.pause()


def _toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


# -- the badge -------------------------------------------------------------------------------------------------
def test_pr_badge_per_stage() -> None:
    expected = {
        "ready-to-merge": ("#12 ✓", "$success"),
        "blocked": ("#12 ✗", "$error"),
        "needs-review": ("#12 ●", "$warning"),
        "working": ("#12 ●", "$secondary"),
        "changes-requested": ("#12 ↺", "$warning"),
        "merged": ("#12 merged", "$accent"),
        "closed": ("#12 closed", "$text-muted"),
    }
    for stage, badge in expected.items():
        assert pr_badge(pr(12, stage)) == badge, stage
    assert pr_badge(None) is None
    assert pr_badge({}) is None


def test_session_row_shows_the_badge_only_with_a_pr() -> None:
    with_pr = make_session("landed", pr=pr(7, "blocked"))
    without = make_session("plain")
    assert str(session_prompt(with_pr, FROZEN_NOW)).splitlines()[0] == "● landed #7 ✗  idle"
    assert "#" not in str(session_prompt(without, FROZEN_NOW)).splitlines()[0]


def test_session_row_shows_what_the_branch_changes() -> None:
    def second_line(seen: dict | None) -> str:
        session = make_session("busy").model_copy(update={"sandbox_changes": seen})
        return str(session_prompt(session, FROZEN_NOW)).splitlines()[1]

    seen = {"taken_at": FROZEN_NOW, "uncommitted": ["a.txt", "b.txt"], "ignored": [],
            "committed": {"files": 3, "added": 120, "removed": 14}}
    assert second_line(seen).startswith("  10m · 3 files +120 −14, 2 uncommitted · claude")  # first: rows are cut
    one = {**seen, "uncommitted": [], "committed": {"files": 1, "added": 0, "removed": 2}}
    assert "· 1 file +0 −2 · claude" in second_line(one)
    assert "file" not in second_line(None)  # nothing seen yet: no figures


def test_the_second_line_says_the_pull_requests_state_in_words() -> None:
    def words(**state) -> str:
        session = make_session("busy", pr={"number": 12, "state": "open", "stage": "working", **state})
        return str(session_prompt(session, FROZEN_NOW)).splitlines()[1]

    assert "· PR open · claude" in words()
    assert "PR checks failing" in words(checks="failing", stage="blocked")
    assert "PR changes requested" in words(review="changes-requested", checks="passing")
    assert "PR mergeable" in words(stage="ready-to-merge", checks="passing")
    assert "PR checks passing" in words(checks="passing", stage="needs-review")
    assert "PR draft" in words(draft=True, checks="failing")
    assert "PR merged" in words(merged=True, state="closed", stage="merged")
    assert "PR" not in str(session_prompt(make_session("plain"), FROZEN_NOW)).splitlines()[1]


def test_sidebar_with_pr_stages(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: len(pilot.app.sidebar.shown_ids) == 7, "the sessions")
        await pilot.pause()

    assert snap_compare(fake_app(FakeEngineClient(landing_sessions())), terminal_size=SIZE, run_before=run_before)


# -- the Info tab ------------------------------------------------------------------------------------------------
def test_pr_section_text() -> None:
    blocked = pr(13, "blocked", checks="failing", failing_checks=["lint", "tests"], conflicts=True, mergeable=False)
    text = str(pr_section(blocked, ["src/app.py"], "main"))
    assert "#13 https://github.com/dev/webapp/pull/13" in text
    assert "stage      ✗ blocked" in text
    assert "checks     failing: lint, tests" in text
    assert "mergeable  no: conflicts with the base branch" in text
    assert "⚠ local conflicts with main:\n  src/app.py" in text
    merged = str(pr_section(pr(16, "merged", state="closed", merged=True), [], "main"))
    assert "state      merged" in merged and "no local conflicts with main" in merged
    assert str(pr_section(None, None, "main")) == NO_PR


async def test_info_tab_pull_request_section() -> None:
    client = FakeEngineClient(landing_sessions())
    blocked = client._find("blocked-one")
    client.pr_answers[blocked.id] = {**blocked.pr, "local_conflicts": ["src/login.py", "README.md"]}
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, blocked.id)
        await pilot.press("i")
        section = app.query_one(InfoPane).query_one("#info-pr", Static)
        await wait_until(pilot, lambda: "README.md" in str(section.content), "the local conflicts")
        text = str(section.content)
        assert "#13 https://github.com/dev/webapp/pull/13" in text
        assert "checks     failing: lint" in text
        assert "⚠ local conflicts with main:\n  src/login.py\n  README.md" in text
        assert ("pr_state", (blocked.id, False)) in client.calls
        # No PR yet: the engine's 404 reads as a hint, not an error.
        app.show_session(client._find("no-pr-yet").id)
        await wait_until(pilot, lambda: ("pr_state", ("id-no-pr-yet", False)) in client.calls, "the second ask")
        await wait_until(pilot, lambda: str(section.content) == NO_PR, "the no-PR hint")
        # A PR event for the shown session redraws the section.
        session = client._find("no-pr-yet")
        client.update(session.model_copy(update={"pr": pr(20, "working", checks="pending",
                                                              pending_checks=["build"])}))
        await wait_until(pilot, lambda: "#20" in str(section.content), "the new PR")
        assert "checks     pending: build" in str(section.content)


async def test_info_tab_shows_other_pr_state_errors() -> None:
    client = FakeEngineClient(sample_sessions())
    client.landing_errors["pr_state"] = ClauderonError("github_token refused by GitHub (401)", status=401)
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("i")
        section = app.query_one(InfoPane).query_one("#info-pr", Static)
        await wait_until(pilot, lambda: "github_token refused" in str(section.content), "the error")
        assert app.is_running


# -- P, U, M -------------------------------------------------------------------------------------------------------
async def test_push_key() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("U")
        await confirm(pilot)
        await wait_until(pilot, lambda: ("push", (FIX, False)) in app.client.calls, "the push")
        await wait_until(pilot, lambda: "pushed clauderon/fix-login-bug (0123456)" in _toasts(app), "the result")


async def test_open_pr_key_asks_draft_or_not() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, OpenPrScreen), "the dialog")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, OpenPrScreen), "cancelled")
        assert not any(call[0] == "open_pr" for call in app.client.calls)
        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, OpenPrScreen), "the dialog again")
        await pilot.click("#draft")
        await wait_until(pilot, lambda: ("open_pr", (FIX, True)) in app.client.calls, "the draft PR")
        await wait_until(pilot, lambda: any("pull request #12 opened: https://github.com/dev/webapp/pull/12" in t
                                            for t in _toasts(app)), "the URL")
        # The engine's session event brings the badge.
        await wait_until(pilot, lambda: "#12 ●" in str(app.sidebar.session_list.get_option(FIX).prompt), "the badge")
        await pilot.press("P", "enter")  # Cancel has the focus: a typed Enter opens nothing
        await wait_until(pilot, lambda: not isinstance(app.screen, OpenPrScreen), "cancelled by Enter")
        assert ("open_pr", (FIX, False)) not in app.client.calls
        await pilot.press("P", "tab", "tab", "enter")  # Cancel, Draft, then Open
        await wait_until(pilot, lambda: ("open_pr", (FIX, False)) in app.client.calls, "the ready PR")


async def test_merge_key_defaults_to_squash_and_offers_the_rest() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MergeScreen), "the dialog")
        await pilot.click("#merge")
        await wait_until(pilot, lambda: ("merge", (FIX, "squash", False)) in app.client.calls, "a squash merge")
        await wait_until(pilot, lambda: "merged #12 (squash)" in _toasts(app), "the result")
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MergeScreen), "the dialog again")
        await pilot.click("#method-rebase")
        await pilot.click("#delete-branch")
        await pilot.click("#merge")
        await wait_until(pilot, lambda: ("merge", (FIX, "rebase", True)) in app.client.calls, "a rebase merge")
        await wait_until(pilot, lambda: "merged #12 (rebase); branch deleted" in _toasts(app), "the result")


async def test_landing_errors_are_toasts_not_crashes() -> None:
    client = FakeEngineClient(sample_sessions())
    client.landing_errors["merge"] = Conflict("pull request #12 is not mergeable: conflicts with main")
    app = fake_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MergeScreen), "the dialog")
        await pilot.click("#merge")
        await wait_until(pilot, lambda: "pull request #12 is not mergeable: conflicts with main" in _toasts(app),
                         "the merge error")
        assert app.is_running


async def test_read_only_session_shows_the_engines_refusal() -> None:
    sessions = [make_session("locked", access_mode="read-only")]
    app = fake_app(FakeEngineClient(sessions))
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, "id-locked")
        await pilot.press("U")
        await confirm(pilot)
        await wait_until(pilot, lambda: any("is read-only" in t for t in _toasts(app)), "the refusal")
        assert ("push", ("id-locked", False)) in app.client.calls
        assert app.is_running


async def test_palette_and_help_list_the_landing_actions() -> None:
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        keys = dict(app.screen.sections[0][1])
        assert "pull request" in keys["P"] and "push" in keys["U"] and "merge" in keys["M"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")
        await run_from_palette(pilot, app, "merge pull")
        await wait_until(pilot, lambda: isinstance(app.screen, MergeScreen), "the merge dialog from the palette")
