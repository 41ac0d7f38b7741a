"""The engine's side of landing work: push, pull request, merge, and following each PR.

`runtime/git/landing.py` does the git and GitHub work; this module supplies the real `github_token` (host side only,
never into git config, a remote URL or a log), stores each PR's state on its session, and raises the
same attention signal as a waiting agent when checks fail or changes are requested.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from runtime.engine.records import SessionRecords
from runtime.errors import ClauderonError
from runtime.git.branch_sync import BranchSync
from runtime.git.landing import create_pr, github_repo, local_conflicts, merge, pr_opened_since, pr_state, push
from runtime.git.pr_watch import PrState, PrWatcher
from runtime.models import Session, Status
from runtime.settings import GitHubSettings

log = logging.getLogger(__name__)


class Landing:
    """Push, open, merge and follow each session's pull request with the host's GitHub token."""

    def __init__(self, settings: GitHubSettings, records: SessionRecords, branches: BranchSync,
                 github_token: Callable[[], str | None]) -> None:
        self.settings = settings
        self.records = records
        self.branches = branches
        self.github_token = github_token
        self.watcher = PrWatcher(self._fetch, self._on_change, interval=self.settings.poll_interval,
                                 discover=self.discover)
        self._remotes: dict[str, bool] = {}
        """Per session id: whether its repository has a GitHub remote (asked once; `discover` skips those without)."""

    def start(self) -> None:
        """Follow every session whose stored PR is still open."""
        for session in self.records.store.sessions():
            if session.pr and not session.pr.get("merged") and session.pr.get("state") != "closed":
                self.watcher.watch(session, int(session.pr["number"]), PrState.from_json(session.pr))
        self.watcher.start()

    async def stop(self) -> None:
        await self.watcher.stop()

    def _token(self) -> str:
        token = self.github_token()
        if not token:
            raise ClauderonError("no github_token: set GITHUB_TOKEN, or put it in "
                                 "CLAUDERON_HOME/secrets/github_token (0600)")
        return token

    async def _current(self, ref: str) -> Session:
        """The session, its sandbox's latest commits brought back to the branch first."""
        session = self.records.require_known(ref)
        await self.branches.sync(session)
        return session

    async def push(self, ref: str, force: bool = False) -> dict[str, Any]:
        session = await self._current(ref)
        return asdict(await asyncio.to_thread(push, session, self.settings, self._token(), force=force))

    async def open_pr(self, ref: str, draft: bool = False) -> dict[str, Any]:
        session = await self._current(ref)
        token = self._token()
        await asyncio.to_thread(push, session, self.settings, token)
        pull = await create_pr(session, self.settings, token, draft=draft, summary=None)
        state = await pr_state(session, self.settings, token, pull.number)
        if state is not None:
            await self._store(session, state)
        self.watcher.watch(session, pull.number, state)
        return {**asdict(pull), "state": state.to_json() if state else None}

    async def merge(self, ref: str, method: str = "merge", delete_branch: bool = False) -> dict[str, Any]:
        session = await self._current(ref)
        number = int(session.pr["number"]) if session.pr else None
        result = await merge(session, self.settings, self._token(), number=number, method=method,
                             delete_branch=delete_branch)
        self.watcher.poll_now()
        return asdict(result)

    async def state(self, ref: str, refresh: bool = False) -> dict[str, Any]:
        """The session's PR state plus the local conflict check against the base, which works before a
        PR exists (then `number` is None). An open PR made outside clauderon is found by its branch."""
        session = self.records.require_known(ref)
        token = self.github_token()
        if (refresh or not session.pr) and (token or refresh):
            number = int(session.pr["number"]) if session.pr else None
            state = await pr_state(session, self.settings, self._token(), number)
            if state is not None:
                session = await self._store(session, state)
                self.watcher.watch(session, state.number, state)
        conflicts = await asyncio.to_thread(local_conflicts, session, self.settings.remote)
        return {**(session.pr or {"number": None}), "local_conflicts": conflicts}

    async def discover(self) -> None:
        """Find the pull requests that running sessions' agents opened themselves (`gh pr create`, the API
        through the proxy) by their branch, and follow them like those opened from clauderon. Off without a
        token; a session whose repository has no GitHub remote is never asked about."""
        token = self.github_token()
        if not token:
            return
        for session in self.records.store.sessions():
            if session.pr or session.status != Status.RUNNING or session.name in self.watcher.watching():
                continue
            if not await self._has_remote(session):
                continue
            try:
                state = await pr_opened_since(session, self.settings, token, since=session.created_at)
            except ClauderonError as exc:
                log.info("no pull request lookup for %s: %s", session.name, exc)
                continue
            if state is not None:
                log.info("session %s: found pull request #%s opened outside clauderon", session.name, state.number)
                session = await self._store(session, state)
                self.watcher.watch(session, state.number, state)

    async def _has_remote(self, session: Session) -> bool:
        known = self._remotes.get(session.id)
        if known is None:
            try:
                await asyncio.to_thread(github_repo, session, self.settings)
                known = True
            except ClauderonError:
                known = False
            self._remotes[session.id] = known
        return known

    async def _store(self, session: Session, state: PrState) -> Session:
        return await self.records.update(session.id, pr=state.to_json())

    async def _fetch(self, session: Session, number: int) -> PrState:
        state = await pr_state(session, self.settings, self._token(), number)
        if state is None:
            raise ClauderonError(f"pull request #{number} of {session.name} is gone")
        return state

    async def _on_change(self, name: str, old: PrState | None, new: PrState, notify: list[str]) -> None:
        session = self.records.store.find(name)
        if session is None:
            self.watcher.unwatch(name)
            return
        await self._store(session, new)
        if notify:
            self.records.events.publish({"type": "attention", "session_id": session.id, "name": name,
                                         "reasons": notify})
