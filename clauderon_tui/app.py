"""The clauderon app: a session sidebar and the selected session's terminal, rendered from the engine's events.

The app holds no session state of its own beyond a mirror of the last events; every change goes through
the one `EngineClient`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.theme import Theme
from textual.widgets import Footer

from clauderon_tui.cli_format import refresh_line
from clauderon_tui.commands import ClauderonCommands
from clauderon_tui.consoles import ConsolePool
from clauderon_tui.formatting import MODE_WORDS, as_session, needs_attention, not_running_message, sort_key
from clauderon_tui.help_text import help_sections
from clauderon_tui.key_table import TABLE_ACTIONS, prefix_action
from clauderon_tui.notifications import Attention, event_attention, session_attention
from clauderon_tui.screens.confirm import ConfirmScreen
from clauderon_tui.screens.confirm_delete import ConfirmDeleteScreen
from clauderon_tui.screens.create import CreateSessionScreen, repository_here
from clauderon_tui.screens.help import HelpScreen
from clauderon_tui.screens.landing import MergeChoice, MergeScreen, OpenPrScreen
from clauderon_tui.screens.rename import RenameScreen
from clauderon_tui.screens.switcher import SessionSwitcher
from clauderon_tui.widgets.compact_bar import CompactBar
from clauderon_tui.widgets.health_bar import HealthBar
from clauderon_tui.widgets.sidebar import SessionSidebar
from clauderon_tui.widgets.terminal import TerminalView
from clauderon_tui.widgets.terminal_pane import TerminalPane
from clauderon_tui.workbench import Workbench
from runtime.api.client import EngineClientProtocol
from runtime.errors import ClauderonError
from runtime.gc_policy import freeze_boot_objects
from runtime.models import AgentStatus, Session, Status
from runtime.settings import Settings
from runtime.textsafe import display_text
from themes import DEFAULT_THEME, load_themes, load_user_themes, terminal_palette

log = logging.getLogger(__name__)

AGE_REFRESH_SECONDS = 5.0
"""How often the sidebar's ages are redrawn."""
HEALTH_REFRESH_SECONDS = 15.0
"""How often the header's engine and proxy health is asked for."""
CONSOLE_RETRY_SECONDS = 0.5
"""Wait before reopening a console that ended while its session still runs."""


