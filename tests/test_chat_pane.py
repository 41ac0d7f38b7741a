"""The chat pane against `FakeEngineClient`, which serves real transcript files with the engine's own reader:
each message kind from the real samples, collapsed tool calls paired with results, paging on scroll-top,
live appends, sending (Enter sends, ctrl+j adds a line), image attach refusal of a symlink, malformed lines."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Collapsible, Input, Static

from clauderon_tui.widgets import chat as chat_module
from clauderon_tui.widgets.chat import ChatInput, ChatPane
from clauderon_tui.widgets.chat_message import (
    AssistantMessage,
    ErrorMessage,
    ThinkingMessage,
    ToolCallMessage,
    ToolResultMessage,
    UserMessage,
)
from tests.fake_engine import FakeEngineClient, make_session, wait_until

SAMPLES = Path(__file__).parent / "samples"
SIZE = (100, 40)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class ChatApp(App[None]):
    """Just the pane, on a fake client."""

    def __init__(self, client: FakeEngineClient, ref: str | None) -> None:
        super().__init__()
        self.client, self.ref = client, ref
        self.sent: list[ChatPane.Sent] = []

    def compose(self) -> ComposeResult:
        yield ChatPane(self.client, self.ref)

    def on_chat_pane_sent(self, event: ChatPane.Sent) -> None:
        self.sent.append(event)


def claude_lines() -> list[dict]:
    """The real Claude Code sample, plus a thinking block and two error shapes built from its own lines."""
    lines = [json.loads(line) for line in (SAMPLES / "claude_transcript.jsonl").read_text().splitlines()]
    assistant = next(line for line in lines if line["type"] == "assistant")
    thinking = json.loads(json.dumps(assistant))
    thinking["message"]["content"] = [{"type": "thinking", "thinking": "pondering THINK-1", "signature": "x"}]
    api_error = json.loads(json.dumps(assistant))
    api_error["isApiErrorMessage"] = True
    api_error["message"]["content"] = [{"type": "text", "text": "API Error: 529 overloaded ERR-1"}]
    system_error = {"type": "system", "level": "error", "content": "hook failed ERR-2",
                    "timestamp": assistant["timestamp"]}
    return [*lines, thinking, api_error, system_error]


def write_lines(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def client_with(path: Path, agent: str = "claude", name: str = "chatty") -> FakeEngineClient:
    client = FakeEngineClient([make_session(name, agent=agent), make_session("shelly", agent="shell")])
    client.set_transcript(name, path, agent)
    return client


async def shown(pilot, pane: ChatPane, count: int) -> None:
    await wait_until(pilot, lambda: len(pane.message_widgets) >= count, f"{count} messages")


def user_line(text: str) -> dict:
    return {"type": "user", "message": {"role": "user", "content": text}, "timestamp": "2026-11-27T00:00:00Z"}


def assistant_line(*blocks: dict) -> dict:
    return {"type": "assistant", "message": {"role": "assistant", "content": list(blocks)},
            "timestamp": "2026-11-27T00:00:00Z"}


async def test_each_kind_from_the_claude_sample(tmp_path: Path) -> None:
    client = client_with(write_lines(tmp_path / "t.jsonl", claude_lines()))
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 7)
        kinds = [type(w) for w in pane.message_widgets]
        assert kinds == [UserMessage, ToolCallMessage, ToolCallMessage, AssistantMessage, ThinkingMessage,
                         ErrorMessage, ErrorMessage]
        user, call, _, reply, thinking, api_error, system_error = pane.message_widgets
        assert "list the files PROMPT-CAP" in str(user.render())
        assert "FAKE-CAP-DONE-1" in reply.source  # type: ignore[attr-defined]
        assert "ERR-1" in str(api_error.render()) and "ERR-2" in str(system_error.render())
        # Tool calls come with their results, collapsed; so does thinking.
        assert call.message.tool == "Bash" and call.message.result is not None
        assert call.collapsed and thinking.collapsed  # type: ignore[attr-defined]
        assert str(call.title).startswith("✓ Bash")  # type: ignore[attr-defined]
        assert not any(isinstance(w, ToolResultMessage) for w in pane.message_widgets)
        assert "chatty" not in str(pane.query_one("#chat-status", Static).render())
        assert "t.jsonl" in str(pane.query_one("#chat-status", Static).render())


async def test_codex_sample_renders_user_tools_and_reply(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    path.write_bytes((SAMPLES / "codex_rollout.jsonl").read_bytes())
    client = client_with(path, agent="codex")
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 4)
        widgets = pane.message_widgets
        assert [type(w) for w in widgets] == [UserMessage, ToolCallMessage, ToolCallMessage, AssistantMessage]
        assert all(w.message.result is not None for w in widgets[1:3])
        # The second command failed (exit code 3 in its output): marked as an error.
        assert [w.has_class("-error") for w in widgets[1:3]] == [w.message.is_error for w in widgets[1:3]]


async def test_tool_call_expands_to_input_and_result(tmp_path: Path) -> None:
    client = client_with(write_lines(tmp_path / "t.jsonl", claude_lines()))
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 7)
        call = pane.query(ToolCallMessage).first()
        assert call.collapsed
        pane.log_view.scroll_to_widget(call, top=True, animate=False)
        await pilot.pause()
        await pilot.click(call.query_one("CollapsibleTitle"))
        await wait_until(pilot, lambda: not call.collapsed, "expanded")
        body = str(call.query_one(".tool-body", Static).render())
        assert call.message.result and call.message.result.strip()[:20] in body
        assert call.message.input["command"] in body and call.query_one(".tool-body").region.height >= 3


async def test_earlier_pages_load_at_the_top(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_module, "PAGE_LINES", 40)
    lines = [user_line(f"question {i}") if i % 2 == 0 else assistant_line({"type": "text", "text": f"answer {i}"})
             for i in range(130)]
    client = client_with(write_lines(tmp_path / "t.jsonl", lines))
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 40)
        assert len(pane.message_widgets) == 40 and not pane.at_beginning
        assert pane.message_widgets[-1].message.text == "answer 129"
        while not pane.at_beginning:
            before, first = len(pane.message_widgets), pane.message_widgets[0]
            await wait_until(pilot, lambda: pane.log_view.scroll_y > 0, "the view scrolled to its end or its place")
            pane.log_view.scroll_home(animate=False)
            await wait_until(pilot, lambda before=before: len(pane.message_widgets) > before, "an earlier page")
            await wait_until(pilot, lambda: not pane._loading_earlier, "the page settled")
        texts = [w.message.text for w in pane.message_widgets]
        assert texts == [line["message"]["content"] if line["type"] == "user" else line["message"]["content"][0]["text"]
                         for line in lines]
        assert [c for c in client.calls if c[0] == "transcript"][0][1][1] == "t.jsonl:" + str(
            sum(len(json.dumps(line)) + 1 for line in lines[:90]))
        # The place is kept: the view goes back to where it was, not to the very top, after the last page.
        log = pane.log_view
        await wait_until(pilot, lambda: log.scroll_y > 0 and log.region.y <= first.region.y < log.region.y + 3,
                         "the message that was first to stay at the top of the view")


async def test_live_append_pairs_a_result_that_comes_later(tmp_path: Path) -> None:
    client = client_with(write_lines(tmp_path / "t.jsonl", [user_line("go")]))
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 1)
        call = assistant_line({"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls -la"}})
        client.append_transcript("chatty", (json.dumps(call) + "\n").encode())
        await shown(pilot, pane, 2)
        widget = pane.message_widgets[1]
        assert isinstance(widget, ToolCallMessage) and not widget.has_result
        assert str(widget.title).startswith("… Bash  ls -la")
        result = {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "total 0 LIVE-OUT", "is_error": True}]}}
        client.append_transcript("chatty", (json.dumps(result) + "\n").encode())
        await wait_until(pilot, lambda: widget.has_result, "the result")
        assert widget.has_class("-error") and str(widget.title).startswith("✗ Bash")
        line = json.dumps(assistant_line({"type": "text", "text": "**done**"})) + "\n"
        client.append_transcript("chatty", line.encode())
        await shown(pilot, pane, 3)
        assert [type(w) for w in pane.message_widgets] == [UserMessage, ToolCallMessage, AssistantMessage]


async def test_result_shown_alone_joins_its_call_from_an_earlier_page(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_module, "PAGE_LINES", 2)
    call = assistant_line({"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {"file_path": "/x"}})
    result = {"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_9", "content": "CONTENTS-9"}]}}
    client = client_with(write_lines(tmp_path / "t.jsonl", [user_line("read it"), call, result,
                                                            assistant_line({"type": "text", "text": "ok"})]))
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        # Too little to scroll: earlier pages load by themselves until the start.
        await wait_until(pilot, lambda: pane.at_beginning and not pane._loading_earlier, "the whole transcript")
        kinds = [type(w) for w in pane.message_widgets]
        assert kinds == [UserMessage, ToolCallMessage, AssistantMessage]
        assert pane.message_widgets[1].message.result == "CONTENTS-9"


async def test_enter_sends_through_the_chat_route_and_ctrl_j_adds_a_line(tmp_path: Path) -> None:
    client = client_with(write_lines(tmp_path / "t.jsonl", [user_line("hi")]))
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 1)
        pane.chat_input.focus()
        await pilot.press("f", "i", "x", "ctrl+j", "i", "t")
        assert pane.chat_input.text == "fix\nit"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.sent, "sent")
        assert ("chat", ("chatty", "fix\nit", [])) in client.calls
        assert pane.chat_input.text == "" and not pane.sending
        await pilot.press("enter")  # nothing typed: nothing sent
        await pilot.pause()
        assert [c for c in client.calls if c[0] == "chat"] == [("chat", ("chatty", "fix\nit", []))]


async def test_image_attach_refuses_a_symlink_and_copies_a_file(tmp_path: Path) -> None:
    client = client_with(write_lines(tmp_path / "t.jsonl", [user_line("hi")]))
    client.agent_home_root = tmp_path / "agents"
    image = tmp_path / "shot.png"
    image.write_bytes(PNG)
    link = tmp_path / "link.png"
    link.symlink_to(image)
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 1)
        pane.query_one("#chat-image", Input).value = str(link)
        await pane.query_one("#chat-image", Input).action_submit()
        await wait_until(pilot, lambda: pane.attachments == (str(link),), "attached")
        pane.chat_input.text = "look"
        pane.chat_input.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: pane.status_is_error, "the refusal")
        assert "symbolic link" in pane.status_text
        assert pane.chat_input.text == "look" and pane.attachments == (str(link),) and not app.sent
        assert not any((tmp_path / "agents").rglob("*.png"))
        # Replace the symlink by the real file and send again.
        await pilot.click("#chat-clear")
        await wait_until(pilot, lambda: pane.attachments == (), "cleared")
        pane.attachments = (str(image),)
        pane.chat_input.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.sent, "sent")
        [stored] = app.sent[0].images
        assert stored.startswith("/home/agent/uploads/") and stored.endswith(".png")
        [copy] = (tmp_path / "agents").rglob("*.png")
        assert copy.read_bytes() == PNG and not copy.is_symlink() and stat_mode(copy) == 0o600
        assert not pane.status_is_error


def stat_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


async def test_malformed_lines_are_counted_and_a_partial_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = json.dumps(user_line("first")) + "\n"
    path.write_text(good + "{not json\n" + "[1, 2]\n" + json.dumps(user_line("second")) + "\n" + '{"type": "us')
    client = client_with(path)
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 2)
        assert pane.malformed == 2
        assert "2 unreadable lines skipped" in str(pane.query_one("#chat-status", Static).render())
        # The agent finishes the line it was writing: it is read whole, not counted as malformed.
        client.append_transcript("chatty", b'er", "message": {"role": "user", "content": "third"}}\n')
        await shown(pilot, pane, 3)
        assert pane.message_widgets[-1].message.text == "third" and pane.malformed == 2


async def test_a_shell_session_says_it_has_no_transcript(tmp_path: Path) -> None:
    client = client_with(write_lines(tmp_path / "t.jsonl", [user_line("hi")]))
    app = ChatApp(client, "shelly")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await wait_until(pilot, lambda: pane.status_is_error, "the reason")
        assert "keeps no transcript" in pane.status_text and pane.message_widgets == []
        pane.session_ref = "chatty"  # switching sessions follows the other transcript
        await shown(pilot, pane, 1)
        assert not pane.status_is_error and not pane.query(Collapsible)


async def test_the_workbench_chat_tab_follows_the_selected_session(tmp_path: Path) -> None:
    from tests.fake_engine import fake_app, sample_sessions

    client = FakeEngineClient(sample_sessions())
    client.set_transcript("fix-login-bug", write_lines(tmp_path / "t.jsonl", claude_lines()))
    app = fake_app(client)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id, "snapshot")
        app.show_session(client._find("fix-login-bug").id)
        await pilot.pause()
        assert not app.query(ChatPane)  # built when its tab is first shown
        await pilot.press("c")  # from the session list
        await wait_until(pilot, lambda: app.workbench.shown == "chat", "the chat tab")
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 7)
        assert pane.session_ref == client._find("fix-login-bug").id
        await wait_until(pilot, lambda: isinstance(app.focused, ChatInput), "the message box focused")
        await pilot.press("o", "k", "enter")
        await wait_until(pilot, lambda: ("chat", (pane.session_ref, "ok", [])) in client.calls, "the chat call")
        # Another session: its (missing) transcript replaces this one.
        app.show_session(client._find("add-dark-mode").id)
        await wait_until(pilot, lambda: pane.message_widgets == [] and "no transcript yet" in pane.status_text,
                         "the other session's empty chat")


def test_snapshot_of_each_kind_with_a_tool_call_open(snap_compare, tmp_path: Path) -> None:
    client = client_with(write_lines(tmp_path / "t.jsonl", [*claude_lines(), {"type": "nonsense"}]))
    with (tmp_path / "t.jsonl").open("a") as handle:
        handle.write("{broken\n")

    async def run_before(pilot) -> None:
        pane = pilot.app.query_one(ChatPane)
        await shown(pilot, pane, 7)
        call = pane.query(ToolCallMessage).first()
        call.collapsed = False
        pane.attachments = ("/home/dev/shots/screen.png",)
        await pilot.pause()
        pane.log_view.scroll_end(animate=False)
        pilot.app.set_focus(None)  # no blinking cursor in the picture
        await pilot.pause()

    assert snap_compare(ChatApp(client, "chatty"), terminal_size=(100, 36), run_before=run_before)


async def test_a_pasted_image_path_or_image_data_is_attached_not_typed(tmp_path: Path) -> None:
    from textual import events

    client = client_with(write_lines(tmp_path / "t.jsonl", [user_line("hi")]))
    client.agent_home_root = tmp_path / "agents"
    image = tmp_path / "my shot.png"
    image.write_bytes(PNG)
    app = ChatApp(client, "chatty")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await shown(pilot, pane, 1)
        pane.chat_input.focus()
        # A file dragged onto a terminal arrives as a bracketed paste of its (escaped) path, which the app hands
        # to the focused widget.
        app.post_message(events.Paste(str(image).replace(" ", "\\ ")))
        await wait_until(pilot, lambda: pane.attachments == (str(image),), "the path attached")
        assert pane.chat_input.text == ""
        app.post_message(events.Paste("data:image/png;base64," + base64.b64encode(PNG).decode()))
        await wait_until(pilot, lambda: len(pane.attachments) == 2, "the data uploaded and attached")
        uploaded = Path(pane.attachments[1])
        assert uploaded.read_bytes() == PNG and stat_mode(uploaded) == 0o600 and ("upload", "pasted") in client.calls
        app.post_message(events.Paste("see /etc/passwd"))  # text stays text
        await wait_until(pilot, lambda: pane.chat_input.text == "see /etc/passwd", "the text typed")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.sent, "sent")
        assert [Path(p).read_bytes() for p in sorted((tmp_path / "agents").rglob("uploads/*"))] == [PNG, PNG]
