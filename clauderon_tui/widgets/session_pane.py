"""The base of the workbench's session panes (Files, Diff, Info): the selected session and whether shown."""

from __future__ import annotations

from textual.containers import Vertical
from textual.reactive import reactive

from runtime.api.client import EngineClientProtocol
from runtime.models import Session


class SessionPane(Vertical):
    """A pane that shows something about one session, loaded from the engine while its tab is in front.

    Subclasses implement `reload()`; it runs when the pane is shown, and when the session changes while
    it is shown (a hidden pane only remembers that it is stale).
    """

    session: reactive[Session | None] = reactive(None, always_update=True)
    """The selected session (None: nothing selected)."""
    active: reactive[bool] = reactive(False)
    """Whether the pane's tab is in front."""

    def __init__(self, client: EngineClientProtocol, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client = client
        self._loaded_for: str | None = None

    def watch_session(self, old: Session | None, new: Session | None) -> None:
        changed = (old.id if old else None) != (new.id if new else None)
        if changed:
            self._loaded_for = None
        if self.active and self.is_mounted and (changed or self._loaded_for is None):
            self._loaded_for = new.id if new else ""
            self.reload()

    def watch_active(self, active: bool) -> None:
        if active and self.is_mounted:
            session = self.session
            self._loaded_for = session.id if session else ""
            self.reload()

    def reload(self) -> None:
        """Fetch and show this pane's data for `self.session`."""
        raise NotImplementedError
