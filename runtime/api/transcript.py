"""Engine API routes for the chat view: a session's agent transcript (pages and a live tail) and sending
a chat message, which is typed into the agent's terminal so that chat and terminal are two views of one
live session (documented in docs/api.md).

Which transcript: Claude Code writes `~/.claude/projects/<project>/<conversation id>.jsonl`, Codex
`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`, both in the session's agent home. The newest one is
shown (for Claude, the session's own conversation id wins a tie), so the view moves to a new
transcript when the agent starts one (`/clear`, a new Codex thread). A transcript is written inside
the sandbox: files are opened from the agent home one component at a time with `O_NOFOLLOW` and
`O_NONBLOCK` (`transcripts.open_in_home`), regular files only, and what was opened is checked again
(through `/proc/self/fd`) to lie inside the agent home, so no link or FIFO the agent plants makes the
engine read host files or wait. Pages are read from the end of the file (`TranscriptReader`), so a 100 MB transcript
opens as fast as a small one.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import web

from runtime.agents.base import Agent
from runtime.agents.registry import agent_named, agent_names
from runtime.agents.transcripts import Page, TranscriptReader, open_in_home
from runtime.api.http import API, OpenSockets, cancel_quietly, read_json
from runtime.engine.core import Engine
from runtime.engine.messages import MAX_IMAGES, type_message
from runtime.errors import ClauderonError
from runtime.models import Session
from runtime.uploads import MAX_UPLOAD_BYTES, UploadRefused, save_incoming, store_upload
from runtime.workbench import pod as workbench_pod
from runtime.workbench.transcript_json import empty_page, message_json, page_json

log = logging.getLogger(__name__)

DEFAULT_LIMIT, MAX_LIMIT = 200, 5000
"""Transcript lines per page."""
POLL_S = 0.3
"""How often the live tail looks for appended lines."""
SWITCH_EVERY = 4
"""Look for a newer transcript file every this many polls."""


# -- finding and opening transcripts -----------------------------------------------------------------


def transcript_agent(name: str) -> Agent | None:
    """The agent called `name` when it keeps a transcript (`Agent.transcript`), else None."""
    agent = agent_named(name) if name in agent_names() else None
    return agent if agent is not None and agent.transcript is not None else None


def transcript_files(agent_home: Path, agent: str) -> list[Path]:
    """The agent's transcripts inside its home (no symlinks, nothing resolving outside), newest last."""
    keeper = transcript_agent(agent)
    if keeper is None:
        return []
    try:
        found = keeper.find_transcripts(agent_home)
    except OSError:  # a file went away between listing and sorting: the next poll sees the new state
        return []
    home = os.path.realpath(agent_home)
    return [p for p in found if _inside(home, os.path.realpath(p))]


def current_transcript(agent_home: Path, session: Session) -> Path | None:
    """The transcript to show: the newest (Claude: the session's own conversation wins a tie)."""
    files = transcript_files(agent_home, session.agent)
    if not files:
        return None
    own = f"{session.agent_session_id}.jsonl" if session.agent_session_id else None

    def key(path: Path) -> tuple[float, bool]:
        try:
            return path.stat().st_mtime, path.name == own
        except OSError:
            return 0.0, False
    return max(files, key=key)


def open_transcript(agent_home: Path, path: Path, agent: str) -> TranscriptReader:
    """A reader for `path`, refused (403) unless what was opened is a regular file inside the agent home."""
    try:
        relative = PurePosixPath(path.relative_to(agent_home).as_posix())
        # Component by component from the home, no symlink anywhere, regular files only, never waiting.
        keeper = transcript_agent(agent)
        if keeper is None:
            raise ValueError(f"{agent!r} keeps no transcript")
        reader = TranscriptReader(path, keeper.parse_transcript_line, fd=open_in_home(agent_home, relative))
    except (OSError, ValueError) as exc:
        raise ClauderonError(f"cannot open the transcript {path.name}: {exc}", status=403) from None
    opened = _opened_path(reader)
    if opened is not None and not _inside(os.path.realpath(agent_home), opened):
        reader.close()
        raise ClauderonError(f"the transcript {path.name} leads outside the agent home; refused", status=403)
    return reader


