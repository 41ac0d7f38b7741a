"""Transcript parsers on real samples (Claude Code 2.1.197, Codex 0.171.0 against the fakes), malformed
lines, and `TranscriptReader` paging a big generated file from its end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.agents.codex import codex_turn_state
from runtime.agents.registry import agent_named
from runtime.agents.transcripts import (
    LineParser,
    Message,
    TranscriptReader,
    TranscriptRefused,
    last_assistant_in,
    open_agent_transcript,
    parse_file,
    read_new_entries,
)

SAMPLES = Path(__file__).parent / "samples"
CLAUDE = agent_named("claude")
CODEX = agent_named("codex")


def parser(agent: str) -> LineParser:
    """The agent's transcript line parser, from the registry."""
    return agent_named(agent).parse_transcript_line


def summary(messages: list[Message]) -> list[tuple]:
    return [(m.kind, m.text, m.tool, m.result, m.is_error) for m in messages]


def test_claude_sample_parses_into_the_conversation() -> None:
    page = parse_file(SAMPLES / "claude_transcript.jsonl", parser("claude"))
    assert page.malformed == 0 and page.lines == 15
    assert summary(page.messages) == [
        ("user", "list the files PROMPT-CAP", None, None, False),
        ("tool_call", "", "Bash", "TOOL-OUT-42", False),
        ("tool_call", "", "Bash", "Exit code 1", True),
        ("assistant", "FAKE-CAP-DONE-1", None, None, False),
    ]
    assert page.messages[1].input == {"command": "echo TOOL-OUT-$((6*7))", "description": "echo"}
    assert page.messages[1].call_id == "toolu_fake000002" and page.messages[0].timestamp


def test_claude_tool_call_waiting_for_permission_has_no_result_yet() -> None:
    page = parse_file(SAMPLES / "claude_transcript_permission.jsonl", parser("claude"))
    assert summary(page.messages) == [("user", "list the files PROMPT-CAP", None, None, False),
                                      ("tool_call", "", "Bash", None, False)]


def _claude_line(template: dict, **changes) -> str:
    return json.dumps({**template, **changes})


def test_claude_thinking_errors_and_meta_lines(tmp_path: Path) -> None:
    """Shapes the fake does not produce, built on a real assistant/user line of the sample."""
    lines = [json.loads(row) for row in (SAMPLES / "claude_transcript.jsonl").read_text().splitlines()]
    assistant = next(row for row in lines if row["type"] == "assistant")
    user = next(row for row in lines if row["type"] == "user")
    thinking = {**assistant["message"], "content": [{"type": "thinking", "thinking": "let me think", "signature": "x"},
                                                    {"type": "redacted_thinking", "data": "abc"},
                                                    {"type": "text", "text": "answer"}]}
    failed = {**assistant["message"], "content": [{"type": "text", "text": "API Error: 529 overloaded"}]}
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([
        _claude_line(user, isMeta=True,
                     message={"role": "user", "content": "<local-command-caveat>...</local-command-caveat>"}),
        _claude_line(user, message={"role": "user",
                                    "content": [{"type": "text", "text": "hi"}, {"type": "image", "source": {}}]}),
        _claude_line(assistant, message=thinking),
        _claude_line(assistant, message=failed, isApiErrorMessage=True),
        _claude_line(assistant, isSidechain=True,
                     message={**assistant["message"], "content": [{"type": "text", "text": "sub"}]}),
        json.dumps({"type": "system", "subtype": "api_error", "level": "error", "content": "connection reset"}),
    ]) + "\n")
    page = parse_file(path, parser("claude"))
    assert [(m.kind, m.text) for m in page.messages] == [
        ("user", "hi"), ("thinking", "let me think"), ("thinking", "(redacted)"), ("assistant", "answer"),
        ("error", "API Error: 529 overloaded"), ("assistant", "sub"), ("error", "connection reset")]
    assert page.messages[5].sidechain and page.malformed == 0
    with TranscriptReader(path, parser("claude")) as reader:
        assert last_assistant_in(reader) == "answer"  # a subagent's words are not the question


def test_codex_sample_parses_into_the_conversation() -> None:
    page = parse_file(SAMPLES / "codex_rollout.jsonl", parser("codex"))
    assert page.malformed == 0 and page.lines == 28
    kinds = [(m.kind, m.tool, m.is_error) for m in page.messages]
    assert kinds == [("user", None, False), ("tool_call", "exec", False), ("tool_call", "exec", True),
                     ("assistant", None, False)]
    user, ok, failed, reply = page.messages
    assert user.text == "run the thing PROMPT-CX-CAP" and reply.text == "FAKE-CODEX-CAP-1"
    assert "echo TOOL-OUT" in ok.input and "TOOL-OUT-42" in ok.result
    assert '"exit_code":3' in failed.result
    with TranscriptReader(SAMPLES / "codex_rollout.jsonl", parser("codex")) as reader:
        assert last_assistant_in(reader) == "FAKE-CODEX-CAP-1"


