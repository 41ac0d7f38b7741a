"""Agent transcripts (JSON lines written by the CLIs into the agent home) as one message model.

Claude Code writes `~/.claude/projects/<cwd with / as ->/<session id>.jsonl`; Codex writes
`~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl` (each agent's `TranscriptLocation`). Each
agent's line format is parsed by its own module (`runtime.agents.claude`, `runtime.agents.codex`) into
`Message`s, handed to the reader as a `LineParser`; this module holds the model,
tool call/result pairing, and `TranscriptReader`, which pages a file of any size from its end without
reading it all.

A transcript is written by the agent inside the sandbox, so it is untrusted input: malformed or
partial lines are skipped and counted, and paths are resolved without following symlinks out of the
agent home.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from runtime.agents.home import CONTAINER_HOME

MessageKind = Literal["user", "assistant", "tool_call", "tool_result", "thinking", "error"]
BLOCK_SIZE = 64 * 1024
MAX_LINE_BYTES = 32 * 1024 * 1024  # a longer "line" is not a transcript entry; skipped, counted


@dataclass
class Message:
    """One entry of a conversation. A `tool_call` carries its `result` once paired with it; a
    `tool_result` whose call is not in the same page stays a message of its own (with `call_id`)."""

    kind: MessageKind
    text: str = ""
    tool: str | None = None
    input: Any = None
    call_id: str | None = None
    result: str | None = None
    is_error: bool = False
    timestamp: str | None = None
    offset: int = -1
    """Byte offset of the line this came from (for paging and for the UI to keep its place)."""
    sidechain: bool = False
    """Claude Code: written by a subagent (Task tool), not the main conversation."""


@dataclass
class Page:
    """Messages parsed from the byte range [start, end) of a transcript."""

    messages: list[Message]
    start: int
    end: int
    malformed: int = 0
    lines: int = 0

    @property
    def at_beginning(self) -> bool:
        return self.start == 0


LineParser = Callable[[dict[str, Any]], list[Message]]


def parse_lines(lines: Iterable[tuple[int, bytes]], parser: LineParser) -> tuple[list[Message], int, int]:
    """(offset, raw line) pairs into messages, with tool calls paired; returns (messages, malformed, lines).

    A line that is not a JSON object, or that the format parser cannot read, counts as malformed.
    """
    messages: list[Message] = []
    malformed = count = 0
    for offset, raw in lines:
        if not raw.strip():
            continue
        count += 1
        try:
            entry = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            malformed += 1
            continue
        if not isinstance(entry, dict):
            malformed += 1
            continue
        try:
            parsed = parser(entry)
        except (KeyError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
        for message in parsed:
            message.offset = offset
        messages.extend(parsed)
    return pair_tool_results(messages), malformed, count


def pair_tool_results(messages: list[Message]) -> list[Message]:
    """Fold each `tool_result` into the earlier `tool_call` with the same `call_id` (in this list)."""
    calls: dict[str, Message] = {}
    out: list[Message] = []
    for message in messages:
        if message.kind == "tool_call" and message.call_id:
            calls[message.call_id] = message
        elif message.kind == "tool_result" and message.call_id in calls:
            call = calls.pop(message.call_id)
            call.result, call.is_error = message.text, message.is_error
            continue
        out.append(message)
    return out


def parse_file(path: Path, parser: LineParser) -> Page:
    """A whole (small) transcript; for big ones use `TranscriptReader`."""
    with TranscriptReader(path, parser) as reader:
        return reader.read_range(0, reader.size())


class TranscriptReader:
    """Pages through a transcript from its end: `tail()` first, `before(page)` for earlier pages on
    demand, `follow(offset)` for what the agent appended since. Only whole lines are parsed, so a line
    the agent is still writing is picked up by the next `follow`, not counted as malformed."""

    def __init__(self, path: Path, parser: LineParser, *, block_size: int = BLOCK_SIZE, fd: int | None = None) -> None:
        """Open `path` (a symlink or anything but a regular file is refused), or take over `fd`, a file
        already opened and checked by `open_in_home`; the reader closes it. `parser` reads the agent's lines
        (`Agent.parse_transcript_line`)."""
        self.path = path
        self.block_size = block_size
        self.parser = parser
        if fd is None:
            fd = _open_regular(os.fspath(path), dir_fd=None)
        self._file = os.fdopen(fd, "rb")

    def __enter__(self) -> TranscriptReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def fileno(self) -> int:
        """The descriptor of the open transcript (to check where it leads, through `/proc/self/fd`)."""
        return self._file.fileno()

    def size(self) -> int:
        return os.fstat(self._file.fileno()).st_size

    def tail(self, count: int = 200) -> Page:
        """The last `count` lines (whole lines only; a trailing partial line is left for `follow`)."""
        end = self._last_line_end(self.size())
        return self._page_before(end, count)

    def before(self, page: Page, count: int = 200) -> Page:
        """The `count` lines before `page` (empty at the start of the file)."""
        return self._page_before(page.start, count)

    def follow(self, offset: int) -> Page:
        """Whole lines appended from `offset` on; the next call starts at the returned page's `end`."""
        size = self.size()
        if offset >= size:
            return Page([], offset, offset)
        end = self._last_line_end(size, floor=offset)
        return self.read_range(offset, end)

    def read_range(self, start: int, end: int) -> Page:
        """Parse the whole lines in [start, end); `start` must be a line start."""
        self._file.seek(start)
        data = self._file.read(end - start)
        messages, malformed, lines = parse_lines(split_lines(data, start), self.parser)
        return Page(messages, start, start + len(data), malformed, lines)

    # -- reading backwards ----------------------------------------------------------------------

    def _page_before(self, end: int, count: int) -> Page:
        """Find where the `count` lines before `end` start by reading backwards in blocks, then parse."""
        if end <= 0 or count <= 0:
            return Page([], end, end)
        # The byte at end-1 is the newline closing the last line; every newline before it starts a line.
        position, found = end - 1, 0
        while position > 0:
            read_from = max(0, position - self.block_size)
            self._file.seek(read_from)
            block = self._file.read(position - read_from)
            index = len(block)
            while (index := block.rfind(b"\n", 0, index)) >= 0:
                found += 1
                if found == count:
                    return self.read_range(read_from + index + 1, end)
            position = read_from
        return self.read_range(0, end)

    def _last_line_end(self, size: int, floor: int = 0) -> int:
        """The offset just after the last newline at or before `size` (or `floor` when there is none)."""
        position = size
        while position > floor:
            read_from = max(floor, position - self.block_size)
            self._file.seek(read_from)
            block = self._file.read(position - read_from)
            index = block.rfind(b"\n")
            if index >= 0:
                return read_from + index + 1
            position = read_from
        return floor


