"""The chat view's engine side with the REAL Claude Code CLI in a real container, created through the CLI.

FakeAnthropic (on loopback, routed to by `proxy.toml`) first answers with a `tool_use` (a Bash command),
then with text. The transcript route shows the tool call paired with its result; a message sent through
the chat route (typed into the agent's terminal as a bracketed paste, then Enter) reaches the upstream as
the next user turn, and comes back on the live transcript tail with the agent's answer. An image attached
to the message is copied into the agent home's `uploads/`, and its container path goes with the text.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets as pysecrets
import time
from pathlib import Path

import pytest

from runtime.api.client import EngineClient
from runtime.home import Home
from tests.fakes.anthropic import FakeAnthropic, TextReply
from tests.fakes.openai import FakeOpenAI
from tests.test_hooks_docker import Rig, tmp, unique  # noqa: F401 - `tmp` is a fixture

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
# A real 1x1 picture: Codex decodes what it attaches (and drops what it cannot), where Claude Code sends any bytes.
PIXEL_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
                             "AAAABJRU5ErkJggg==")


async def next_matching(live, predicate, what: str, timeout: float = 180) -> list:
    """Read the live tail until `predicate(all messages so far)` holds; returns those messages."""
    seen: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = await asyncio.wait_for(anext(live), max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        if event["type"] == "page":
            seen = list(event["messages"])
        elif event["type"] == "append":
            seen.extend(event["messages"])
        if predicate(seen):
            return seen
    raise AssertionError(f"the live transcript never showed {what}; saw {[(m.kind, m.text[:60]) for m in seen]}")


def user_texts(request) -> list[str]:
    """The text blocks of the last user turn in one recorded model call."""
    content = request.json["messages"][-1]["content"]
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]


def user_turn(fake: FakeAnthropic | FakeOpenAI, needle: str, timeout: float = 180) -> dict | None:
    """The first user message (Anthropic) or input item (OpenAI) the fake received that carries `needle`.
    A deadline for slow machines, not a speed check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if isinstance(fake, FakeAnthropic):
            found = [m for r in fake.conversation_requests() for m in r.json["messages"] if m["role"] == "user"]
        else:
            found = [i for r in fake.response_requests() for i in r.json.get("input") or []
                     if isinstance(i, dict) and i.get("role") == "user"]
        turn = next((m for m in found if needle in json.dumps(m["content"])), None)
        if turn is not None:
            return turn
        time.sleep(0.3)
    return None


def codex_picture(turn: dict) -> bytes:
    """The bytes of the first picture in a Codex user turn (its `input_image` data URL)."""
    pictures = [c for c in turn["content"] if isinstance(c, dict) and c.get("type") == "input_image"]
    assert pictures, [c.get("text") for c in turn["content"]]
    return base64.b64decode(pictures[0]["image_url"].split("base64,", 1)[1])


def test_transcript_pairs_the_tool_call_and_chat_reaches_the_agent(tmp: Path) -> None:  # noqa: F811
    first_reply = f"FIRST-DONE-{pysecrets.token_hex(3)}"
    chat_text = f"CHAT-MSG-{pysecrets.token_hex(3)}"
    chat_reply = f"CHAT-REPLY-{pysecrets.token_hex(3)}"
    fake = FakeAnthropic(default_reply="side reply")
    fake.script_tool_then_text("echo TOOL-OUT-$((6*7))", first_reply)
    fake.script(TextReply(chat_reply))
    rig = Rig(tmp, fake)
    name = unique("ch")
    try:
        rig.create(name, "run the command", "--skip-permissions")
        rig.watch(name, "waiting-input")

        async def scenario() -> str:
            client = EngineClient(Home(rig.home))
            try:
                page = await client.transcript(name)
                calls = [m for m in page["messages"] if m.kind == "tool_call"]
                assert calls, [(m.kind, m.text) for m in page["messages"]]
                assert calls[0].tool == "Bash" and calls[0].input["command"] == "echo TOOL-OUT-$((6*7))"
                assert "TOOL-OUT-42" in (calls[0].result or "") and not calls[0].is_error
                assert not [m for m in page["messages"] if m.kind == "tool_result"]  # paired, not loose
                assert [m.text for m in page["messages"] if m.kind == "assistant"][-1] == first_reply
                assert page["messages"][0].kind == "user" and page["messages"][0].text == "run the command"

                live = client.transcript_live(name)
                try:
                    await next_matching(live, lambda ms: any(m.text == first_reply for m in ms), "the first page")
                    image = tmp / "shot.png"
                    image.write_bytes(PNG)
                    answer = await client.chat(name, chat_text, [str(image)])
                    [stored] = answer["images"]
                    assert stored.startswith("/home/agent/uploads/") and answer["bracketed"]
                    seen = await next_matching(
                        live, lambda ms: any(m.kind == "assistant" and m.text == chat_reply for m in ms),
                        "the agent's answer to the chat message")
                    [mine] = [m for m in seen if m.kind == "user" and chat_text in m.text]
                    # Claude Code recognised the pasted container path and attached the image it read there.
                    assert "[Image #1]" in mine.text or stored in mine.text, mine.text
                finally:
                    await live.aclose()
                return stored
            finally:
                await client.close()

        stored = asyncio.run(scenario())
        session_id = next(s["id"] for s in rig.cli("list", "--json").json() if s["name"] == name)
        copy = rig.home / "agents" / session_id / "uploads" / Path(stored).name
        assert copy.read_bytes() == PNG
        # The upstream got the chat message as the next user turn, after the tool turn.
        turns = fake.conversation_requests()
        texts = [user_texts(r) for r in turns]
        index = next(i for i, t in enumerate(texts) if any(chat_text in x for x in t))
        assert index >= 2, texts  # after the prompt and the tool result
        results = [b for r in turns[:index] for b in r.json["messages"][-1]["content"]
                   if isinstance(b, dict) and b.get("type") == "tool_result"]
        assert results and "TOOL-OUT-42" in json.dumps(results[0]["content"])
        # ... with the attached image: read by the agent from its container path and sent upstream.
        blocks = turns[index].json["messages"][-1]["content"]
        images = [b for b in blocks if isinstance(b, dict) and b.get("type") == "image"]
        assert images and base64.b64decode(images[0]["source"]["data"]) == PNG, blocks
        assert any(stored in text for text in texts[index]), texts[index]
        print(f"\nchat turn #{index}: {texts[index]}, {len(images)} image block")
    finally:
        rig.close()


