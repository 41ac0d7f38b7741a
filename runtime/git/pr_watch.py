"""Following a session's pull request: its state, the stage derived from it, and a polling watcher.

The derivation is pure (GitHub's JSON in, `PrState` out) so it can be tested without a server:

- checks: check-runs and the combined commit status together give `none`, `pending`, `passing` or
  `failing` (with the names of the failing and pending ones);
- review: the latest decisive review of each reviewer gives `approved`, `changes-requested` or
  `review-required`;
- conflicts: `mergeable: false` or `mergeable_state: dirty`;
- stage, "whose turn is it": `working` (draft, or CI still running), `needs-review`,
  `changes-requested`, `blocked` (failing checks or conflicts), `ready-to-merge`, `merged`, and
  `closed` for a PR closed without merging.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

FAILING_CONCLUSIONS = frozenset({"failure", "cancelled", "timed_out", "action_required", "startup_failure"})
FAILING_STATUSES = frozenset({"failure", "error"})
STAGES = ("working", "needs-review", "changes-requested", "blocked", "ready-to-merge", "merged", "closed")


@dataclass
class PrState:
    """Everything the UI shows about a session's PR. JSON-able with `to_json`/`from_json`."""

    number: int
    html_url: str = ""
    state: str = "open"  # open | closed (GitHub's word; merged PRs are closed and merged)
    merged: bool = False
    draft: bool = False
    head_sha: str = ""
    checks: str = "none"  # none | pending | passing | failing
    failing_checks: list[str] = field(default_factory=list)
    pending_checks: list[str] = field(default_factory=list)
    review: str = "review-required"  # approved | changes-requested | review-required
    mergeable: bool | None = None  # None while GitHub is still computing it
    mergeable_state: str = "unknown"
    conflicts: bool = False
    stage: str = "working"
    checked_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def same_as(self, other: PrState | None) -> bool:
        """Equal in everything but the time it was read."""
        if other is None:
            return False
        mine, theirs = self.to_json(), other.to_json()
        mine.pop("checked_at"), theirs.pop("checked_at")
        return mine == theirs


# ---- pure derivation --------------------------------------------------------------------------------

def summarize_checks(check_runs: Iterable[dict[str, Any]],
                     status: dict[str, Any] | None) -> tuple[str, list[str], list[str]]:
    """(overall, failing names, pending names) from check-runs and the combined commit status."""
    failing: list[str] = []
    pending: list[str] = []
    passed = 0
    for run in check_runs:
        name = str(run.get("name", "check"))
        if run.get("status") != "completed":
            pending.append(name)
        elif run.get("conclusion") in FAILING_CONCLUSIONS:
            failing.append(name)
        else:  # success, neutral, skipped: nothing for anyone to do
            passed += 1
    for item in (status or {}).get("statuses", []) or []:
        name = str(item.get("context", "status"))
        if item.get("state") in FAILING_STATUSES:
            failing.append(name)
        elif item.get("state") == "pending":
            pending.append(name)
        else:
            passed += 1
    overall = "failing" if failing else "pending" if pending else "passing" if passed else "none"
    return overall, sorted(set(failing)), sorted(set(pending))


def review_decision(reviews: Iterable[dict[str, Any]]) -> str:
    """`changes-requested` if any reviewer's latest decisive review asks for changes, else `approved`
    if any approved, else `review-required`. Comments do not change a reviewer's decision; a dismissal
    withdraws it."""
    latest: dict[str, str] = {}
    for review in sorted(reviews, key=lambda r: (r.get("submitted_at") or "", r.get("id") or 0)):
        who = str((review.get("user") or {}).get("login", "")) or str(review.get("id"))
        state = str(review.get("state", "")).upper()
        if state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[who] = state
    decisions = set(latest.values())
    if "CHANGES_REQUESTED" in decisions:
        return "changes-requested"
    if "APPROVED" in decisions:
        return "approved"
    return "review-required"


def derive_stage(state: PrState) -> str:
    """The one word for where the PR stands (see the module docstring for the order of precedence)."""
    if state.merged:
        return "merged"
    if state.state == "closed":
        return "closed"
    if state.checks == "failing" or state.conflicts:
        return "blocked"
    if state.review == "changes-requested":
        return "changes-requested"
    if state.draft or state.checks == "pending":
        return "working"
    # `clean` means GitHub would merge it now: approved, or the repository does not require reviews.
    if state.mergeable is True and (state.review == "approved" or state.mergeable_state == "clean"):
        return "ready-to-merge"
    return "needs-review"


