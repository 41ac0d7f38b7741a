"""The chat view of a session: its agent's transcript, live, and a box that types a message into the agent.

Chat and terminal are two views of one live session: a message sent here goes through the engine's chat
route, which pastes it into the agent's terminal and presses Enter; the agent writes it (and its answer)
to its transcript, which comes back here through the live tail. Nothing is echoed locally.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePath
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, Input, Static, TextArea

from clauderon_tui.pasted import PastedImages, pasted_images
from clauderon_tui.widgets.chat_message import ToolCallMessage, ToolResultMessage, literal, message_widget
from runtime.agents.transcripts import Message
from runtime.api.client import EngineClientProtocol
from runtime.errors import ClauderonError
from runtime.models import Session

PAGE_LINES = 100
"""Transcript lines per page (the first page and each earlier one)."""
RETRY_SECONDS = 2.0
"""Wait before reopening a live tail that ended (engine restart, session restart)."""


class ChatInput(TextArea):
    """The message box: Enter sends, ctrl+j (or shift+enter where the terminal reports it) adds a line."""

    DEFAULT_CSS = """
    ChatInput {
        height: auto;
        min-height: 3;
        max-height: 10;
        width: 1fr;
    }
    """

    class Submitted(TextualMessage):
        """Enter was pressed: send `text`."""

        def __init__(self, chat_input: ChatInput, text: str) -> None:
            super().__init__()
            self.chat_input = chat_input
            self.text = text

        @property
        def control(self) -> ChatInput:
            return self.chat_input

    class ImagesPasted(TextualMessage):
        """A paste named image files or carried image data: they are attached, not typed."""

        def __init__(self, images: PastedImages) -> None:
            super().__init__()
            self.images = images

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = "Message the agent (Enter sends, ctrl+j new line)"

    async def _on_key(self, event: events.Key) -> None:
        if self.read_only:
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        images = None if self.read_only else pasted_images(event.text)
        if images is None:
            return  # text: TextArea's own handler (Textual calls it after this one) inserts it
        event.stop()
        event.prevent_default()
        self.post_message(self.ImagesPasted(images))


class ChatPane(Vertical):
    """A session's conversation (from its agent's transcript, live) and a message box.

    Give it the `EngineClient` and a session id or name; set `session_ref` to show another session.
    Earlier pages load when the conversation is scrolled to its top. Images are attached by path (a
    file on the machine running the engine); the engine copies them into the agent's home.
    """

    DEFAULT_CSS = """
    ChatPane {
        height: 1fr;
        width: 1fr;
        #chat-log { height: 1fr; padding: 0 1; scrollbar-gutter: stable; }
        #chat-bottom { dock: bottom; height: auto; }
        #chat-more { color: $text-muted; text-align: center; width: 1fr; }
        #chat-status { height: 1; padding: 0 1; color: $text-muted; background: $panel; }
        #chat-status.-error { color: $text-error; }
        #chat-attachments { height: auto; padding: 0 1; color: $text-accent; }
        #chat-attachments.-empty { display: none; }
        #chat-compose { height: auto; }
        #chat-image-box { width: 42; height: auto; }
        #chat-image { width: 1fr; }
        #chat-clear { min-width: 8; }
        #chat-clear.-hidden { display: none; }
    }
    """

    BINDINGS = [
        Binding("ctrl+home", "load_earlier", "Earlier", show=False,
                tooltip="Load the earlier part of the conversation"),
    ]

    session_ref: reactive[str | None] = reactive(None)
    """The session shown (id or name); None shows nothing."""
    session: reactive[Session | None] = reactive(None, always_update=True, init=False)
    """The selected session, as the workbench hands it over (its id becomes `session_ref`)."""
    active: reactive[bool] = reactive(True, init=False)
    """Whether the pane is in front (the workbench sets it): the live tail runs only then."""
    malformed: reactive[int] = reactive(0)
    """Transcript lines skipped because they could not be read (shown, subtly, in the status line)."""
    status_text: reactive[str] = reactive("")
    """What the status line says besides the malformed count (which transcript; why there is none)."""
    status_is_error: reactive[bool] = reactive(False)
    attachments: reactive[tuple[str, ...]] = reactive(tuple)
    """Image paths (on the engine's machine) that go with the next message."""
    at_beginning: reactive[bool] = reactive(True)
    """The first line of the transcript is loaded."""
    sending: reactive[bool] = reactive(False)

    class Sent(TextualMessage):
        """A message was typed into the agent (`images`: where the agent finds the attached images)."""

        def __init__(self, session_ref: str, text: str, images: list[str]) -> None:
            super().__init__()
            self.session_ref = session_ref
            self.text = text
            self.images = images

    def __init__(self, client: EngineClientProtocol, session_ref: str | None = None, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.client = client
        self._before: str | None = None
        self._calls: dict[str, ToolCallMessage] = {}
        self._orphans: dict[str, ToolResultMessage] = {}
        self._loading_earlier = False
        self._ready = False
        self.set_reactive(ChatPane.session_ref, session_ref)

    def compose(self) -> ComposeResult:
        # The message box comes first in the DOM (docked at the bottom): it is what a tab switch focuses.
        with Vertical(id="chat-bottom"):
            yield Static(id="chat-status")
            yield Static(id="chat-attachments", classes="-empty")
            with Horizontal(id="chat-compose"):
                yield ChatInput(id="chat-input")
                with Vertical(id="chat-image-box"):
                    yield Input(placeholder="image path to attach", id="chat-image")
                    yield Button("clear images", id="chat-clear", classes="-hidden", compact=True)
        with VerticalScroll(id="chat-log"):
            yield Static(literal(""), id="chat-more")

    def on_mount(self) -> None:
        self.watch(self.log_view, "scroll_y", self._scrolled, init=False)
        self._restart()

    @property
    def log_view(self) -> VerticalScroll:
        """The scrolling conversation."""
        return self.query_one("#chat-log", VerticalScroll)

    @property
    def chat_input(self) -> ChatInput:
        return self.query_one(ChatInput)

    @property
    def message_widgets(self) -> list[Widget]:
        """The message widgets shown, oldest first."""
        return [w for w in self.log_view.children if hasattr(w, "message")]

    # -- reactives --------------------------------------------------------------------------------------------
    def watch_session(self, session: Session | None) -> None:
        self.session_ref = session.id if session is not None else None

    def watch_session_ref(self) -> None:
        if self.is_mounted:
            self._restart()

    def watch_active(self, active: bool) -> None:
        if not self.is_mounted:
            return
        if active:
            self._restart()
        else:
            self.workers.cancel_group(self, "chat-tail")

    def watch_malformed(self) -> None:
        self._update_status()

    def watch_status_text(self) -> None:
        self._update_status()

    def watch_status_is_error(self, is_error: bool) -> None:
        self.query_one("#chat-status").set_class(is_error, "-error")

    def watch_attachments(self, attachments: tuple[str, ...]) -> None:
        shown = self.query_one("#chat-attachments", Static)
        shown.update(literal("attached: " + "  ".join(PurePath(a).name for a in attachments)))
        shown.set_class(not attachments, "-empty")
        self.query_one("#chat-clear").set_class(not attachments, "-hidden")

    def watch_at_beginning(self, at_beginning: bool) -> None:
        self.query_one("#chat-more", Static).update(
            literal("" if at_beginning else "↑ scroll up for earlier messages"))

    def watch_sending(self, sending: bool) -> None:
        self.chat_input.read_only = sending

    def _update_status(self) -> None:
        parts = [self.status_text] if self.status_text else []
        if self.malformed:
            parts.append(f"{self.malformed} unreadable line{'s' if self.malformed != 1 else ''} skipped")
        self.query_one("#chat-status", Static).update(literal(" · ".join(parts)))

    # -- the transcript ---------------------------------------------------------------------------------------
    def _restart(self) -> None:
        if self.active:
            self._follow()

    @work(exclusive=True, group="chat-tail")
    async def _follow(self) -> None:
        """Follow the session's transcript for as long as it is shown (reopening after a drop)."""
        await self._reset([])
        self.status_is_error, self.malformed = False, 0
        ref = self.session_ref
        if ref is None:
            self.status_text = "no session selected"
            return
        self.status_text = "loading the conversation…"
        while True:
            try:
                async for event in self.client.transcript_live(ref, PAGE_LINES):
                    await self.apply_event(event)
            except ClauderonError as exc:
                self.status_text, self.status_is_error = str(exc), True
                if exc.status in (404, 409):  # unknown session, or an agent without a transcript
                    return
            await asyncio.sleep(RETRY_SECONDS)

    async def apply_event(self, event: dict[str, Any]) -> None:
        """Show one live-tail event: a whole page (replacing what is shown) or appended messages."""
        kind = event.get("type")
        if kind == "page":
            await self._reset(event["messages"])
            self._before = event.get("before")
            self.at_beginning = self._before is None
            self.malformed = event.get("malformed", 0)
            self.status_is_error = False
            self.status_text = (f"{event.get('agent')} · {event['file']}" if event.get("file")
                                else "no transcript yet: it appears once the agent starts talking")
            self._ready = True
            self.call_after_refresh(self._page_shown)
        elif kind == "append":
            log = self.log_view
            at_bottom = log.scroll_y >= log.max_scroll_y - 1
            await self._add(event["messages"])
            self.malformed += event.get("malformed", 0)
            if at_bottom:
                self.call_after_refresh(log.scroll_end, animate=False)
        elif kind == "error":
            self.status_text, self.status_is_error = event.get("error", "transcript error"), True

    def _page_shown(self) -> None:
        self.log_view.scroll_end(animate=False)
        self._fill_view()

    def _fill_view(self) -> None:
        """Too little to scroll (so no way to reach the top): load earlier pages until it scrolls."""
        if self._before is not None and self.log_view.max_scroll_y == 0:
            self.action_load_earlier()

    def _scrolled(self, old: float, new: float) -> None:
        if self._ready and new <= 0 < old:
            self.action_load_earlier()

    def action_load_earlier(self) -> None:
        """Load the page before the first one shown."""
        if self._before is not None and not self._loading_earlier and self.session_ref is not None:
            self._loading_earlier = True
            self._load_earlier(self.session_ref, self._before)

    @work(group="chat-earlier")
    async def _load_earlier(self, ref: str, before: str) -> None:
        try:
            page = await self.client.transcript(ref, before=before, limit=PAGE_LINES)
        except ClauderonError as exc:
            self.status_text, self.status_is_error = str(exc), True
            self._loading_earlier = False
            return
        if ref != self.session_ref or before != self._before:  # the view moved on meanwhile
            self._loading_earlier = False
            return
        log = self.log_view
        shown = self.message_widgets
        anchor = shown[0] if shown else None
        await self._add(page["messages"], at_top=True)
        self._before = page.get("before")
        self.at_beginning = self._before is None
        self.malformed += page.get("malformed", 0)

        def keep_place() -> None:
            if anchor is not None and anchor.is_attached:
                log.scroll_to_widget(anchor, top=True, animate=False)
            self._loading_earlier = False
            self._fill_view()
        self.call_after_refresh(keep_place)

    async def _reset(self, messages: list[Message]) -> None:
        self._calls.clear()
        self._orphans.clear()
        self._before = None
        await self.log_view.remove_children(self.message_widgets)
        await self._add(messages)

    async def _add(self, messages: list[Message], *, at_top: bool = False) -> None:
        """Mount widgets for `messages` (at the end, or above the shown ones), pairing tool calls and results."""
        widgets: list[Widget] = []
        for message in messages:
            if message.kind == "tool_result" and message.call_id in self._calls:
                self._calls[message.call_id].set_result(message.text, message.is_error)
                continue
            widget = message_widget(message)
            if isinstance(widget, ToolCallMessage) and widget.call_id:
                orphan = self._orphans.pop(widget.call_id, None)
                if orphan is not None:  # its result was shown alone, from a later page: fold it in
                    widget.set_result(orphan.message.text, orphan.message.is_error)
                    await orphan.remove()
                self._calls[widget.call_id] = widget
            elif isinstance(widget, ToolResultMessage) and widget.call_id:
                self._orphans[widget.call_id] = widget
            widgets.append(widget)
        if not widgets:
            return
        log = self.log_view
        if at_top:
            await log.mount_all(widgets, after=log.query_one("#chat-more"))
        else:
            await log.mount_all(widgets)

    # -- sending ----------------------------------------------------------------------------------------------
    @on(ChatInput.Submitted)
    def _submitted(self, event: ChatInput.Submitted) -> None:
        event.stop()
        if self.session_ref is None or self.sending or not (event.text.strip() or self.attachments):
            return
        self.sending = True
        self._send(self.session_ref, event.text, list(self.attachments))

    @work(group="chat-send")
    async def _send(self, ref: str, text: str, images: list[str]) -> None:
        try:
            result = await self.client.chat(ref, text, images)
        except ClauderonError as exc:  # the text stays in the box, to fix and send again
            self.status_text, self.status_is_error = f"not sent: {exc}", True
            self.notify(str(exc), title="chat", severity="error")
            return
        finally:
            self.sending = False
        self.chat_input.clear()
        self.attachments = ()
        if self.status_is_error:
            self.status_is_error = False
            self.status_text = "sent"
        self.post_message(self.Sent(ref, text, list(result.get("images", []))))

    @on(ChatInput.ImagesPasted)
    def _images_pasted(self, event: ChatInput.ImagesPasted) -> None:
        event.stop()
        self.attachments = (*self.attachments, *event.images.paths)
        if event.images.data:
            self._upload(event.images.data)

    @work(group="chat-upload")
    async def _upload(self, blobs: tuple[bytes, ...]) -> None:
        """Pasted image data goes to the engine first; what it kept is attached by its path."""
        for data in blobs:
            try:
                saved = await self.client.upload_image(data, "pasted")
            except ClauderonError as exc:
                self.status_text, self.status_is_error = f"not attached: {exc}", True
                return
            self.attach_upload(str(saved["path"]))

    def attach_upload(self, path: str) -> None:
        """Attach an image the engine keeps for the next message (pasted data, a browser's upload)."""
        if path not in self.attachments:
            self.attachments = (*self.attachments, path)

    @on(Input.Submitted, "#chat-image")
    def _attach_image(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.value.strip()
        if path:
            self.attachments = (*self.attachments, path)
        event.input.clear()

    @on(Button.Pressed, "#chat-clear")
    def _clear_attachments(self, event: Button.Pressed) -> None:
        event.stop()
        self.attachments = ()


__all__ = ["ChatInput", "ChatPane"]
