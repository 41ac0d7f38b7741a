"""One transcript message in the chat view: the user's words, the agent's reply (markdown), a tool call
with its result (collapsed), thinking (collapsed), an error (highlighted).

Transcripts are written inside the sandbox: every text here is shown literally (`Content`, never markup).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from runtime.agents.transcripts import Message

TITLE_CHARS = 100
"""How much of a tool's input its collapsed title shows."""


def literal(text: str) -> Content:
    """Untrusted text as content (no markup is interpreted)."""
    return Content(text)


def input_summary(tool: str | None, value: Any) -> str:
    """A one-line summary of a tool call's input: the command, the file, or compact JSON."""
    if isinstance(value, dict):
        for key in ("command", "cmd", "file_path", "path", "pattern", "url", "query", "description"):
            text = value.get(key)
            if isinstance(text, str) and text.strip():
                return text
        if isinstance(value.get("cmd"), list):
            return " ".join(map(str, value["cmd"]))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text or ""


def _one_line(text: str, width: int = TITLE_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class UserMessage(Static):
    """What the person (or clauderon, for them) typed."""

    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: outer $primary;
        background: $primary 10%;
    }
    """

    def __init__(self, message: Message) -> None:
        super().__init__(literal(message.text))
        self.message = message


class AssistantMessage(Static):
    """The agent's reply, rendered as markdown (Rich's renderer: one widget per reply, cheap to mount by
    the hundred, where Textual's `Markdown` mounts a widget per block)."""

    DEFAULT_CSS = """
    AssistantMessage {
        margin: 1 0 0 0;
        padding: 0 1;
    }
    """

    def __init__(self, message: Message) -> None:
        from rich.markdown import Markdown as RichMarkdown  # markdown-it and its rules: not before the first frame

        super().__init__(RichMarkdown(message.text, hyperlinks=False))
        self.message = message

    @property
    def source(self) -> str:
        """The markdown text shown."""
        return self.message.text


class ErrorMessage(Static):
    """An API error or agent failure, highlighted."""

    DEFAULT_CSS = """
    ErrorMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        color: $text-error;
        background: $error 15%;
        border-left: outer $error;
    }
    """

    def __init__(self, message: Message) -> None:
        super().__init__(literal(message.text or "error"))
        self.message = message


class ThinkingMessage(Collapsible):
    """The agent's reasoning, collapsed."""

    DEFAULT_CSS = """
    ThinkingMessage {
        margin: 1 0 0 0;
        border-top: none;
        padding-bottom: 0;
        background: transparent;
        color: $text-muted;
        Static { color: $text-muted; text-style: italic; }
    }
    """

    def __init__(self, message: Message) -> None:
        title = f"thinking: {_one_line(message.text, 60)}" if message.text.strip() else "thinking"
        super().__init__(Static(literal(message.text)), title=literal(title), collapsed=True)  # type: ignore[arg-type]
        self.message = message


class ToolCallMessage(Collapsible):
    """A tool call and, once it came, its result; collapsed. The title says the tool, its input and how it went."""

    DEFAULT_CSS = """
    ToolCallMessage {
        margin: 1 0 0 0;
        border-top: none;
        padding-bottom: 0;
        background: $boost;
        &.-error CollapsibleTitle { color: $text-error; }
        &.-error .tool-body { color: $text-error; }
    }
    """

    def __init__(self, message: Message) -> None:
        self.message = message
        self._body = Static(classes="tool-body")
        super().__init__(self._body, title=literal(self._title_text()), collapsed=True)  # type: ignore[arg-type]
        self._show_result()

    @property
    def call_id(self) -> str | None:
        return self.message.call_id

    @property
    def has_result(self) -> bool:
        return self.message.result is not None

    def set_result(self, text: str, is_error: bool) -> None:
        """Attach the result that arrived after the call."""
        self.message.result, self.message.is_error = text, is_error
        self.title = literal(self._title_text())  # type: ignore[assignment]
        self._show_result()

    def _show_result(self) -> None:
        # One widget for input and result (styled apart): a page mounts dozens of these.
        result = self.message.result
        shown = "(running…)" if result is None else (result or "(no output)")
        body = Content.assemble((_pretty(self.message.input), "dim"), "\n\n", shown)
        self._body.update(body)
        self.set_class(self.message.is_error, "-error")

    def _title_text(self) -> str:
        mark = "…" if self.message.result is None else ("✗" if self.message.is_error else "✓")
        summary = _one_line(input_summary(self.message.tool, self.message.input))
        return f"{mark} {self.message.tool or 'tool'}  {summary}".rstrip()


class ToolResultMessage(Collapsible):
    """A tool result whose call is on an earlier page not loaded yet (it joins the call when that loads)."""

    DEFAULT_CSS = """
    ToolResultMessage {
        margin: 1 0 0 0;
        border-top: none;
        padding-bottom: 0;
        background: $boost;
        &.-error { color: $text-error; }
    }
    """

    def __init__(self, message: Message) -> None:
        self.message = message
        mark = "✗" if message.is_error else "✓"
        super().__init__(Static(literal(message.text or "(no output)")),
                         title=literal(f"{mark} result of an earlier tool call"), collapsed=True)  # type: ignore[arg-type]
        self.set_class(message.is_error, "-error")

    @property
    def call_id(self) -> str | None:
        return self.message.call_id


MESSAGE_WIDGETS: dict[str, Callable[[Message], Widget]] = {
    "user": UserMessage,
    "assistant": AssistantMessage,
    "error": ErrorMessage,
    "thinking": ThinkingMessage,
    "tool_call": ToolCallMessage,
    "tool_result": ToolResultMessage,
}


def message_widget(message: Message) -> Widget:
    """The widget that shows one message (a subagent's messages are dimmed)."""
    widget = MESSAGE_WIDGETS[message.kind](message)
    if message.sidechain:
        widget.add_class("-sidechain")
        widget.styles.opacity = 0.7
    return widget


__all__ = ["AssistantMessage", "ErrorMessage", "ThinkingMessage", "ToolCallMessage", "ToolResultMessage",
           "UserMessage", "input_summary", "literal", "message_widget"]