class ClauderonApp(App[None]):
    """Run many agents side by side: sidebar of sessions, the selected one's terminal, live from the engine."""

    TITLE = "clauderon"
    CSS = """
    Screen { layout: vertical; }
    #main { height: 1fr; }
    /* Up to 100 columns (a phone's browser, an 80x24 terminal): a one-line session bar instead of the sidebar;
       below 120 the sidebar takes at most a third. `b` hides or shows it (-sidebar-off / -sidebar-on). */
    #compact { display: none; }
    Screen.-narrow #compact, Screen.-sidebar-off #compact { display: block; }
    Screen.-narrow #sidebar, Screen.-medium #sidebar { max-width: 33%; }
    /* Hidden by width, not display: its list keeps the focus and its keys (n, enter, j/k move the bar's session). */
    Screen.-narrow #sidebar, Screen.-sidebar-off #sidebar { max-width: 0; min-width: 0; border: none; }
    Screen.-narrow.-sidebar-on #sidebar { max-width: 33%; border: round $panel; }
    Screen.-narrow.-sidebar-on #compact { display: none; }
    Screen.-narrow #workbench { border: none; }
    /* The create dialog's labels go above their fields at 100 columns and less (the fields keep their width). */
    CreateSessionScreen.-narrow .row { layout: vertical; }
    CreateSessionScreen.-narrow .field-label { width: 1fr; }
    CreateSessionScreen.-narrow .inline-error { padding-left: 0; margin-top: 0; }
    SessionSwitcher #switcher, HelpScreen #help-body { max-width: 100%; }
    /* WCAG AA everywhere (tests/test_theme_contrast.py): Textual's half-transparent inactive tabs and modal
       backdrops blend text below 4.5:1, so tabs use $text-muted and a dialog hides the screen behind it. */
    Tab { color: $text-muted; }
    Tab.-active, Tab:hover { color: $foreground; }
    ModalScreen { background: $background; }
    Input > .input--placeholder, Input > .input--suggestion { color: $text-muted; }
    SelectCurrent Static#label, SelectCurrent .arrow { color: $text-muted; }
    SelectCurrent.-has-value Static#label { color: $foreground; }
    ToggleButton > .toggle--button { color: $panel; }  /* an unchecked box is empty, not a faint X */
    ToggleButton.-on > .toggle--button { color: $text-success; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (101, "-medium"), (120, "-wide")]
    COMMANDS = App.COMMANDS | {ClauderonCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="The keys of the focused pane, then the others"),
    ]

    def __init__(self, client: EngineClientProtocol, settings: Settings, *, clock: Callable[[], float] | None = None,
                 themes_dir: Path | None = None, persist_theme: Callable[[str], None] | None = None,
                 engine_ready: Callable[[], None] | None = None) -> None:
        """`themes_dir` holds user themes (`CLAUDERON_HOME/themes`); `persist_theme(name)` saves a theme
        chosen in the palette (the CLI passes one writing `[tui] theme` to config.toml). `engine_ready`
        blocks until an in-process engine this app hosts has booted (it boots while the app draws)."""
        super().__init__()
        self.client = client
        self.engine_ready = engine_ready
        self.settings = settings
        self.clock = clock or time.time
        self.sessions: dict[str, Session] = {}
        """Mirror of the engine's sessions, replaced by each snapshot event and updated by each session event."""
        self.selected_id: str | None = None
        self.health: dict[str, Any] | None = None
        self.consoles = ConsolePool(client, scrollback=max(10000, settings.engine.scrollback_lines))
        self.persist_theme = persist_theme
        self.default_repo: str | None = None
        """The repository the create dialog starts with (the one the app was started in)."""
        self.marked: set[str] = set()
        """Sessions that asked for attention and were not viewed since (shown with `!` in the sidebar)."""
        self.gone: set[str] = set()
        """Ids the engine deleted: a late event about one never brings its row back (ids are never reused)."""
        self.started_at = time.time()
        self.seen_uploads: set[str] = set()
        """Browser uploads this app took (the snapshot repeats the recent ones on every connect)."""
        self.pending_uploads: list[dict[str, Any]] = []
        """Browser uploads waiting for a session to be shown (one can arrive before the first is selected)."""
        for theme in load_themes():
            self.register_theme(theme)
        user_themes, self.theme_problems = load_user_themes(themes_dir) if themes_dir else ([], [])
        for theme in user_themes:
            self.register_theme(theme)
        self.user_theme_names = {theme.name for theme in user_themes}
        self.theme = settings.tui.theme if settings.tui.theme in self.available_themes else DEFAULT_THEME

    # -- layout ------------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield HealthBar(id="health")
        yield CompactBar(id="compact")
        with Horizontal(id="main"):
            yield SessionSidebar(clock=self.clock, id="sidebar")
            yield Workbench(self.client, TerminalPane(prefix_key=self.settings.tui.prefix_key, theme_name=self.theme,
                                                      id="pane"), id="workbench")
        yield Footer()

    @property
    def sidebar(self) -> SessionSidebar:
        return self.query_one(SessionSidebar)

    @property
    def pane(self) -> TerminalPane:
        return self.query_one(TerminalPane)

    @property
    def terminal(self) -> TerminalView:
        return self.query_one(TerminalView)

    @property
    def workbench(self) -> Workbench:
        return self.query_one(Workbench)

    def on_mount(self) -> None:
        self.sidebar.session_list.focus()
        self.set_interval(AGE_REFRESH_SECONDS, self._refresh_ages)
        self.set_interval(HEALTH_REFRESH_SECONDS, self._refresh_health)
        self.call_after_refresh(freeze_boot_objects, "app")  # the first screen is built: freeze it once
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.terminal.command_handler = self._terminal_command
        for problem in self.theme_problems:
            self.notify(problem, title="theme not loaded", severity="warning", timeout=15)
        self._follow_engine()

    async def on_unmount(self) -> None:
        await self.consoles.close_all()
        try:
            await self.client.close()
        except Exception:  # leaving anyway
            log.debug("closing the engine client failed", exc_info=True)

    def _theme_changed(self, theme: Theme) -> None:
        self.terminal.set_palette(terminal_palette(theme.name))
        if self.persist_theme is not None and theme.name != self.settings.tui.theme:
            try:
                self.persist_theme(theme.name)
            except Exception as exc:  # the theme still changes; only saving it failed
                log.warning("could not save theme %s: %s", theme.name, exc)
                self.notify(f"could not save the theme: {exc}", severity="warning")
                return
            self.settings.tui.theme = theme.name

    # -- the terminal keeps every key but the prefix ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """App priority bindings (quit, palette) would steal ctrl+q / ctrl+p from the program: not while typing.
        A key-table action this app does not have (yet) is off rather than an error."""
        if action in TABLE_ACTIONS and not hasattr(self, f"action_{action}"):
            return False
        typing = isinstance(self.focused, TerminalView)
        return not (typing and action in ("quit", "command_palette"))

    # -- engine events -----------------------------------------------------------------------------------------
    @work(exclusive=True, group="engine-events")
    async def _follow_engine(self) -> None:
        try:
            if self.engine_ready is not None:
                await asyncio.to_thread(self.engine_ready)
            # One plain request paints the list; the event stream (a websocket: aiohttp's import) follows.
            self.sessions = {s.id: s for s in await self.client.list_sessions()}
            self._sessions_changed()
        except Exception as exc:  # shown; the event stream below keeps trying by itself
            self.notify(str(exc) or exc.__class__.__name__, title="engine", severity="error", timeout=10)
        self._refresh_health()
        while True:
            try:
                async for event in self.client.events():
                    try:
                        self.apply_event(event)
                    except Exception:  # one bad event must not end the stream
                        log.exception("could not apply engine event %r", event.get("type"))
            except Exception:  # the client reconnects by itself; this is a last resort
                log.exception("engine event stream failed; retrying")
                self.query_one(HealthBar).connection = "reconnecting"
                await asyncio.sleep(1)

    @work(exclusive=True, group="health")
    async def _refresh_health(self) -> None:
        try:
            health = await self.client.health()
        except Exception as exc:  # the header shows the engine as unknown until the next try
            log.debug("health failed: %s", exc)
            return
        self.health = health
        self.query_one(HealthBar).health = health

    def apply_event(self, event: dict[str, Any]) -> None:
        """Update the mirror and the widgets from one engine event."""
        kind = event.get("type")
        health_bar = self.query_one(HealthBar)
        if kind == "snapshot":
            self.sessions = {s.id: s for s in map(as_session, event.get("sessions", []))}
            self.gone -= self.sessions.keys()
            health_bar.connection = "connected"
            self._sessions_changed()
            for upload in event.get("uploads", []):  # picked before this app's stream connected
                if upload.get("at", 0) >= self.started_at:
                    self._attach_browser_upload(upload)
            self._retry_console()  # consoles die with the engine connection: reopen the shown one
        elif kind == "session":
            session = as_session(event["session"])
            if session.id in self.gone:
                return  # announced before its deletion, read after it
            for stale in [s.id for s in self.sessions.values() if s.name == session.name and s.id != session.id]:
                self._forget(stale)  # the engine keeps names unique: a new id of a name replaces the old row
            previous = self.sessions.get(session.id)
            self.sessions[session.id] = session
            attention = session_attention(previous, session)
            if attention is not None:
                self._attention(attention)
            elif self.settings.tui.bell and previous is not None and needs_attention(session) \
                    and not needs_attention(previous):
                self.bell()  # failed or errored: the bell alone, the sidebar already sorts it first
            self._sessions_changed()
            if isinstance(self.screen, CreateSessionScreen):
                self.screen.session_changed(session)
            if previous is not None and previous.status == Status.RUNNING and session.status != Status.RUNNING:
                self.run_worker(self.consoles.drop(session.id))
            if session.id == self.selected_id:
                if previous is None or previous.status != session.status:
                    self._show_selected()
                elif session.status != Status.RUNNING:
                    self.pane.message = not_running_message(session)  # creation progress
        elif kind == "deleted":
            self._forget(event.get("session_id", ""))
            self._sessions_changed()
        elif kind == "connection":
            health_bar.connection = event.get("state", "reconnecting")
            if health_bar.connection == "connected":
                self._refresh_health()
        elif kind == "health":
            self.health = event.get("health")
            health_bar.health = self.health
        elif kind == "attention":
            attention = event_attention(event, self.sessions)
            if attention is not None:
                self._attention(attention)
        elif kind == "upload":
            self._attach_browser_upload(event)

    def _forget(self, session_id: str) -> None:
        """Drop a deleted session's row, console and attention mark."""
        self.gone.add(session_id)
        self.sessions.pop(session_id, None)
        self.marked.discard(session_id)
        self.run_worker(self.consoles.drop(session_id))

    def _attach_browser_upload(self, upload: dict[str, Any]) -> None:
        """An image a browser tab uploaded (picker, paste, drop) goes with the next chat message of the shown
        session. Uploads reach every browser tab's app; each attaches it (docs/serve.md)."""
        path = str(upload.get("path", ""))
        if not self.is_web or not path or path in self.seen_uploads:
            return
        self.seen_uploads.add(path)
        self.pending_uploads.append(upload)
        self._attach_pending_uploads()

    @work(group="uploads")
    async def _attach_pending_uploads(self) -> None:
        if not self.pending_uploads or self.selected_id is None:
            return
        from clauderon_tui.widgets.chat import ChatPane  # loaded by now: the tab was just built

        chat = await self.workbench.show("chat")
        if not isinstance(chat, ChatPane):
            return
        for upload in self.pending_uploads:
            chat.attach_upload(str(upload["path"]))
            self.notify(f"{upload.get('name', 'image')} attached to your next message", title="image", timeout=4)
        self.pending_uploads.clear()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast is plain text: messages carry agent-written strings (hook questions, tool inputs,
        error text), and as markup an agent's `[@click=...]` would become a live action link."""
        super().notify(display_text(message), title=display_text(title, single_line=True), severity=severity,
                       timeout=timeout, markup=False)

    def _attention(self, attention: Attention) -> None:
        """Toast, bell (if configured) and a sidebar mark until the session is viewed."""
        self.notify(attention.message, title=attention.title, severity="warning", timeout=10)
        if self.settings.tui.bell:
            self.bell()
        if not self._viewing(attention.session_id):
            self.marked.add(attention.session_id)
            self.sidebar.marked = self.marked
            self.sidebar.set_sessions(self.sessions.values())

    def _viewing(self, session_id: str) -> bool:
        """Whether the session is selected with its terminal in front."""
        return session_id == self.selected_id and self.workbench.shown == "terminal"

    def _clear_mark(self) -> None:
        if self.selected_id in self.marked and self._viewing(self.selected_id):
            self.marked.discard(self.selected_id)
            self.sidebar.set_sessions(self.sessions.values())

    def _sessions_changed(self) -> None:
        self.sidebar.set_sessions(self.sessions.values())
        if self.selected_id is None:
            self._show_selected()
        else:
            self.pane.session = self.sessions.get(self.selected_id)
            self.workbench.session = self.pane.session
        compact = self.query_one(CompactBar)
        compact.count, compact.session = len(self.sessions), self.pane.session

    def _refresh_ages(self) -> None:
        self.sidebar.set_sessions(self.sessions.values())

    def sorted_sessions(self) -> list[Session]:
        """Sessions in sidebar order, whatever the filter."""
        return sorted(self.sessions.values(), key=sort_key)

    # -- selection and the console ---------------------------------------------------------------------------------
    @on(SessionSidebar.Highlighted)
    def _highlighted(self, event: SessionSidebar.Highlighted) -> None:
        if not self.default_screen.query(Workbench):
            return  # a deletion read while the app closes: its panes are already gone
        if event.session_id != self.selected_id:
            self.selected_id = event.session_id
            self._show_selected()

    @on(SessionSidebar.Activated)
    def _activated(self, event: SessionSidebar.Activated) -> None:
        self.selected_id = event.session_id
        self.action_focus_terminal()

    def show_session(self, session_id: str) -> None:
        """Select a session in the sidebar and show its terminal."""
        if session_id not in self.sessions:
            return
        self.sidebar.select(session_id)
        if self.selected_id != session_id:
            self.selected_id = session_id
            self._show_selected()

    def _show_selected(self) -> None:
        session = self.sessions.get(self.selected_id) if self.selected_id else None
        self.workbench.session = session
        self._clear_mark()
        pane = self.pane
        pane.session = self.query_one(CompactBar).session = session
        if session is None:
            self.terminal.attach(None)
            pane.message_is_error = False
            pane.message = ("No session selected. Press n to create one." if not self.sessions
                            else "No session selected: pick one on the left.")
            return
        if session.status != Status.RUNNING:
            self.terminal.attach(None)
            pane.message_is_error = session.status == Status.FAILED
            pane.message = not_running_message(session)
            return
        pane.message = ""
        self.terminal.attach(self.consoles.channel(session.id, *self.terminal.terminal_size()))
        self._attach_pending_uploads()

    @on(TerminalView.Command)
    def _terminal_command(self, event: TerminalView.Command) -> None:
        """A key after the prefix (synchronously via `command_handler`, or as a message): the key table's
        action for it, the same as in the session list."""
        action = prefix_action(event.key)
        if action is None:
            return
        _, name, parameters = parse_action(action)
        if self.check_action(name, parameters) is False:
            return
        # At once, not through `run_action` (a coroutine, run later): keys typed right after the command
        # belong to where it leads (the list after `o`, another session after `j`).
        done = getattr(self, f"action_{name}")(*parameters)
        if inspect.isawaitable(done):
            self.run_worker(done)

    @on(Workbench.Shown)
    def _tab_shown(self, event: Workbench.Shown) -> None:
        self._clear_mark()

    @on(TerminalView.ConsoleEnded)
    def _console_ended(self, event: TerminalView.ConsoleEnded) -> None:
        if event.session_id != self.selected_id:
            return
        channel = self.consoles.get(event.session_id)
        self.terminal.attach(None)
        session = self.sessions.get(event.session_id)
        if session is None or session.status != Status.RUNNING:
            self._show_selected()
            return
        self.pane.message_is_error = event.error is not None
        if channel is not None and not channel.was_live:
            # Never opened: say why; selecting the session again (or an engine reconnect) retries.
            self.pane.message = event.error or "could not attach to the console"
            return
        self.pane.message = f"console {'lost: ' + event.error if event.error else 'ended'}; reconnecting…"
        self.set_timer(CONSOLE_RETRY_SECONDS, self._retry_console)

    def _retry_console(self) -> None:
        channel = self.consoles.get(self.selected_id) if self.selected_id else None
        if channel is None or channel.state != "live":
            self._show_selected()

    @on(TerminalView.Notice)
    def _terminal_notice(self, event: TerminalView.Notice) -> None:
        self.notify(event.text, severity=event.severity)  # type: ignore[arg-type]

    # -- actions -----------------------------------------------------------------------------------------------------
    def _selected(self) -> Session | None:
        session = self.sessions.get(self.selected_id) if self.selected_id else None
        if session is None:
            self.notify("select a session first", severity="warning")
        return session

    def action_help(self) -> None:
        """The keys of the focused pane first, then the others."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_sections(self.settings.tui.prefix_key, self._help_context(),
                                                      lambda name: self.check_action(name, ()) is not False)))

    def _help_context(self) -> str:
        focused = self.focused
        if isinstance(focused, TerminalView):
            return "scroll" if focused.scroll_mode else "terminal"
        if focused is not None and self.sidebar in focused.ancestors_with_self:
            return "list"
        return "tab"

    def action_focus_terminal(self) -> None:
        """Type into the selected session (only when it runs)."""
        session = self._selected()
        if session is None:
            return
        self.show_session(session.id)
        if session.status == Status.RUNNING:
            if self.terminal.channel is None:  # its console failed before: try again
                self._show_selected()
            # At once, not deferred like `Widget.focus`: keys typed right after Enter belong to the program.
            self.set_focus(self.terminal)
        else:
            self.notify(not_running_message(session), severity="warning")

    async def action_show_tab(self, pane_id: str) -> None:
        """Bring a workbench tab (terminal, files, diff, info, ...) to the front and focus it. The terminal
        takes the keys only when it already had them (after the prefix): from the list, Enter opens it, so a
        `t` typed by mistake never sends the rest of the typing to the agent."""
        widget = await self.workbench.show(pane_id)
        if pane_id == "terminal":
            if not isinstance(self.focused, TerminalView):
                self.action_focus_sidebar()  # from another tab: its widget is hidden now
            return
        if widget is not None:
            focusable = next((w for w in widget.query("*") if w.focusable), None)
            if focusable is not None:
                self.set_focus(focusable)  # at once: the tab hid what had the focus, and the next key needs one

    def action_focus_sidebar(self) -> None:
        """Back to the session list (at once: `Widget.focus` defers, and keys already queued must follow)."""
        self.set_focus(self.sidebar.session_list)

    def action_toggle_sidebar(self) -> None:
        """Hide or show the session sidebar (the one-line session bar stands in while it is hidden)."""
        screen, sidebar = self.sidebar.screen, self.sidebar
        showing = sidebar.region.width == 0
        screen.set_class(showing, "-sidebar-on")
        screen.set_class(not showing, "-sidebar-off")

    def _step(self, delta: int) -> None:
        shown = self.sidebar.shown_ids
        if not shown:
            return
        index = shown.index(self.selected_id) if self.selected_id in shown else -delta
        self.show_session(shown[(index + delta) % len(shown)])

    def action_first_session(self) -> None:
        """Show the first session in the list."""
        if self.sidebar.shown_ids:
            self.show_session(self.sidebar.shown_ids[0])

    def action_last_session(self) -> None:
        """Show the last session in the list."""
        if self.sidebar.shown_ids:
            self.show_session(self.sidebar.shown_ids[-1])

    def action_next_session(self) -> None:
        """Show the next session in the list."""
        self._step(1)

    def action_previous_session(self) -> None:
        """Show the previous session in the list."""
        self._step(-1)

    def action_jump(self, number: int) -> None:
        """Show session `number` (1-based) of the list."""
        shown = self.sidebar.shown_ids
        if 1 <= number <= len(shown):
            self.show_session(shown[number - 1])

    def action_switcher(self) -> None:
        """Fuzzy-find a session by name."""
        def chosen(session_id: str | None) -> None:
            if session_id:
                self.show_session(session_id)
        self.push_screen(SessionSwitcher(self.sorted_sessions(), self.clock()), chosen)

    @on(CompactBar.OpenSwitcher)
    def _compact_switcher(self) -> None:
        """Narrow screens: the chosen session's terminal takes the keys at once (there is no sidebar)."""
        def chosen(session_id: str | None) -> None:
            if session_id:
                self.show_session(session_id)
                self.action_focus_terminal()
        self.push_screen(SessionSwitcher(self.sorted_sessions(), self.clock()), chosen)

    def action_scroll_mode(self) -> None:
        """Scroll the terminal's history."""
        self.terminal.enter_scroll_mode()
        self.terminal.focus()

    def action_copy_mode(self) -> None:
        """Select terminal lines and copy them."""
        self.terminal.enter_scroll_mode(select=True)
        self.terminal.focus()

    def action_cycle_filter(self) -> None:
        """Next sidebar filter."""
        self.sidebar.action_cycle_filter()

    def action_search(self) -> None:
        """Search the session list."""
        self.sidebar.action_search()


    # -- actions that change sessions ----------------------------------------------------------------------------
    # Create, delete, restart, archive, access mode and landing (push, pull request, merge): each calls the engine
    # through the client and shows the outcome as a toast. An engine error is its one line, never a crash of an
    # app a person lives in all day.
    def action_new_session(self) -> None:
        """Open the create dialog; the new session is selected once it runs."""
        def created(session_id: str | None) -> None:
            if session_id:
                self.show_session(session_id)
                self.action_focus_terminal()
        self.push_screen(CreateSessionScreen(self.client, self.settings, self.health, self.default_repo), created)

    def action_delete(self) -> None:
        """Ask, then delete the selected session."""
        session = self._selected()
        if session is None:
            return
        def deleted(result: dict[str, Any] | None) -> None:
            if result is not None:
                kept = f"; branch kept ({result.get('reason', '')})" if result.get("branch_kept") else ""
                self.notify(f"deleted {session.name}{kept}")
        self.push_screen(ConfirmDeleteScreen(self.client, session), deleted)

    def _ask(self, session: Session, question: str, body: str, confirm: str, then: Callable[[], object]) -> None:
        """Every key that changes a session asks first (Cancel has the focus, so typing cannot confirm)."""
        if session.agent_status == AgentStatus.WORKING:
            body = f"Its agent is working. {body}"
        def answered(yes: bool | None) -> None:
            if yes:
                then()
        self.push_screen(ConfirmScreen(session, question, body, confirm), answered)

    def action_restart(self) -> None:
        """Ask, then restart the selected session."""
        session = self._selected()
        if session is None:
            return
        self._ask(session, f"Restart {session.name}?",
                  "Its sandbox and agent start again (the agent resumes its conversation); whatever runs in its "
                  "terminal now is stopped. The worktree and branch stay.", "Restart",
                  lambda: self._call_engine("restarting", session, "restart_session"))

    def action_refresh(self) -> None:
        """Pull the newest image for the selected session and recreate its sandbox on it; asks first when the
        agent is working (the recreate interrupts its turn)."""
        session = self._selected()
        if session is None:
            return
        if session.agent_status != AgentStatus.WORKING:
            self._refresh(session)
            return
        def confirmed(yes: bool | None) -> None:
            if yes:
                self._refresh(session)
        self.push_screen(ConfirmScreen(
            session, f"Refresh {session.name}?",
            f"Its agent is working. If {session.image or 'its image'} has a newer version, the sandbox is "
            "recreated on it and the agent resumes its conversation, losing the turn under way.", "Refresh"),
            confirmed)

    @work(group="life-cycle")
    async def _refresh(self, session: Session) -> None:
        self.notify(f"pulling {session.image or 'the image'} for {session.name}…", timeout=3)
        await self.consoles.drop(session.id)
        try:
            result = await self.client.refresh_session(session.id)
        except Exception as exc:
            self._engine_error(exc, "refresh_session", f"refresh {session.name}")
            return
        self.notify(refresh_line(result), title=session.name, timeout=8)
        if session.id == self.selected_id:
            self._show_selected()

    def action_rename(self) -> None:
        """Edit the selected session's display title and description."""
        session = self._selected()
        if session is None:
            return
        def chosen(fields: tuple[str, str] | None) -> None:
            if fields is not None:
                self._call_engine("titled", session, "rename_session", *fields)
        self.push_screen(RenameScreen(session), chosen)

    def action_resume(self) -> None:
        """Thaw the selected session, paused by the engine because the disk ran short."""
        self._life_cycle("resume_session", "resuming")

    def action_archive(self) -> None:
        """Ask, then archive the selected session (or bring it back if archived)."""
        session = self._selected()
        if session is None:
            return
        if session.status == Status.ARCHIVED:
            self._ask(session, f"Bring {session.name} back?", "It comes back stopped; `r` starts it.", "Unarchive",
                      lambda: self._call_engine("unarchiving", session, "unarchive_session"))
        else:
            self._ask(session, f"Archive {session.name}?",
                      "Its sandbox stops (what runs in its terminal ends); the worktree and branch stay, it shows "
                      "dimmed in the list, and `a` brings it back.", "Archive",
                      lambda: self._call_engine("archiving", session, "archive_session"))

    def action_unarchive(self) -> None:
        """Bring an archived session back."""
        self._life_cycle("unarchive_session", "unarchiving")

    def action_access_mode(self) -> None:
        """Ask, then toggle read-write / read-only for the selected session."""
        session = self._selected()
        if session is None:
            return
        mode = "read-only" if session.access_mode == "read-write" else "read-write"
        effect = ("the proxy refuses its write requests (a push, a comment) from the next one" if mode == "read-only"
                  else "the proxy lets its write requests through again")
        self._ask(session, f"Make {session.name} {mode}?", f"It is {session.access_mode}; {effect}.",
                  mode.capitalize(), lambda: self._call_engine(f"access mode {mode}", session, "set_access_mode", mode))

    def action_cycle_mode(self) -> None:
        """Ask, then shift+tab to the selected session's agent: its next permission mode (Claude Code: plan, ...)."""
        session = self._selected()
        if session is None:
            return
        current = MODE_WORDS.get(session.permission_mode or "", "no mode shown yet")
        self._ask(session, f"Next permission mode for {session.name}?",
                  f"Sends shift+tab to its agent (now: {current}), as typing it in the terminal does.", "Next mode",
                  lambda: self._cycle_mode(session))

    @work(group="life-cycle")
    async def _cycle_mode(self, session: Session) -> None:
        try:
            changed = await self.client.cycle_permission_mode(session.id)
        except Exception as exc:
            self._engine_error(exc, "cycle_permission_mode", f"mode of {session.name}")
            return
        mode = MODE_WORDS.get(changed.permission_mode or "", "no mode shown yet")
        self.notify(f"{session.name}: {mode}", title="permission mode", timeout=3)

    def action_push(self) -> None:
        """Ask, then push the selected session's branch to GitHub."""
        session = self._selected()
        if session is not None:
            self._ask(session, f"Push {session.name}?", f"Pushes {session.branch} to GitHub.", "Push",
                      lambda: self._land(session, "push", "pushing", {}))

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
        except Exception as exc:
            self._engine_error(exc, method, f"{verb} {session.name}")
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

    def _engine_error(self, exc: Exception, method: str, title: str) -> None:
        """An engine call's failure as a toast, never raised: a day-long app must not die on one bad call. The
        engine's own errors are its one line saying what to do; anything else is logged with its trace."""
        if not isinstance(exc, ClauderonError):
            log.exception("%s failed", method)
        self.notify(str(exc) or exc.__class__.__name__, title=title, severity="error", timeout=10)

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
        except Exception as exc:
            self._engine_error(exc, method, f"{verb} {session.name}")
            return
        self.notify(f"{verb} {session.name}")
        if method == "restart_session" and session.id == self.selected_id:
            self._show_selected()


async def run_app(client: EngineClientProtocol, settings: Settings, *, themes_dir: Path | None = None,
                  persist_theme: Callable[[str], None] | None = None,
                  engine_ready: Callable[[], None] | None = None) -> int:
    """Run the app until the person quits (`asyncio.run(run_app(client, settings))`); returns how many
    sessions were running when it quit (the quit line says what becomes of them).

    The app connects the client on mount and closes its consoles and the client on the way out.
    """
    app = ClauderonApp(client, settings, themes_dir=themes_dir, persist_theme=persist_theme,
                       engine_ready=engine_ready)
    app.default_repo = repository_here()  # started inside a repository: the create dialog offers it
    await app.run_async()
    return sum(s.status == Status.RUNNING for s in app.sessions.values())
