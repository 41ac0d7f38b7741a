"""Landing a session (push, PR, checks, reviews, conflicts, merge) against real git and a fake GitHub on loopback.

The fake serves git through git's own `http-backend` and demands the injected credential, so a passing
push proves the header got through; afterwards the token must be in no file, remote URL, argv or log.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.errors import ClauderonError
from runtime.git.github import GitHubError, parse_remote_url
from runtime.git.landing import MergeResult, ReadOnlySession, create_pr, local_conflicts, merge, pr_state, pr_text, push
from runtime.git.pr_watch import PrState, PrWatcher
from runtime.git.worktrees import WorktreeManager
from runtime.home import Home
from runtime.models import Session
from runtime.settings import GitHubSettings
from tests.conftest import run_git
from tests.fakes.github import FakeGitHub, new_token

OWNER, REPO = "acme", "widgets"


@dataclass
class Landing:
    """One test world: the user's repo with a session worktree, the fake GitHub, settings and a token."""

    repo: Path
    worktree: Path
    session: Session
    fake: FakeGitHub
    settings: GitHubSettings
    token: str
    root: Path

    def commit(self, where: Path, name: str, text: str) -> str:
        (where / name).write_text(text)
        run_git(where, "add", name)
        run_git(where, "commit", "-q", "-m", f"change {name}")
        return run_git(where, "rev-parse", "HEAD").strip()

    def publish_base(self) -> None:
        """Send the user's `main` to the fake (as if someone pushed it), without any client credential."""
        self.fake.git(self.fake.bare(OWNER, REPO), "fetch", "-q", str(self.repo), "+main:main")

    def bare(self, *args: str) -> str:
        return self.fake.git(self.fake.bare(OWNER, REPO), *args)