def split_lines(data: bytes, base: int) -> Iterable[tuple[int, bytes]]:
    offset = 0
    for line in data.split(b"\n"):
        if len(line) <= MAX_LINE_BYTES:
            yield base + offset, line
        else:
            yield base + offset, b"\0"  # counted as malformed without parsing 32 MB
        offset += len(line) + 1


# -- finding transcripts in an agent home ------------------------------------------------------------


class TranscriptRefused(OSError, ValueError):
    """An agent-named file the engine will not read (a symlink, a FIFO, a path out of the agent home).

    Both an OSError (like the failed open it stands for) and a ValueError (what bad input is)."""


_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _open_regular(name: str, *, dir_fd: int | None) -> int:
    """Open one agent-named file for reading: never through a symlink, never waiting, regular files only.

    O_NOFOLLOW refuses a symlink the agent planted; O_NONBLOCK returns at once for a FIFO (a blocking open
    waits for a writer forever and held the proxy's worker threads); `fstat` on what was opened, before any
    read, refuses everything but a regular file (FIFO, socket, device, directory)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TranscriptRefused(f"{name} is a symlink; refused") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise TranscriptRefused(f"{name} is not a regular file ({_kind(mode)}); refused")
    return fd


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "not a file"


def agent_relative_path(agent_home: Path, agent_path: str) -> PurePosixPath | None:
    """Where a path the agent reported (`/home/agent/...` as mounted in a container, or a path under the
    agent home itself for local sessions) lies inside the agent home, judged by its text alone; None for
    anything else (`..`, other roots, the home itself)."""
    path = PurePosixPath(agent_path)
    if not path.is_absolute() or ".." in path.parts:
        return None
    for root in (PurePosixPath(CONTAINER_HOME), PurePosixPath(str(agent_home))):
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        return relative if relative.parts else None
    return None


def open_in_home(agent_home: Path, relative: PurePosixPath) -> int:
    """A read-only fd for the regular file at `relative` inside `agent_home`, opened one component at a
    time from the home with O_NOFOLLOW, so no symlink the agent planted anywhere on the way (and no swap
    of a directory for a symlink between a check and the open) can lead out of the home.

    Raises `TranscriptRefused` for a symlink, FIFO or other non-regular file on the way, OSError when the
    file is not there."""
    parts = relative.parts
    if not parts or relative.is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise TranscriptRefused(f"{relative} is not a path inside the agent home; refused")
    dir_fd = os.open(agent_home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the engine's own directory
    try:
        for name in parts[:-1]:
            try:
                next_fd = os.open(name, _NOFOLLOW_DIR, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise TranscriptRefused(f"{relative} may lead outside the agent home: {name} on the way is a "
                                            "symlink or not a directory; refused") from None
                raise
            os.close(dir_fd)
            dir_fd = next_fd
        return _open_regular(parts[-1], dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def open_agent_transcript(agent_home: Path, agent_path: str, parser: LineParser) -> TranscriptReader:
    """A reader for a transcript path the agent reported (a hook's `transcript_path`), confined to the
    agent home by `open_in_home`. Raises `TranscriptRefused` (a ValueError) or OSError."""
    relative = agent_relative_path(agent_home, agent_path)
    if relative is None:
        raise TranscriptRefused(f"{agent_path} is not in the agent home; refused")
    fd = open_in_home(agent_home, relative)
    return TranscriptReader(agent_home / relative, parser, fd=fd)


@dataclass(frozen=True)
class TranscriptLocation:
    """Where an agent writes its transcripts inside its home."""

    directory: str
    """Relative to the agent home (`.claude/projects`)."""
    pattern: str
    """File names (`*.jsonl`)."""
    conversation_pattern: str
    """File name of one conversation, `{id}` standing for its id (`{id}.jsonl`)."""
    depth: int | None = None
    """Directories between `directory` and a file; None for any depth."""


def find_transcripts(agent_home: Path, location: TranscriptLocation, conversation_id: str | None = None) -> list[Path]:
    """The transcripts at `location` in an agent home (for one conversation id, when given), newest last."""
    name = location.conversation_pattern.format(id=conversation_id) if conversation_id else location.pattern
    root = agent_home / location.directory
    found = root.rglob(name) if location.depth is None else root.glob("*/" * location.depth + name)
    return _regular_sorted(agent_home, found)


def _regular_sorted(agent_home: Path, paths: Iterable[Path]) -> list[Path]:
    """Regular files reached without a symlink anywhere below the home (a linked directory is skipped)."""
    home = agent_home.resolve()
    found = [p for p in paths if p.is_file() and p.resolve() == home / p.relative_to(agent_home)]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def last_assistant_in(reader: TranscriptReader, *, lines: int = 200) -> str | None:
    """The text of the last main-conversation assistant message in the last `lines` lines of `reader`."""
    page = reader.tail(lines)
    for message in reversed(page.messages):
        if message.kind == "assistant" and message.text.strip() and not message.sidechain:
            return message.text
    return None


def read_new_entries(path: Path, offset: int | None, *,
                     first_look: int = 256 * 1024) -> tuple[list[dict[str, Any]], int]:
    """The whole JSON-object lines appended to a JSON-lines transcript since `offset`, and the offset to go on from.

    `offset=None` (first look) starts `first_look` bytes before the end, at a line start, so a huge
    transcript is not read whole. Malformed lines are skipped; a line still being written waits.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if offset is None:
            offset = max(0, size - first_look)
            if offset:
                handle.seek(offset - 1)
                skipped = handle.readline()  # the rest of a line cut by the start point
                offset += len(skipped) - 1
        if offset >= size:
            return [], min(offset, size)
        handle.seek(offset)
        data = handle.read(size - offset)
    whole = data[: data.rfind(b"\n") + 1]
    entries = []
    for line in whole.split(b"\n"):
        try:
            entry = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries, offset + len(whole)


__all__ = ["Message", "MessageKind", "Page", "TranscriptReader", "parse_lines", "parse_file", "pair_tool_results",
           "LineParser", "TranscriptRefused", "agent_relative_path", "open_in_home", "open_agent_transcript",
           "last_assistant_in", "TranscriptLocation", "find_transcripts", "split_lines", "read_new_entries"]