def test_codex_function_calls_reasoning_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    entries = [
        {"type": "response_item", "payload": {"type": "reasoning",
                                              "summary": [{"type": "summary_text", "text": "plan"}],
                                              "encrypted_content": "xx"}},
        {"type": "response_item", "payload": {"type": "function_call", "name": "shell", "call_id": "c1",
                                              "arguments": json.dumps({"command": ["ls"]})}},
        {"type": "response_item", "payload": {"type": "function_call_output", "call_id": "c1",
                                              "output": "Exit code: 2\nOutput:\nno such file"}},
        {"type": "event_msg", "payload": {"type": "stream_error", "message": "reconnecting 1/5"}},
        {"type": "event_msg", "payload": {"type": "agent_message", "message": "duplicate of a response_item"}},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    page = parse_file(path, parser("codex"))
    assert [(m.kind, m.text, m.input, m.is_error) for m in page.messages] == [
        ("thinking", "plan", None, False), ("tool_call", "", {"command": ["ls"]}, True),
        ("error", "reconnecting 1/5", None, False)]


def test_codex_turn_state_from_the_rollout_tail() -> None:
    entries = [json.loads(row) for row in (SAMPLES / "codex_rollout.jsonl").read_text().splitlines()]
    assert codex_turn_state(entries) == ("waiting-input", "FAKE-CODEX-CAP-1")
    started = next(i for i, e in enumerate(entries) if e.get("payload", {}).get("type") == "task_started")
    assert codex_turn_state(entries[: started + 3]) == ("working", None)
    assert codex_turn_state(entries[:1]) is None


def test_read_new_entries_first_look_starts_at_a_line_and_then_follows(tmp_path: Path) -> None:
    lines = (SAMPLES / "codex_rollout.jsonl").read_text().splitlines(keepends=True)
    path = tmp_path / "rollout.jsonl"
    path.write_text("".join(lines))
    entries, offset = read_new_entries(path, None, first_look=3000)  # starts mid-file, mid-line
    assert 0 < len(entries) < len(lines) and offset == path.stat().st_size
    assert entries == [json.loads(row) for row in lines[-len(entries):]]  # whole lines only, up to the end
    with path.open("a") as handle:
        handle.write(lines[0] + "{broken\n" + lines[1][:10])
    more, offset2 = read_new_entries(path, offset)
    assert more == [json.loads(lines[0])] and offset2 == path.stat().st_size - 10


@pytest.mark.parametrize("agent,sample", [("claude", "claude_transcript.jsonl"), ("codex", "codex_rollout.jsonl")])
def test_malformed_and_partial_lines_are_skipped_and_counted(tmp_path: Path, agent: str, sample: str) -> None:
    good = (SAMPLES / sample).read_text().splitlines()
    clean = parse_file(SAMPLES / sample, parser(agent))
    bad = ["{not json", "[1, 2, 3]", '"a string"', good[5][: len(good[5]) // 2],  # a line cut in half
           json.dumps({"type": "user", "message": {"content": 42}}) if agent == "claude"
           else json.dumps({"type": "response_item", "payload": {"type": "message", "role": "user", "content": 42}})]
    mixed = good[:3] + bad + good[3:]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(mixed) + "\n" + good[0][:40])  # and a last line still being written
    with TranscriptReader(path, parser(agent)) as reader:
        page = reader.tail(1000)
    assert page.malformed == len(bad) and page.lines == len(mixed)
    assert summary(page.messages) == summary(clean.messages)
    assert page.end == path.stat().st_size - 40  # the unfinished line is left for follow()


def _generate(path: Path, target_bytes: int) -> int:
    """A Claude-style transcript of numbered user/tool/assistant turns; returns the number of lines."""
    lines = []
    n = 0
    size = 0
    while size < target_bytes:
        call = f"toolu_{n}"
        for entry in (
            {"type": "user", "message": {"role": "user", "content": f"prompt {n}"}},
            {"type": "assistant", "message": {"content": [{"type": "tool_use", "id": call, "name": "Bash",
                                                           "input": {"command": f"echo {n}"}}]}},
            {"type": "user",
             "message": {"content": [{"type": "tool_result", "tool_use_id": call, "content": "x" * 300}]}},
            {"type": "assistant", "message": {"content": [{"type": "text", "text": f"reply {n}"}]}},
        ):
            line = json.dumps(entry) + "\n"
            lines.append(line)
            size += len(line)
        n += 1
        if len(lines) >= 10_000:
            with path.open("a") as handle:
                handle.writelines(lines)
            lines = []
    with path.open("a") as handle:
        handle.writelines(lines)
    return n


class CountingReader(TranscriptReader):
    """Counts the bytes read from the file, to show tail() does not read it all."""

    bytes_read = 0

    def read_range(self, start: int, end: int):
        CountingReader.bytes_read += end - start
        return super().read_range(start, end)

    def _page_before(self, end: int, count: int):
        original = self._file.read

        def counted(n: int = -1) -> bytes:
            data = original(n)
            CountingReader.bytes_read += len(data)
            return data

        self._file.read = counted  # type: ignore[method-assign]
        try:
            return super()._page_before(end, count)
        finally:
            self._file.read = original  # type: ignore[method-assign]


def test_tail_of_a_big_file_reads_only_its_end(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    turns = _generate(path, 30 * 1024 * 1024)
    CountingReader.bytes_read = 0
    with CountingReader(path, parser("claude")) as reader:
        page = reader.tail(40)
        assert page.end == path.stat().st_size and page.lines == 40
        assert [m.text for m in page.messages if m.kind == "assistant"][-1] == f"reply {turns - 1}"
        assert CountingReader.bytes_read < 512 * 1024, "tail read far more than the last page"
        earlier = reader.before(page, 40)
        assert earlier.end == page.start and earlier.lines == 40
        assert [m.text for m in earlier.messages if m.kind == "user"][-1] == f"prompt {turns - 11}"


def test_pages_backwards_cover_the_file_exactly(tmp_path: Path) -> None:
    """Small blocks so page and block edges fall everywhere; the pages joined equal one full parse."""
    path = tmp_path / "t.jsonl"
    _generate(path, 200 * 1024)
    full = parse_file(path, parser("claude"))
    pages = []
    with TranscriptReader(path, parser("claude"), block_size=333) as reader:
        page = reader.tail(7)
        while True:
            pages.append(page)
            if page.at_beginning:
                break
            page = reader.before(page, 7)
    pages.reverse()
    assert all(a.end == b.start for a, b in zip(pages, pages[1:], strict=False)) and pages[0].start == 0
    assert sum(p.lines for p in pages) == full.lines
    # A tool call and its result may land on different pages; then the result is its own message.
    joined = [m for p in pages for m in p.messages]
    assert [m.text for m in joined if m.kind in ("user", "assistant")] == \
           [m.text for m in full.messages if m.kind in ("user", "assistant")]
    assert len([m for m in joined if m.kind == "tool_call"]) == len([m for m in full.messages if m.kind == "tool_call"])


def test_follow_returns_whole_appended_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    path.write_bytes((SAMPLES / "claude_transcript.jsonl").read_bytes())
    with TranscriptReader(path, parser("claude")) as reader:
        offset = reader.tail(5).end
        assert reader.follow(offset).messages == []
        line = json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": "LIVE-1"}]}}) + "\n"
        with path.open("a") as handle:
            handle.write(line[:20])
            handle.flush()
            partial = reader.follow(offset)
            assert partial.messages == [] and partial.end == offset and partial.malformed == 0
            handle.write(line[20:])
        done = reader.follow(partial.end)
        assert [m.text for m in done.messages] == ["LIVE-1"] and done.end == path.stat().st_size


def test_reader_refuses_symlinks_and_paths_out_of_the_home(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    (home / ".claude" / "projects" / "p").mkdir(parents=True)
    target = tmp_path / "outside.jsonl"
    target.write_text("{}\n")
    link = home / ".claude" / "projects" / "p" / "x.jsonl"
    link.symlink_to(target)
    with pytest.raises(OSError):
        TranscriptReader(link, parser("claude"))
    with pytest.raises(TranscriptRefused, match="symlink"):
        open_agent_transcript(home, "/home/agent/.claude/projects/p/x.jsonl", parser("claude"))
    for outside in ("/etc/passwd", "/home/agent/../agent/.claude", "/home/agent"):
        with pytest.raises(TranscriptRefused, match="not in the agent home"):
            open_agent_transcript(home, outside, parser("claude"))
    (home / ".claude" / "projects" / "p" / "real.jsonl").write_text("{}\n")
    for named in ("/home/agent/.claude/projects/p/real.jsonl", f"{home}/.claude/projects/p/real.jsonl"):
        with open_agent_transcript(home, named, parser("claude")) as reader:
            assert reader.path == home / ".claude/projects/p/real.jsonl"
    (home / ".claude" / "projects" / "q").symlink_to(tmp_path, target_is_directory=True)  # a linked directory
    with pytest.raises(TranscriptRefused, match="on the way"):
        open_agent_transcript(home, "/home/agent/.claude/projects/q/outside.jsonl", parser("claude"))
    assert [p.name for p in CLAUDE.find_transcripts(home)] == ["real.jsonl"]  # the planted symlink is not listed


def test_finding_transcripts_in_an_agent_home(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    (home / ".claude" / "projects" / "-workspace").mkdir(parents=True)
    (home / ".claude" / "projects" / "-workspace" / "abc.jsonl").write_text("")
    day = home / ".codex" / "sessions" / "2026" / "11" / "27"
    day.mkdir(parents=True)
    (day / "rollout-2026-11-27T16-53-36-t1.jsonl").write_text("")
    assert [p.name for p in CLAUDE.find_transcripts(home, "abc")] == ["abc.jsonl"]
    assert CLAUDE.find_transcripts(home, "zz") == []
    assert [p.name for p in CODEX.find_transcripts(home, "t1")] == ["rollout-2026-11-27T16-53-36-t1.jsonl"]