def _opened_path(reader: TranscriptReader) -> str | None:
    """The real path of the file a reader holds open (Linux), to check it after opening: no race."""
    try:
        return os.readlink(f"/proc/self/fd/{reader.fileno()}")
    except OSError:
        return None


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# -- pages ------------------------------------------------------------------------------------------------


def _relative(agent_home: Path, path: Path) -> str:
    return path.relative_to(agent_home).as_posix()


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise ClauderonError("limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ClauderonError(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def read_page(agent_home: Path, session: Session, before: str | None, limit: int) -> dict[str, Any]:
    """The newest page of the current transcript, or the page before the cursor `before` (blocking)."""
    if before:
        relative, _, offset_text = before.rpartition(":")
        known = {_relative(agent_home, p): p for p in transcript_files(agent_home, session.agent)}
        if relative not in known or not offset_text.isdigit():
            raise ClauderonError("before is not a cursor this session's transcripts gave out")
        with open_transcript(agent_home, known[relative], session.agent) as reader:
            offset = min(int(offset_text), reader.size())
            return page_json(session.agent, relative, reader.before(Page([], offset, offset), limit))
    path = current_transcript(agent_home, session)
    if path is None:
        return empty_page(session.agent)
    with open_transcript(agent_home, path, session.agent) as reader:
        return page_json(session.agent, _relative(agent_home, path), reader.tail(limit))


class TranscriptFollower:
    """The live tail of one session's transcript: a first page, then appended lines; a new page when
    the agent moves to a newer transcript (or the file shrank). `poll()` blocks: run it in a thread."""

    def __init__(self, agent_home: Path, session: Session, limit: int) -> None:
        self.agent_home = agent_home
        self.session = session
        self.limit = limit
        self.path: Path | None = None
        self.reader: TranscriptReader | None = None
        self.offset = 0
        self._polls = 0

    def poll(self) -> list[dict[str, Any]]:
        """Events since the last poll: `{"type": "page", ...}` or `{"type": "append", ...}`, or none."""
        first, self._polls = self._polls == 0, self._polls + 1
        if first or self.reader is None or self._polls % SWITCH_EVERY == 0:
            path = current_transcript(self.agent_home, self.session)
            if path != self.path or (self.reader is not None and self.reader.size() < self.offset):
                return self._open(path)
            if first:
                return [{"type": "page", **empty_page(self.session.agent)}]
        if self.reader is None:
            return []
        page = self.reader.follow(self.offset)
        if page.end == self.offset:
            return []
        self.offset = page.end
        if not page.messages and not page.malformed:
            return []
        return [{"type": "append", "messages": [message_json(m) for m in page.messages],
                 "malformed": page.malformed, "end": page.end}]

    def _open(self, path: Path | None) -> list[dict[str, Any]]:
        self.close()
        self.path = path
        if path is None:
            return [{"type": "page", **empty_page(self.session.agent)}]
        try:
            self.reader = open_transcript(self.agent_home, path, self.session.agent)
        except ClauderonError as exc:
            log.warning("transcript of %s: %s", self.session.name, exc)
            return [{"type": "error", "error": str(exc)}]
        page = self.reader.tail(self.limit)
        self.offset = page.end
        return [{"type": "page", **page_json(self.session.agent, _relative(self.agent_home, path), page)}]

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None


# -- chat: typing into the agent's terminal ---------------------------------------------------------------


def _chat_request(body: dict[str, Any]) -> tuple[str, list[str]]:
    text, images = body.get("text", ""), body.get("images") or []
    if not isinstance(text, str):
        raise ClauderonError("text must be a string")
    if not isinstance(images, list) or not all(isinstance(i, str) and i for i in images):
        raise ClauderonError("images must be a list of file paths")
    if len(images) > MAX_IMAGES:
        raise ClauderonError(f"at most {MAX_IMAGES} images per message")
    if not text.strip() and not images:
        raise ClauderonError("nothing to send: type a message or attach an image")
    return text, images


def _needs_transcript(session: Session) -> None:
    if transcript_agent(session.agent) is None:
        raise ClauderonError(f"session {session.name} runs {session.agent!r}, which keeps no transcript", status=409)


class TranscriptRoutes:
    """The transcript, live-transcript and chat routes."""

    def __init__(self, engine: Engine, sockets: OpenSockets) -> None:
        self.engine = engine
        self.sockets = sockets
        self.chat_locks: dict[str, asyncio.Lock] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(API + "/sessions/{ref}/transcript", self.transcript),
            web.get("/ws/v1/transcript/{ref}", self.transcript_live),
            web.post(API + "/sessions/{ref}/chat", self.chat),
            web.post(API + "/uploads", self.upload),
        ]

    async def transcript(self, request: web.Request) -> web.Response:
        engine = self.engine
        session = engine.require_known(request.match_info["ref"])
        _needs_transcript(session)
        limit = _limit(request.query.get("limit"))
        # The transcript of a pod session is read in the pod.
        if (backend := workbench_pod.pod_backend(engine.backend, session)) is not None:
            pod = workbench_pod.Pod(backend, session.backend_id, asyncio.get_running_loop())
            return web.json_response(await asyncio.to_thread(workbench_pod.transcript_page, pod, session,
                                                             request.query.get("before"), limit))
        page = await asyncio.to_thread(read_page, engine.home.agent_home(session.id), session,
                                       request.query.get("before"), limit)
        return web.json_response(page)

    async def transcript_live(self, request: web.Request) -> web.WebSocketResponse:
        engine = self.engine
        session = engine.require_known(request.match_info["ref"])
        _needs_transcript(session)
        limit = _limit(request.query.get("limit"))
        if workbench_pod.pod_backend(engine.backend, session) is not None:
            raise ClauderonError(f"the live transcript is not available for pod sessions yet; read pages from "
                                 f"/api/v1/sessions/{session.name}/transcript", status=409)
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.track(ws)
        follower = TranscriptFollower(engine.home.agent_home(session.id), session, limit)
        closed = asyncio.ensure_future(ws.receive())  # any frame or the close ends the tail
        polls = 0
        try:
            while not closed.done():
                polls += 1
                if polls % SWITCH_EVERY == 0:  # the store is the loop's: read it here, not in the thread
                    follower.session = engine.store.find(session.id) or follower.session
                for event in await asyncio.to_thread(follower.poll):
                    await ws.send_json(event)
                await asyncio.wait({closed}, timeout=POLL_S)
        except (ConnectionResetError, RuntimeError) as exc:  # the viewer went away mid-send
            log.debug("transcript tail of %s ended: %s", session.name, exc)
        finally:
            await cancel_quietly(closed)
            follower.close()
            self.sockets.untrack(ws)
            await ws.close()
        return ws

    async def upload(self, request: web.Request) -> web.Response:
        """Image bytes for a later chat message (`?name=` the file's name): kept in the home's `incoming/` and
        announced as an `upload` event, so the app that asked (a browser tab's) attaches it."""
        name = request.query.get("name", "")[:200]
        chunks, size = [], 0
        while chunk := await request.content.read(1 << 20):  # the API's own body limit is lower: bounded here
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise UploadRefused(f"{name or 'the upload'} is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                                    "attach a smaller image")
            chunks.append(chunk)
        data = b"".join(chunks)
        saved = await asyncio.to_thread(save_incoming, self.engine.home.incoming, data, name)
        self.engine.events.publish({"type": "upload", **self.engine.uploads.add(saved)})
        return web.json_response(saved, status=201)

    async def chat(self, request: web.Request) -> web.Response:
        engine = self.engine
        text, images = _chat_request(await read_json(request))
        session = engine.require_known(request.match_info["ref"])
        stream = engine.stream(session.id)  # 409 when the terminal is not live
        agent_home = engine.home.agent_home(session.id)
        sandboxed = engine.backend(session).capabilities.sandboxed
        uploads = []
        try:
            for image in images:
                uploads.append(await asyncio.to_thread(store_upload, image, agent_home, sandboxed=sandboxed))
        except ClauderonError:  # one refused image: the message is not sent, so none of its copies stay
            for upload in uploads:
                upload.host_path.unlink(missing_ok=True)
            raise
        paths = [u.agent_path for u in uploads]
        async with self.chat_locks.setdefault(session.id, asyncio.Lock()):  # one message's paste and Enter together
            bracketed = await type_message(stream, text, paths,
                                           images_apart=agent_named(session.agent).pastes_images_apart)
        return web.json_response({"ok": True, "images": paths, "bracketed": bracketed})


__all__ = ["TranscriptRoutes", "TranscriptFollower", "current_transcript", "message_json",
           "open_transcript", "page_json", "read_page", "transcript_files"]