@pytest.fixture
def argv_spy(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every argv given to `subprocess.run` in this process (gitsafe's, landing's and the fake's)."""
    seen: list[list[str]] = []
    real = subprocess.run

    def spy(args, *a, **kw):
        seen.append([str(x) for x in args])
        return real(args, *a, **kw)

    monkeypatch.setattr(subprocess, "run", spy)
    return seen


@pytest.fixture
async def world(git_repo: Path, short_tmp: Path):
    token = new_token()
    fake = FakeGitHub(token, root=short_tmp / "gh")
    await fake.start()
    fake.serve_as_origin(OWNER, REPO, git_repo)
    info = WorktreeManager(Home.open(short_tmp / "home")).create(git_repo, "counter", "main")
    run_git(info.worktree_path, "config", "user.name", "Agent")  # shared config; fine for a test repo
    session = Session(name="counter", repo_path=str(git_repo), base_branch="main", branch=info.branch,
                      worktree_path=str(info.worktree_path),
                      initial_prompt="Add a click counter to the widget\n\nKeep it in src/app.py.")
    settings = GitHubSettings(api_url=fake.api_url, git_host=fake.git_host, poll_interval=3600)
    world = Landing(git_repo, info.worktree_path, session, fake, settings, token, short_tmp)
    world.commit(info.worktree_path, "src/app.py", "count = 0\nprint('hi')\n")
    yield world
    await fake.stop()


async def _open_pr(w: Landing, **kw) -> int:
    await asyncio.to_thread(push, w.session, w.settings, w.token)
    return (await create_pr(w.session, w.settings, w.token, **kw)).number


# ---- push and credential hygiene ---------------------------------------------------------------------

async def test_push_sends_the_injected_credential_and_leaks_it_nowhere(
        world: Landing, argv_spy: list[list[str]], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    w = world
    result = await asyncio.to_thread(push, w.session, w.settings, w.token)
    local = run_git(w.repo, "rev-parse", w.session.branch).strip()
    assert result.sha == local
    assert w.bare("rev-parse", f"refs/heads/{w.session.branch}") == local
    assert w.fake.git_credentials and set(w.fake.git_credentials) == {f"x-access-token:{w.token}"}
    assert w.fake.git_unauthorized == 0

    number = (await create_pr(w.session, w.settings, w.token)).number
    await merge(w.session, w.settings, w.token, number=number, delete_branch=True)

    basic = base64.b64encode(f"x-access-token:{w.token}".encode()).decode()
    secrets_ = (w.token, basic)
    # No process argv (visible in `ps`) carried it: the push went through the environment only.
    assert any("push" in argv for argv in argv_spy)
    assert not [argv for argv in argv_spy if any(s in " ".join(argv) for s in secrets_)]
    # No log line, at any level, from any logger.
    assert w.token not in caplog.text and basic not in caplog.text
    # No remote URL, and no config key anywhere git looks in this repository.
    config = run_git(w.repo, "config", "--list", "--show-origin")
    assert w.token not in config and basic not in config
    assert run_git(w.repo, "remote", "get-url", "origin").strip() == w.fake.repo_url(OWNER, REPO)
    # No file at all: the repository, its .git, the worktree, the home, the fake's bare repositories.
    for path in w.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert w.token.encode() not in data and basic.encode() not in data, f"token found in {path}"


async def test_push_with_a_wrong_token_fails_with_one_clear_line(world: Landing) -> None:
    wrong = "ghp_" + secrets.token_hex(18)
    with pytest.raises(ClauderonError, match="GitHub refused github_token") as err:
        await asyncio.to_thread(push, world.session, world.settings, wrong)
    assert "\n" not in str(err.value) and wrong not in str(err.value)
    assert world.fake.git_unauthorized >= 1
    assert world.bare("for-each-ref", "refs/heads/clauderon/") == ""


async def test_push_rejected_when_github_has_commits_the_branch_lacks(world: Landing) -> None:
    await asyncio.to_thread(push, world.session, world.settings, world.token)
    run_git(world.worktree, "commit", "-q", "--amend", "-m", "rewritten")
    with pytest.raises(ClauderonError, match="rejected"):
        await asyncio.to_thread(push, world.session, world.settings, world.token)
    forced = await asyncio.to_thread(push, world.session, world.settings, world.token, force=True)
    assert world.bare("rev-parse", f"refs/heads/{world.session.branch}") == forced.sha


async def test_read_only_session_cannot_push_open_or_merge(world: Landing) -> None:
    ro = world.session.model_copy(update={"access_mode": "read-only"})
    with pytest.raises(ReadOnlySession, match="read-only"):
        await asyncio.to_thread(push, ro, world.settings, world.token)
    with pytest.raises(ReadOnlySession, match="read-only"):
        await create_pr(ro, world.settings, world.token)
    with pytest.raises(ReadOnlySession, match="read-only") as err:
        await merge(ro, world.settings, world.token, number=1)
    assert err.value.status == 403
    assert world.fake.requests == []


async def test_missing_token_is_refused_before_any_request(world: Landing) -> None:
    with pytest.raises(ClauderonError, match="no github_token"):
        await asyncio.to_thread(push, world.session, world.settings, "")
    assert world.fake.requests == []


# ---- pull request creation --------------------------------------------------------------------------

async def test_create_pr_title_body_base_head_and_draft(world: Landing) -> None:
    w = world
    await asyncio.to_thread(push, w.session, w.settings, w.token)
    pr = await create_pr(w.session, w.settings, w.token, draft=True, summary="Added a counter\n\nIt counts clicks.")
    sent = w.fake.requests_to(f"/api/v3/repos/{OWNER}/{REPO}/pulls")[0]
    assert sent.header("Authorization") == f"Bearer {w.token}"
    assert sent.json["title"] == "Added a counter"
    assert (sent.json["base"], sent.json["head"], sent.json["draft"]) == ("main", "clauderon/counter", True)
    assert "It counts clicks." in sent.json["body"] and "Add a click counter to the widget" in sent.json["body"]
    assert (pr.number, pr.draft, pr.created, pr.base, pr.head) == (1, True, True, "main", "clauderon/counter")
    again = await create_pr(w.session, w.settings, w.token)
    assert (again.number, again.created) == (1, False)
    assert len(w.fake.pulls) == 1
    state = await pr_state(w.session, w.settings, w.token)
    assert state is not None and (state.number, state.draft, state.stage) == (1, True, "working")


async def test_create_pr_before_push_reports_githubs_reason(world: Landing) -> None:
    with pytest.raises(GitHubError, match="422") as err:
        await create_pr(world.session, world.settings, world.token)
    assert err.value.status == 422 and world.token not in str(err.value)


def test_pr_text_uses_summary_then_prompt() -> None:
    s = Session(name="x", repo_path="/r", base_branch="main", branch="clauderon/x", worktree_path="/w",
                initial_prompt="# Fix the login bug " + "very " * 30)
    title, body = pr_text(s, None)
    assert title.startswith("Fix the login bug") and len(title) <= 72 and title.endswith("…")
    assert "## Prompt" in body and "## Summary" not in body and "`x`" in body
    assert pr_text(s, "Fixed it")[0] == "Fixed it"
    assert pr_text(s.model_copy(update={"initial_prompt": ""}), None)[0] == "clauderon: x"


# ---- following the PR: checks, reviews, conflicts -------------------------------------------------------

def _watcher(w: Landing) -> tuple[PrWatcher, list[tuple[str, PrState, list[str]]]]:
    seen: list[tuple[str, PrState, list[str]]] = []

    async def fetch(session: Session, number: int) -> PrState:
        state = await pr_state(session, w.settings, w.token, number)
        assert state is not None
        return state

    def changed(name: str, old: PrState | None, new: PrState, notify: list[str]) -> None:
        seen.append((name, new, notify))

    return PrWatcher(fetch, changed, interval=w.settings.poll_interval), seen


async def test_checks_failing_then_passing(world: Landing) -> None:
    w = world
    number = await _open_pr(w)
    watcher, seen = _watcher(w)
    watcher.watch(w.session, number)
    w.fake.set_check(number, "build", "completed", "success")
    w.fake.set_check(number, "tests", "in_progress", None)
    await watcher.poll_once()
    assert seen[-1][1].checks == "pending" and seen[-1][1].pending_checks == ["tests"]
    assert seen[-1][1].stage == "working" and seen[-1][2] == []

    w.fake.set_check(number, "tests", "completed", "failure")
    w.fake.set_status(number, "lint", "error")
    await watcher.poll_once()
    name, state, notify = seen[-1]
    assert name == "counter" and state.checks == "failing" and state.failing_checks == ["lint", "tests"]
    assert state.stage == "blocked" and "checks-failing" in notify

    await watcher.poll_once()  # nothing changed: no callback
    assert len(seen) == 2

    w.fake.set_check(number, "tests", "completed", "success")
    w.fake.set_status(number, "lint", "success")
    await watcher.poll_once()
    state, notify = seen[-1][1], seen[-1][2]
    assert state.checks == "passing" and state.failing_checks == []
    # The fake repository requires no review, so GitHub says `clean`: ready to merge.
    assert state.stage == "ready-to-merge" and notify == ["ready-to-merge"]
    assert PrState.from_json(state.to_json()).same_as(state)


async def test_changes_requested_then_approved(world: Landing) -> None:
    w = world
    number = await _open_pr(w)
    state = await pr_state(w.session, w.settings, w.token, number)
    watcher, seen = _watcher(w)
    watcher.watch(w.session, number, state)
    w.fake.add_review(number, "alice", "CHANGES_REQUESTED")
    await watcher.poll_once()
    assert seen[-1][1].review == "changes-requested" and seen[-1][1].stage == "changes-requested"
    assert seen[-1][2] == ["changes-requested"]
    w.fake.add_review(number, "alice", "COMMENTED")  # a comment does not withdraw the request
    await watcher.poll_once()
    assert len(seen) == 1
    w.fake.add_review(number, "alice", "APPROVED")
    await watcher.poll_once()
    assert seen[-1][1].review == "approved" and seen[-1][1].stage == "ready-to-merge"


async def test_conflict_seen_locally_and_on_github_and_merge_refused(world: Landing) -> None:
    w = world
    number = await _open_pr(w)
    assert local_conflicts(w.session) == []
    assert (await pr_state(w.session, w.settings, w.token, number)).conflicts is False
    w.commit(w.repo, "src/app.py", "print('bye')\n")  # the same lines, changed on the base
    w.publish_base()
    head_before = run_git(w.worktree, "rev-parse", "HEAD")
    assert local_conflicts(w.session) == ["src/app.py"]
    # The check never touched the worktree: same HEAD, nothing modified or staged.
    assert run_git(w.worktree, "rev-parse", "HEAD") == head_before
    assert run_git(w.worktree, "status", "--porcelain") == ""
    state = await pr_state(w.session, w.settings, w.token, number)
    assert (state.mergeable, state.mergeable_state, state.conflicts, state.stage) == (False, "dirty", True, "blocked")
    with pytest.raises(GitHubError, match="cannot be merged") as err:
        await merge(w.session, w.settings, w.token, number=number)
    assert err.value.status == 409 and not w.fake.pulls[number].merged


async def test_scripted_dirty_state_blocks_even_without_a_local_conflict(world: Landing) -> None:
    number = await _open_pr(world)
    world.fake.pulls[number].mergeable_override = False
    state = await pr_state(world.session, world.settings, world.token, number)
    assert state.mergeable_state == "dirty" and state.stage == "blocked"
    assert local_conflicts(world.session) == []


# ---- merge ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, delete", [("merge", False), ("squash", True), ("rebase", True)])
async def test_merge_each_method_for_real(world: Landing, method: str, delete: bool) -> None:
    w = world
    w.commit(w.worktree, "NOTES.md", "second commit\n")
    number = await _open_pr(w)
    w.commit(w.repo, "CHANGELOG.md", "base moved on\n")  # a non-conflicting commit on the base
    w.publish_base()
    base_before = w.bare("rev-parse", "main")
    branch_tree = run_git(w.repo, "rev-parse", f"{w.session.branch}^{{tree}}").strip()

    watcher, seen = _watcher(w)
    watcher.watch(w.session, number)
    result = await merge(w.session, w.settings, w.token, number=number, method=method, delete_branch=delete)
    assert isinstance(result, MergeResult) and result.sha == w.bare("rev-parse", "main")
    assert w.fake.merges[-1]["merge_method"] == method
    assert w.fake.merges[-1]["sha"] == run_git(w.repo, "rev-parse", w.session.branch).strip()
    parents = w.bare("rev-list", "--parents", "-n1", "main").split()[1:]
    files = w.bare("ls-tree", "-r", "--name-only", "main").split()
    assert {"CHANGELOG.md", "NOTES.md", "src/app.py"} <= set(files)
    if method == "merge":
        assert len(parents) == 2 and parents[0] == base_before
    elif method == "squash":
        assert parents == [base_before] and w.bare("log", "-1", "--format=%s", "main").endswith(f"(#{number})")
        assert w.bare("rev-parse", "main^{tree}") != branch_tree  # includes the base's new commit too
    else:
        assert w.bare("rev-list", "--count", f"{base_before}..main") == "2"
        assert w.bare("rev-list", "--merges", f"{base_before}..main") == ""
    deleted = w.bare("for-each-ref", f"refs/heads/{w.session.branch}") == ""
    assert (result.branch_deleted, deleted) == (delete, delete)
    assert w.fake.deleted_refs == ([w.session.branch] if delete else [])

    await watcher.poll_once()
    assert seen[-1][1].stage == "merged" and "merged" in seen[-1][2]
    assert watcher.watching() == []  # a merged PR is final: no more polling


async def test_merge_refuses_when_the_session_has_unpushed_commits(world: Landing) -> None:
    number = await _open_pr(world)
    world.commit(world.worktree, "late.txt", "not pushed\n")
    with pytest.raises(GitHubError, match="push the session branch again"):
        await merge(world.session, world.settings, world.token, number=number)
    assert not world.fake.pulls[number].merged


async def test_merge_rejects_unknown_method_and_missing_pr(world: Landing) -> None:
    with pytest.raises(ClauderonError, match="unknown merge method"):
        await merge(world.session, world.settings, world.token, method="octopus")
    with pytest.raises(ClauderonError, match="no open pull request") as err:
        await merge(world.session, world.settings, world.token)
    assert err.value.status == 404


# ---- the watcher's loop ------------------------------------------------------------------------------------

async def test_watcher_loop_polls_on_demand_and_survives_a_failing_session(world: Landing) -> None:
    w = world
    number = await _open_pr(w)
    broken = w.session.model_copy(update={"name": "broken"})
    changed = asyncio.Event()
    calls: list[str] = []

    async def fetch(session: Session, n: int) -> PrState:
        if session.name == "broken":
            raise GitHubError("GitHub GET /x failed (500: boom); try again later")
        state = await pr_state(session, w.settings, w.token, n)
        assert state is not None
        return state

    async def on_change(name: str, old: PrState | None, new: PrState, notify: list[str]) -> None:
        calls.append(f"{name}:{new.checks}")
        changed.set()

    watcher = PrWatcher(fetch, on_change, interval=3600)  # only `poll_now` can make it poll again
    watcher.watch(broken, 99)
    watcher.watch(w.session, number)
    watcher.start()
    try:
        await asyncio.wait_for(changed.wait(), 30)
        changed.clear()
        w.fake.set_check(number, "ci", "completed", "failure")
        watcher.poll_now()
        await asyncio.wait_for(changed.wait(), 30)
    finally:
        await watcher.stop()
    assert calls == ["counter:none", "counter:failing"]
    assert "500: boom" in watcher.errors["broken"] and "broken" not in watcher.states
    assert watcher.states["counter"].stage == "blocked"


# ---- remote URLs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, host, expected", [
    ("https://github.com/acme/widgets.git", "github.com", "https://github.com/acme/widgets.git"),
    ("https://github.com/acme/widgets", "github.com", "https://github.com/acme/widgets.git"),
    ("https://someone:hunter2@github.com/acme/widgets.git", "github.com", "https://github.com/acme/widgets.git"),
    ("git@github.com:acme/widgets.git", "github.com", "https://github.com/acme/widgets.git"),
    ("ssh://git@github.com/acme/widgets.git", "github.com", "https://github.com/acme/widgets.git"),
    ("git@ghe.corp.example:team/tool.git", "ghe.corp.example", "https://ghe.corp.example/team/tool.git"),
    ("http://127.0.0.1:8123/acme/widgets.git", "127.0.0.1:8123", "http://127.0.0.1:8123/acme/widgets.git"),
])
def test_parse_remote_url(url: str, host: str, expected: str) -> None:
    assert parse_remote_url(url, host).push_url == expected


@pytest.mark.parametrize("url, host, match", [
    ("https://gitlab.com/acme/widgets.git", "github.com", "not on github.com"),
    ("http://ghe.corp.example/acme/widgets.git", "ghe.corp.example", "plain http"),
    ("https://github.com/acme", "github.com", "owner>/<repo"),
    ("file:///srv/repo.git", "github.com", "not an https or ssh URL"),
    ("https://someone:hunter2@gitlab.com/a/b.git", "github.com", "not on github.com"),
])
def test_parse_remote_url_refusals(url: str, host: str, match: str) -> None:
    with pytest.raises(GitHubError, match=match) as err:
        parse_remote_url(url, host)
    assert "hunter2" not in str(err.value)


# ---- the pure derivation ----------------------------------------------------------------------------------

def _state(**kw) -> PrState:
    base = dict(number=1, checks="passing", review="review-required", mergeable=True, mergeable_state="blocked")
    state = PrState(**{**base, **kw})
    state.conflicts = state.mergeable is False or state.mergeable_state == "dirty"
    return state


@pytest.mark.parametrize("fields, stage", [
    ({"merged": True, "state": "closed", "checks": "failing"}, "merged"),
    ({"state": "closed"}, "closed"),
    ({"checks": "failing", "review": "approved"}, "blocked"),
    ({"mergeable": False, "mergeable_state": "dirty", "review": "approved"}, "blocked"),
    ({"checks": "failing", "review": "changes-requested"}, "blocked"),
    ({"review": "changes-requested"}, "changes-requested"),
    ({"draft": True, "review": "approved"}, "working"),
    ({"checks": "pending"}, "working"),
    ({"review": "approved"}, "ready-to-merge"),
    ({"review": "approved", "checks": "none"}, "ready-to-merge"),
    ({"review": "approved", "mergeable": None, "mergeable_state": "unknown"}, "needs-review"),
    ({"mergeable_state": "clean"}, "ready-to-merge"),  # the repository requires no review
    ({}, "needs-review"),
])
def test_derive_stage(fields: dict, stage: str) -> None:
    from runtime.git.pr_watch import derive_stage

    assert derive_stage(_state(**fields)) == stage


def test_review_decision_takes_each_reviewers_latest_decisive_review() -> None:
    from runtime.git.pr_watch import review_decision

    def r(i: int, who: str, state: str) -> dict:
        return {"id": i, "user": {"login": who}, "state": state, "submitted_at": f"2026-01-01T00:00:{i:02d}Z"}

    assert review_decision([]) == "review-required"
    assert review_decision([r(1, "a", "COMMENTED")]) == "review-required"
    assert review_decision([r(1, "a", "CHANGES_REQUESTED"), r(2, "a", "COMMENTED")]) == "changes-requested"
    assert review_decision([r(1, "a", "CHANGES_REQUESTED"), r(2, "a", "APPROVED")]) == "approved"
    assert review_decision([r(2, "a", "APPROVED"), r(1, "b", "CHANGES_REQUESTED")]) == "changes-requested"
    assert review_decision([r(1, "a", "APPROVED"), r(2, "a", "DISMISSED")]) == "review-required"


def test_summarize_checks_combines_check_runs_and_statuses() -> None:
    from runtime.git.pr_watch import summarize_checks

    run = lambda name, status, conclusion=None: {"name": name, "status": status, "conclusion": conclusion}  # noqa: E731
    assert summarize_checks([], None) == ("none", [], [])
    passed = [run("a", "completed", "success"), run("b", "completed", "skipped")]
    assert summarize_checks(passed, {}) == ("passing", [], [])
    statuses = {"statuses": [{"context": "ci", "state": "success"}]}
    assert summarize_checks([run("a", "queued")], statuses) == ("pending", [], ["a"])
    assert summarize_checks([run("a", "completed", "timed_out"), run("b", "in_progress")],
                            {"statuses": [{"context": "ci", "state": "error"}]}) == ("failing", ["a", "ci"], ["b"])


def test_notifications_fire_on_the_change_into_a_state_only() -> None:
    from runtime.git.pr_watch import notifications

    quiet = _state(checks="pending", stage="working")
    failing = _state(checks="failing", failing_checks=["tests"], stage="blocked")
    assert notifications(quiet, failing) == ["checks-failing"]
    assert notifications(failing, failing) == []
    more = _state(checks="failing", failing_checks=["lint", "tests"], stage="blocked")
    assert notifications(failing, more) == ["checks-failing"]  # a newly failing check is news
    changes = _state(review="changes-requested", stage="changes-requested")
    assert notifications(quiet, changes) == ["changes-requested"] and notifications(changes, changes) == []
    dirty = _state(mergeable=False, mergeable_state="dirty", stage="blocked")
    assert notifications(quiet, dirty) == ["conflict"]
    assert notifications(None, _state(merged=True, state="closed", stage="merged")) == ["merged"]
