"""The wire format of a transcript page, shared by the host reader (`runtime/api/transcript.py`) and the pod
reader (`runtime/workbench/pod.py`), so both answer `GET /sessions/{ref}/transcript` in one shape."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from runtime.agents.transcripts import Message, Page

MAX_FIELD_CHARS = 20_000
"""A message's text, tool result or tool input longer than this is clipped (the terminal shows it all)."""


def message_json(message: Message) -> dict[str, Any]:
    """A message as JSON, with long fields clipped (`…[N more characters]`)."""
    data = dataclasses.asdict(message)
    for field in ("text", "result"):
        data[field] = clip(data[field])
    if data["input"] is not None:
        encoded = json.dumps(data["input"], default=str)
        if len(encoded) > MAX_FIELD_CHARS:
            data["input"] = clip(encoded)
    return data


def clip(text: str | None) -> str | None:
    """`text` cut at `MAX_FIELD_CHARS`, saying how much was left out."""
    if text is None or len(text) <= MAX_FIELD_CHARS:
        return text
    return f"{text[:MAX_FIELD_CHARS]}\n…[{len(text) - MAX_FIELD_CHARS} more characters]"


def page_json(agent: str, relative: str | None, page: Page) -> dict[str, Any]:
    """A page: its messages, the cursor for the page before it (None at the start) and the malformed count."""
    return {
        "agent": agent,
        "file": relative,
        "messages": [message_json(m) for m in page.messages],
        "start": page.start,
        "end": page.end,
        "before": f"{relative}:{page.start}" if relative is not None and page.start > 0 else None,
        "malformed": page.malformed,
        "lines": page.lines,
    }


def empty_page(agent: str) -> dict[str, Any]:
    """The page of a session whose agent has written no transcript yet."""
    return page_json(agent, None, Page([], 0, 0))