def build_pr_state(pull: dict[str, Any], check_runs: Iterable[dict[str, Any]], status: dict[str, Any] | None,
                   reviews: Iterable[dict[str, Any]]) -> PrState:
    """A `PrState` from GitHub's pull, check-runs, combined status and reviews answers."""
    checks, failing, pending = summarize_checks(check_runs, status)
    mergeable = pull.get("mergeable")
    mergeable_state = str(pull.get("mergeable_state") or "unknown")
    state = PrState(
        number=int(pull["number"]), html_url=str(pull.get("html_url", "")), state=str(pull.get("state", "open")),
        merged=bool(pull.get("merged")), draft=bool(pull.get("draft")), head_sha=str(pull["head"]["sha"]),
        checks=checks, failing_checks=failing, pending_checks=pending, review=review_decision(reviews),
        mergeable=mergeable if isinstance(mergeable, bool) else None, mergeable_state=mergeable_state,
        conflicts=mergeable is False or mergeable_state == "dirty",
    )
    state.stage = derive_stage(state)
    return state


def notifications(old: PrState | None, new: PrState) -> list[str]:
    """Transitions worth a notification, like an agent waiting for input.

    `checks-failing` (checks became failing, or a new check failed), `changes-requested`, `conflict`
    (conflicts appeared), `ready-to-merge`, `merged`, `closed`: each only on the change into it.
    """
    out: list[str] = []
    if new.checks == "failing" and (old is None or old.checks != "failing"
                                    or set(new.failing_checks) - set(old.failing_checks)):
        out.append("checks-failing")
    if new.review == "changes-requested" and (old is None or old.review != "changes-requested"):
        out.append("changes-requested")
    if new.conflicts and (old is None or not old.conflicts):
        out.append("conflict")
    for stage in ("ready-to-merge", "merged", "closed"):
        if new.stage == stage and (old is None or old.stage != stage):
            out.append(stage)
    return out


# ---- the watcher --------------------------------------------------------------------------------------

Fetch = Callable[[Any, int], Awaitable[PrState]]
"""`fetch(session, number)`: the PR's current state (the engine passes `landing.pr_state` bound to its token)."""
OnChange = Callable[[str, "PrState | None", PrState, list[str]], Awaitable[None] | None]
"""`on_change(session_name, old, new, notify)`: called when a PR's state changed; `notify` as `notifications`."""


@dataclass
class _Watched:
    session: Any
    number: int


class PrWatcher:
    """Polls every watched session's PR each `interval` seconds, or at once on `poll_now`.

    Keeps the last `PrState` per session name in `states` and calls `on_change` when it differs. A
    merged or closed PR is final: it is reported once more and then no longer polled. A failing
    fetch is logged (one line) and retried on the next round; the last good state stays.
    """

    def __init__(self, fetch: Fetch, on_change: OnChange, interval: float = 30.0,
                 discover: Callable[[], Awaitable[None]] | None = None) -> None:
        """`discover`, when given, runs after each round: it looks for PRs to `watch` (opened elsewhere)."""
        self.fetch = fetch
        self.on_change = on_change
        self.interval = interval
        self.discover = discover
        self.states: dict[str, PrState] = {}
        self.errors: dict[str, str] = {}
        self._watched: dict[str, _Watched] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def watch(self, session: Any, number: int, state: PrState | None = None) -> None:
        """Follow `session`'s PR `number` (with its last known state, e.g. from the store, if any)."""
        self._watched[session.name] = _Watched(session, number)
        if state is not None:
            self.states[session.name] = state
        self._wake.set()

    def unwatch(self, name: str) -> None:
        self._watched.pop(name, None)
        self.states.pop(name, None)
        self.errors.pop(name, None)

    def watching(self) -> list[str]:
        return sorted(self._watched)

    def poll_now(self) -> None:
        """Poll every watched session now instead of at the next interval."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pr-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def poll_once(self) -> None:
        """One round over every watched session (what the loop does each interval)."""
        for name, watched in list(self._watched.items()):
            await self._poll(name, watched)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            await self.poll_once()
            if self.discover is not None:
                try:
                    await self.discover()
                except asyncio.CancelledError:
                    raise
                except Exception:  # finding new PRs must never stop following the known ones
                    log.exception("looking for pull requests opened outside clauderon failed")
            with contextlib.suppress(TimeoutError):  # the interval passed with no wake-up: poll again
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)

    async def _poll(self, name: str, watched: _Watched) -> None:
        try:
            new = await self.fetch(watched.session, watched.number)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one session's GitHub trouble must not stop the others
            message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            if self.errors.get(name) != message:
                log.warning("PR #%s of session %s: %s", watched.number, name, message)
            self.errors[name] = message
            return
        self.errors.pop(name, None)
        old = self.states.get(name)
        if new.same_as(old):
            return
        self.states[name] = new
        if new.stage in ("merged", "closed"):
            self._watched.pop(name, None)
        try:
            result = self.on_change(name, old, new, notifications(old, new))
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # a broken callback must not kill the watcher
            log.exception("PR watcher callback failed for session %s", name)