def test_images_given_at_create_reach_the_upstream_in_the_first_user_turn(tmp: Path) -> None:  # noqa: F811
    prompt = f"DESCRIBE-{pysecrets.token_hex(3)}"
    fake = FakeAnthropic(default_reply="side reply")
    fake.script(TextReply("A SQUARE"))
    rig = Rig(tmp, fake)
    name = unique("ci")
    image = tmp / "diagram.png"
    image.write_bytes(PNG)
    try:
        created = rig.create(name, prompt, "--skip-permissions", "--image-file", str(image))
        [stored] = created["initial_images"]
        assert stored.startswith("/home/agent/uploads/") and stored.endswith("-diagram.png")
        turn = user_turn(fake, prompt)  # typed in once the agent reads its input
        assert turn is not None, rig.cli("screen", name, check=False).out
        images = [b for b in turn["content"] if isinstance(b, dict) and b.get("type") == "image"]
        assert images and base64.b64decode(images[0]["source"]["data"]) == PNG, turn
        # Bad input is refused before anything is made.
        refused = rig.cli("create", "--repo", str(rig.repo), "--name", unique("cj"), "--agent", "claude", "--prompt",
                          "x", "--image-file", str(tmp / "missing.png"), check=False)
        assert refused.code == 1 and "cannot read" in refused.err and len(refused.err.strip().splitlines()) == 1
    finally:
        rig.close()


def test_codex_gets_the_images_given_at_create_in_its_first_turn(tmp: Path) -> None:  # noqa: F811
    prompt = f"DESCRIBE-{pysecrets.token_hex(3)}"
    fake = FakeOpenAI(default_reply="A SQUARE")
    rig = Rig(tmp, fake, "api.openai.com", ("OPENAI_API_KEY", "sk-proj-"))
    image = tmp / "diagram.png"
    image.write_bytes(PIXEL_PNG)
    try:
        rig.create(unique("cx"), prompt, "--skip-permissions", "--image-file", str(image), agent="codex")
        turn = user_turn(fake, prompt)
        assert turn is not None, [r.json.get("input") for r in fake.response_requests()]
        assert codex_picture(turn) == PIXEL_PNG
    finally:
        rig.close()


def test_a_chat_image_reaches_codex_in_the_next_user_turn(tmp: Path) -> None:  # noqa: F811
    chat_text = f"CHAT-MSG-{pysecrets.token_hex(3)}"
    fake = FakeOpenAI(default_reply="A SQUARE")
    rig = Rig(tmp, fake, "api.openai.com", ("OPENAI_API_KEY", "sk-proj-"))
    name = unique("cx")
    image = tmp / "diagram.png"
    image.write_bytes(PIXEL_PNG)
    try:
        rig.create(name, "hello", "--skip-permissions", agent="codex")
        rig.watch(name, "waiting-input")

        async def send() -> list[str]:
            client = EngineClient(Home(rig.home))
            try:
                return (await client.chat(name, chat_text, [str(image)]))["images"]
            finally:
                await client.close()

        [stored] = asyncio.run(send())
        turn = user_turn(fake, chat_text)
        assert turn is not None, rig.cli("screen", name, check=False).out
        assert codex_picture(turn) == PIXEL_PNG
        assert stored.startswith("/home/agent/uploads/")
    finally:
        rig.close()
