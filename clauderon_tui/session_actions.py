"""The actions that change sessions: create, delete, restart, archive, access mode, and landing work
(push, pull request, merge). Each calls the engine through the client and shows the outcome as a toast:
an engine error is its one line, never a crash of an app a person lives in all day."""

from __future__ import annotations

import logging
from typing import Any

from textual import work

from runtime.errors import ClauderonError
from runtime.models import Session, Status

from clauderon_tui.screens.confirm_delete import ConfirmDeleteScreen
from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.screens.landing import MergeChoice, MergeScreen, OpenPrScreen

log = logging.getLogger(__name__)


class SessionActions:
    """Mixed into `ClauderonApp` (which provides `client`, `settings`, `health`, `consoles`, `selected_id`,
    `_selected`, `show_session`, `_show_selected` and `action_focus_terminal`)."""

    def action_new_session(self) -> None:
        """Open the create dialog; the new session is selected once it runs."""
        def created(session_id: str | None) -> None:
            if session_id:
                self.show_session(session_id)
                self.action_focus_terminal()
        self.push_screen(CreateSessionScreen(self.client, self.settings, self.health), created)

    def action_delete(self) -> None:
        """Ask, then delete the selected session."""
        session = self._selected()
        if session is None:
            return
        def deleted(result: dict | None) -> None:
            if result is not None:
                kept = f"; branch kept ({result.get('reason', '')})" if result.get("branch_kept") else ""
                self.notify(f"deleted {session.name}{kept}")
        self.push_screen(ConfirmDeleteScreen(self.client, session), deleted)

    def action_restart(self) -> None:
        """Restart the selected session."""
        self._life_cycle("restart_session", "restarting")

    def action_resume(self) -> None:
        """Thaw the selected session, paused by the engine because the disk ran short."""
        self._life_cycle("resume_session", "resuming")

    def action_archive(self) -> None:
        """Archive the selected session (or unarchive it if archived)."""
        session = self._selected()
        if session is not None and session.status == Status.ARCHIVED:
            self._life_cycle("unarchive_session", "unarchiving")
        else:
            self._life_cycle("archive_session", "archiving")

    def action_unarchive(self) -> None:
        """Bring an archived session back."""
        self._life_cycle("unarchive_session", "unarchiving")

    def action_access_mode(self) -> None:
        """Toggle read-write / read-only for the selected session."""
        session = self._selected()
        if session is not None:
            mode = "read-only" if session.access_mode == "read-write" else "read-write"
            self._call_engine(f"access mode {mode}", session, "set_access_mode", mode)

    def action_push(self) -> None:
        """Push the selected session's branch to GitHub."""
        session = self._selected()
        if session is not None:
            self._land(session, "push", "pushing", {})

    def action_open_pr(self) -> None:
        """Ask draft or not, then push and open a pull request for the selected session."""
        session = self._selected()
        if session is None:
            return
        def chosen(draft: bool | None) -> None:
            if draft is not None:
                self._land(session, "open_pr", "opening a pull request for", {"draft": draft})
        self.push_screen(OpenPrScreen(session), chosen)

    def action_merge(self) -> None:
        """Ask how (squash, merge or rebase; delete the branch or not), then merge the selected session's PR."""
        session = self._selected()
        if session is None:
            return
        def chosen(choice: MergeChoice | None) -> None:
            if choice is not None:
                self._land(session, "merge", "merging",
                           {"method": choice.method, "delete_branch": choice.delete_branch})
        self.push_screen(MergeScreen(session), chosen)

    @work(group="landing")
    async def _land(self, session: Session, method: str, verb: str, options: dict[str, Any]) -> None:
        """One landing call (`push`, `open_pr`, `merge`) with a progress toast, then its result or its error."""
        self.notify(f"{verb} {session.name}…", timeout=3)
        try:
            result = await getattr(self.client, method)(session.id, **options)
        except Exception as exc:  # shown, never raised: the engine's one line says what to do
            if not isinstance(exc, ClauderonError):
                log.exception("%s failed", method)
            self.notify(str(exc) or exc.__class__.__name__, title=f"{verb} {session.name}", severity="error",
                        timeout=10)
            return
        if method == "push":
            message = f"pushed {result.get('branch') or session.branch} ({str(result.get('sha') or '')[:7]})"
        elif method == "open_pr":
            opened = "opened" if result.get("created", True) else "already open"
            message = f"pull request #{result.get('number')} {opened}: {result.get('html_url', '')}"
        else:
            deleted = "; branch deleted" if result.get("branch_deleted") else ""
            message = f"merged #{result.get('number')} ({result.get('method', options['method'])}){deleted}"
        self.notify(message, title=session.name, timeout=8)

    def _life_cycle(self, method: str, verb: str) -> None:
        session = self._selected()
        if session is not None:
            self._call_engine(verb, session, method)

    @work(group="life-cycle")
    async def _call_engine(self, verb: str, session: Session, method: str, *args: Any) -> None:
        if method == "restart_session":
            await self.consoles.drop(session.id)
        try:
            await getattr(self.client, method)(session.id, *args)
        except Exception as exc:  # shown, never raised: a day-long app must not die on one bad call
            if not isinstance(exc, ClauderonError):
                log.exception("%s failed", method)
            self.notify(str(exc) or exc.__class__.__name__, title=f"{verb} {session.name}", severity="error",
                        timeout=10)
            return
        self.notify(f"{verb} {session.name}")
        if method == "restart_session" and session.id == self.selected_id:
            self._show_selected()
