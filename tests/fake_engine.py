"""An in-memory `EngineClientProtocol` for TUI snapshot and Pilot tests.

It holds fixed sessions, answers every client call from memory, records what the UI asked for, and gives each
session a fake console that echoes what is typed (and records every byte and resize it receives).
Tests script events with `emit()`; creation progress is driven by the test through `create_script`.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from runtime.api.client import RESIZED, ConsoleProtocol, EngineClientProtocol
from runtime.errors import ClauderonError, Conflict, NotFound
from runtime.models import AgentStatus, Progress, Session, Status
from runtime.uploads import RecentUploads

FROZEN_NOW = 1_790_000_000.0
"""The fixed "now" snapshot tests give the app's clock."""

HEALTH_OK: dict[str, Any] = {
    "engine": {"pid": 4242, "home": "/home/dev/.clauderon", "version": "0.1.0"},
    "proxy": {"ok": True, "port": 18100, "detail": "listening"},
    "backends": {
        "docker": {"available": True, "reason": "", "sandboxed": True},
        "local": {"available": True, "reason": "", "sandboxed": False},
        "kubernetes": {"available": False, "reason": "no kubeconfig found", "sandboxed": True},
    },
}


JsonT = TypeVar("JsonT", list[dict[str, Any]], dict[str, Any])


def _as_sent(value: JsonT) -> JsonT:
    """A deep copy through JSON, as the real client's answers are: a caller never holds the fake's own state."""
    copied: JsonT = json.loads(json.dumps(value))
    return copied


def make_session(
    name: str,
    status: Status = Status.RUNNING,
    *,
    agent: str = "claude",
    agent_status: AgentStatus = AgentStatus.IDLE,
    backend: str = "docker",
    age: float = 600.0,
    repo: str = "/home/dev/src/webapp",
    error: str | None = None,
    access_mode: str = "read-write",
    pr: dict[str, Any] | None = None,
) -> Session:
    """A session record with stable ids and times (relative to FROZEN_NOW)."""
    return Session(
        id=f"id-{name}"[:12],
        name=name,
        repo_path=repo,
        base_branch="main",
        branch=f"clauderon/{name}",
        worktree_path=f"/home/dev/.clauderon/worktrees/{name}",
        backend=backend,
        agent=agent,
        status=status,
        agent_status=agent_status,
        error=error,
        access_mode=access_mode,
        pr=pr,
        created_at=FROZEN_NOW - age,
        updated_at=FROZEN_NOW - age,
    )


def sample_sessions() -> list[Session]:
    """Several sessions in different states, for the main-screen snapshot and the flows."""
    return [
        make_session("fix-login-bug", agent_status=AgentStatus.WORKING, age=300),
        make_session("add-dark-mode", agent_status=AgentStatus.NEEDS_PERMISSION, age=3 * 3600),
        make_session("refactor-db", Status.STOPPED, agent="codex", agent_status=AgentStatus.EXITED, age=2 * 86400),
        make_session("scratch-shell", agent="shell", backend="local", agent_status=AgentStatus.UNKNOWN, age=45),
        make_session("new-api", Status.CREATING, agent_status=AgentStatus.UNKNOWN, age=5),
        make_session("broken-build", Status.FAILED, agent_status=AgentStatus.ERROR, age=7200,
                     error="image clauderon-agent:latest not found; run `clauderon image build`"),
        make_session("old-experiment", Status.ARCHIVED, agent_status=AgentStatus.EXITED, age=30 * 86400),
    ]


class FakeConsole(ConsoleProtocol):
    """A `ConsoleConnection` whose program echoes every byte written to it and records resizes."""

    def __init__(self, session_id: str, cols: int, rows: int, snapshot: bytes = b"", echo: bool = True) -> None:
        self.session_id = session_id
        self.cols = cols
        self.rows = rows
        self.snapshot = snapshot
        self.echo = echo
        self.received = bytearray()
        self.resizes: list[tuple[int, int]] = []
        self.closed = False
        self._output: asyncio.Queue[bytes] = asyncio.Queue()

    def feed_output(self, data: bytes) -> None:
        """Make the fake program print `data`."""
        self._output.put_nowait(data)

    async def read(self) -> bytes:
        if self.closed:
            return b""
        return await self._output.get()

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ClauderonError("console closed")
        self.received += data
        if self.echo:
            self._output.put_nowait(data)

    async def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.resizes.append((cols, rows))

    async def close(self) -> None:
        self.closed = True
        self._output.put_nowait(b"")


class FakeEngineClient(EngineClientProtocol):
    """The `EngineClientProtocol` over in-memory data."""

    def __init__(
        self,
        sessions: list[Session] | None = None,
        *,
        health: dict[str, Any] | None = None,
        screens: dict[str, bytes] | None = None,
        echo: bool = True,
    ) -> None:
        self.sessions: dict[str, Session] = {s.id: s for s in (sessions or [])}
        self.health_info = health if health is not None else HEALTH_OK
        self.screens = screens or {}
        self.echo = echo
        self.consoles: dict[str, FakeConsole] = {}
        self.calls: list[tuple[str, Any]] = []
        self.uploads = RecentUploads()
        self.create_requests: list[dict[str, Any]] = []
        self.fail_next_create: str | None = None
        """When set, the next create ends "failed" with this error after one progress step."""
        self.delete_refusal: str | None = None
        """When set, a non-forced delete raises Conflict with this message."""
        self.repos = ["/home/dev/src/webapp", "/home/dev/src/api"]
        self.branch_names = ["main", "develop", "release-1.2"]
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected = False
        self.console_gate: asyncio.Event | None = None
        """When set, `console()` waits for it (a slow attach)."""
        self.worktrees: dict[str, Path] = {}
        """Session id -> a real directory served by `list_files`/`read_file` through the engine's confined reader."""
        self.marks: dict[str, dict[str, str]] = {}
        """Session id -> {path: git status mark} for the listing."""
        self.diffs: dict[str, dict[str, Any]] = {}
        """Session id -> the `diff()` answer."""
        self.infos: dict[str, list[dict[str, Any]]] = {}
        """Session id -> `session_info()` answers, one per call (the last repeats)."""
        self.transcripts: dict[str, tuple[Path, str]] = {}
        """Session id -> (transcript file, agent format), served by `transcript()` / `transcript_live()`."""
        self.agent_home_root: Path | None = None
        """Where `chat()` stores uploads (`<root>/<session id>/uploads/`); set it to a test's tmp_path."""
        self._transcript_changed: dict[str, list[asyncio.Event]] = {}
        self.pr_answers: dict[str, dict[str, Any]] = {}
        """Session id -> the `pr_state()` answer (PrState JSON plus `local_conflicts`); absent: 404 no PR yet."""
        self.landing_errors: dict[str, Exception] = {}
        """Method name (`push`, `open_pr`, `pr_state`, `merge`, `pull`) -> the error it raises, as the engine would."""
        self.terminal_sizes: dict[str, tuple[int, int]] = {}
        """Session id -> the terminal's size, once `resize()` or an active `console()` set it."""
        self.credential_rows: list[dict[str, Any]] = [
            {"name": "ANTHROPIC_API_KEY", "available": True, "source": "env ANTHROPIC_API_KEY", "masked": "sk-a…7f3c"},
            {"name": "GITHUB_TOKEN", "available": False, "source": "", "masked": "",
             "error": "op://dev/github/token: 1Password is locked"},
        ]
        """What `credentials()` answers (rows as the engine's `/credentials`: never a value)."""
        self.audit_records: list[dict[str, Any]] = []
        """What `audit()` filters, oldest first (records as the proxy's audit log holds them)."""
        self.image_listing: dict[str, Any] = {
            "default": "clauderon-agent:latest", "build_base": "buildpack-deps:bookworm-scm",
            "builder": {"available": True, "reason": "docker 27"},
            "images": [{"ref": "clauderon-agent:latest", "present": True, "default": True, "agent": True},
                       {"ref": "my-agent:dev", "present": True, "default": False, "agent": True}],
            "last_by_repo": {}, "build": None}
        """What `images()` answers (as the engine's `GET /images`)."""
        self.image_build_lines: list[str] = ["fetching the agents with npm", "Step 1/6 : FROM base"]
        self.image_build_error = ""
        self.image_build_gate: asyncio.Event | None = None
        """When set, the build waits for it after its lines, before it ends (a build under way)."""
        """The lines `build_image()` streams, then its end: failed with this error when set, else done (and the
        default image is present from then on)."""
        self.engine_hosted_by_app = False
        """When set, `stop_engine()` is refused as the engine refuses it when an app hosts it."""
        self.stop_requested = False

    # -- test helpers --------------------------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> None:
        """Send one event down the stream, as the engine would."""
        self._queue.put_nowait(event)

    def update(self, session: Session) -> None:
        """Store a changed session and announce it."""
        self.sessions[session.id] = session
        self.emit({"type": "session", "session": session})

    def console_for(self, name: str) -> FakeConsole:
        """The console the UI opened for the session called `name`."""
        return self.consoles[self._find(name).id]

    # -- EngineClient ----------------------------------------------------------------------------
    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False
        for console in self.consoles.values():
            await console.close()

    async def health(self) -> dict[str, Any]:
        return self.health_info

    async def list_sessions(self, include_archived: bool = True) -> list[Session]:
        return [s for s in self.sessions.values() if include_archived or s.status != Status.ARCHIVED]

    def _find(self, ref: str) -> Session:
        for session in self.sessions.values():
            if ref in (session.id, session.name):
                return session
        raise NotFound(f"no session named {ref!r}")

    async def get_session(self, ref: str) -> Session:
        return self._find(ref)

    async def create_session(self, request: dict[str, Any], wait: bool = False) -> Session:
        from runtime.requests import CreateRequest

        json.dumps(request)  # it must cross the wire
        CreateRequest.model_validate(request)  # and pass the engine's door
        self.create_requests.append(request)
        name = request.get("name") or "session"
        existing = next((s for s in self.sessions.values() if s.name == name), None)
        if existing is not None and existing.status != Status.FAILED:
            raise Conflict(f"a session named {name!r} already exists")
        if existing is not None:  # as the engine does: a retry replaces the failed record, viewers drop its row
            del self.sessions[existing.id]
            self.emit({"type": "deleted", "session_id": existing.id, "name": name})
        session = make_session(name, Status.CREATING, agent=request.get("agent") or "shell",
                               backend=request.get("backend") or "docker",
                               agent_status=AgentStatus.UNKNOWN, age=0, repo=request["repo"])
        if existing is not None:
            session.id = f"{session.id[:9]}-{len(self.create_requests)}"  # ids are never reused
        session.progress = Progress(step=0, total=3, message="queued")
        session.model, session.plan_mode = request.get("model"), bool(request.get("plan_mode"))
        self.sessions[session.id] = session
        creation = asyncio.get_running_loop().create_task(self._run_create(session.id))
        if wait:  # the engine answers once the session settled (running or failed)
            await creation
            return self.sessions[session.id]
        return session

    async def _run_create(self, session_id: str) -> None:
        failure, self.fail_next_create = self.fail_next_create, None
        steps = ["creating worktree", "starting container", "starting agent"]
        for number, message in enumerate(steps, start=1):
            await asyncio.sleep(0)
            session = self.sessions[session_id].model_copy(deep=True)
            session.progress = Progress(step=number, total=len(steps), message=message)
            if failure is not None and number == 2:
                session.status = Status.FAILED
                session.error = failure
                self.update(session)
                return
            self.update(session)
        session = self.sessions[session_id].model_copy(deep=True)
        session.status = Status.RUNNING
        session.agent_status = AgentStatus.IDLE
        self.update(session)

    async def delete_session(self, ref: str, force: bool = False) -> dict[str, Any]:
        self.calls.append(("delete", (ref, force)))
        session = self._find(ref)
        if self.delete_refusal and not force:
            raise Conflict(self.delete_refusal)
        del self.sessions[session.id]
        self.emit({"type": "deleted", "session_id": session.id})
        return {"branch_kept": True, "reason": f"branch {session.branch} has commits"}

    async def _change(self, verb: str, ref: str, **changes: Any) -> Session:
        self.calls.append((verb, ref))
        session = self._find(ref).model_copy(update=changes)
        self.update(session)
        return session

    async def archive_session(self, ref: str) -> Session:
        return await self._change("archive", ref, status=Status.ARCHIVED)

    async def unarchive_session(self, ref: str) -> Session:
        return await self._change("unarchive", ref, status=Status.STOPPED)

    async def restart_session(self, ref: str) -> Session:
        return await self._change("restart", ref, status=Status.RUNNING)

    async def resume_session(self, ref: str) -> Session:
        return await self._change("resume", ref, paused=None)

    async def rename_session(self, ref: str, title: str | None = None, description: str | None = None) -> Session:
        changes = {k: v or None for k, v in (("title", title), ("description", description)) if v is not None}
        return await self._change("rename", ref, **changes)

    async def refresh_session(self, ref: str) -> dict[str, Any]:
        session = await self._change("refresh", ref, status=Status.RUNNING)
        return {"name": session.name, "image": session.image, "old_id": "sha256:old", "new_id": "sha256:new",
                "digest": None, "changed": True, "session": session.public()}

    async def reconcile(self) -> list[dict[str, Any]]:
        self.calls.append(("reconcile", None))
        return []

    async def set_access_mode(self, ref: str, mode: str) -> Session:
        return await self._change("access_mode", ref, access_mode=mode)

    async def screen(self, ref: str) -> str:
        return self.screens.get(self._find(ref).id, b"").decode(errors="replace")

    async def send(self, ref: str, text: str, enter: bool = False) -> None:
        self.calls.append(("send", (ref, text, enter)))

    async def cycle_permission_mode(self, ref: str) -> Session:
        """Claude Code's cycle order, from the mode the session shows."""
        from runtime.agents.registry import agent_named

        if not agent_named(self._find(ref).agent).supports_mode_cycle:
            raise Conflict(f"the {self._find(ref).agent} agent has no permission modes to cycle (only claude has)")
        order = ["bypassPermissions", "auto", "default", "acceptEdits", "plan"]
        current = self._find(ref).permission_mode
        following = order[(order.index(current) + 1) % len(order)] if current in order else "default"
        return await self._change("cycle_permission_mode", ref, permission_mode=following)

    async def resize(self, ref: str, cols: int, rows: int) -> None:
        """The terminal takes the size; an open console hears of it (`RESIZED`), as from the engine."""
        self.calls.append(("resize", (ref, cols, rows)))
        for value, what in ((cols, "cols"), (rows, "rows")):
            if not 2 <= value <= 1000:
                raise ClauderonError(f"{what} must be between 2 and 1000")
        session = self._live(ref)
        self.terminal_sizes[session.id] = (cols, rows)
        console = self.consoles.get(session.id)
        if console is not None and not console.closed:
            console.cols, console.rows = cols, rows
            console.feed_output(RESIZED)

    def _live(self, ref: str) -> Session:
        session = self._find(ref)
        if session.status != Status.RUNNING:
            raise Conflict(f"session {session.name} is {session.status.value}; its terminal is not live")
        return session

    async def credentials(self) -> list[dict[str, Any]]:
        self.calls.append(("credentials", None))
        return _as_sent(self.credential_rows)

    async def audit(self, ref: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest `limit` of `audit_records` (oldest first), of one session when `ref` is given."""
        self.calls.append(("audit", (ref, limit)))
        if not 2 <= limit <= 100_000:
            raise ClauderonError("limit must be between 2 and 100000")
        session_id = self._find(ref).id if ref else None
        rows = [r for r in self.audit_records if session_id is None or r.get("session") == session_id]
        return _as_sent(rows[-limit:])

    async def stop_engine(self) -> None:
        self.calls.append(("stop_engine", None))
        if self.engine_hosted_by_app:
            raise ClauderonError("this engine is hosted by an app; quit the app to stop it", status=409)
        self.stop_requested = True
        self.emit({"type": "connection", "state": "reconnecting"})

    # -- transcripts and chat: real transcript files read with the engine's own reader ------------------------
    def set_transcript(self, name: str, path: Path, agent: str = "claude") -> None:
        """Serve `path` (a transcript file the test wrote) as the session's transcript."""
        self.transcripts[self._find(name).id] = (path, agent)

    def append_transcript(self, name: str, data: bytes) -> None:
        """The agent writes `data` to its transcript; live tails read what was appended."""
        session_id = self._find(name).id
        with self.transcripts[session_id][0].open("ab") as handle:
            handle.write(data)
        for changed in self._transcript_changed.get(session_id, []):
            changed.set()

    def _transcript_of(self, session: Session) -> tuple[Path, str] | None:
        if session.agent not in ("claude", "codex"):
            raise Conflict(f"session {session.name} runs {session.agent!r}, which keeps no transcript")
        return self.transcripts.get(session.id)

    @staticmethod
    def _wire(agent: str, path: Path | None, page: Any) -> dict[str, Any]:
        from runtime.api.client import _decode_page
        from runtime.api.transcript import page_json

        return _decode_page(json.loads(json.dumps(page_json(agent, path.name if path else None, page))))

    async def transcript(self, ref: str, before: str | None = None, limit: int = 200) -> dict[str, Any]:
        from runtime.agents.registry import agent_named
        from runtime.agents.transcripts import Page, TranscriptReader

        self.calls.append(("transcript", (ref, before, limit)))
        found = self._transcript_of(self._find(ref))
        if found is None:
            return self._wire("claude", None, Page([], 0, 0))
        path, agent = found
        with TranscriptReader(path, agent_named(agent).parse_transcript_line) as reader:
            if before:
                offset = int(before.rpartition(":")[2])
                return self._wire(agent, path, reader.before(Page([], offset, offset), limit))
            return self._wire(agent, path, reader.tail(limit))

    async def transcript_live(self, ref: str, limit: int = 200) -> AsyncIterator[dict[str, Any]]:
        from runtime.agents.registry import agent_named
        from runtime.agents.transcripts import TranscriptReader

        session = self._find(ref)
        found = self._transcript_of(session)
        if found is None:
            yield {"type": "page", **await self.transcript(ref, limit=limit)}
            await asyncio.Event().wait()  # no transcript ever appears
            return
        path, agent = found
        changed = asyncio.Event()
        self._transcript_changed.setdefault(session.id, []).append(changed)
        with TranscriptReader(path, agent_named(agent).parse_transcript_line) as reader:
            page = reader.tail(limit)
            yield {"type": "page", **self._wire(agent, path, page)}
            offset = page.end
            while True:
                await changed.wait()
                changed.clear()
                page = reader.follow(offset)
                offset = page.end
                yield {"type": "append", "messages": self._wire(agent, path, page)["messages"],
                       "malformed": page.malformed, "end": page.end}

    async def chat(self, ref: str, text: str, images: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Recorded; images go through the engine's real upload checks into `agent_home_root`."""
        from runtime.uploads import store_upload

        self.calls.append(("chat", (ref, text, list(images))))
        session = self._find(ref)
        if session.status != Status.RUNNING:
            raise Conflict(f"session {session.name} is {session.status.value}; its terminal is not live")
        if images and self.agent_home_root is None:
            raise ClauderonError("FakeEngineClient.agent_home_root is not set")
        stored = []
        for image in images:
            home = self.agent_home_root / session.id  # type: ignore[operator]
            home.mkdir(parents=True, exist_ok=True)
            stored.append(store_upload(image, home).agent_path)
        return {"ok": True, "images": stored, "bracketed": True}

    async def upload_image(self, data: bytes, name: str = "") -> dict[str, Any]:
        """The engine's real checks and storage, in `agent_home_root/incoming`; announced as the engine does."""
        from runtime.uploads import save_incoming

        if self.agent_home_root is None:
            raise ClauderonError("FakeEngineClient.agent_home_root is not set")
        saved = save_incoming(self.agent_home_root / "incoming", data, name)
        self.calls.append(("upload", name))
        self.emit({"type": "upload", **self.uploads.add(saved)})
        return saved

    # -- workbench: files read with the engine's own confined reader -----------------------------------------
    def _worktree(self, ref: str) -> tuple[Session, Path]:
        session = self._find(ref)
        root = self.worktrees.get(session.id)
        if root is None:
            raise NotFound(f"the worktree of {session.name} is gone")
        return session, root

    async def list_files(self, ref: str, path: str = "") -> dict[str, Any]:
        from runtime.workbench.files import list_directory, marks_for

        self.calls.append(("list_files", (ref, path)))
        session, root = self._worktree(ref)
        rel, entries, left_out = list_directory(root, path)
        return _as_sent({"path": rel, "entries": marks_for(rel, entries, self.marks.get(session.id, {})),
                         "left_out": left_out})

    async def read_file(self, ref: str, path: str, offset: int = 0, limit: int = 64 * 1024) -> dict[str, Any]:
        from runtime.workbench.files import read_page

        self.calls.append(("read_file", (ref, path, offset, limit)))
        return read_page(self._worktree(ref)[1], path, offset, limit)

    async def diff(self, ref: str) -> dict[str, Any]:
        self.calls.append(("diff", ref))
        session = self._find(ref)
        if session.id not in self.diffs:
            raise NotFound(f"the worktree of {session.name} is gone")
        return self.diffs[session.id]

    async def session_info(self, ref: str, stats: bool = True) -> dict[str, Any]:
        self.calls.append(("session_info", ref))
        session = self._find(ref)
        answers = self.infos.get(session.id) or [{"container": None, "stats": None, "audit": [],
                                                  "reason": "container details are only sampled for docker sessions"}]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return {"session": session.public(), **answer}

    # -- landing: answers shaped like the engine's routes (docs/landing.md) -----------------------------------
    def _landing(self, method: str, ref: str, *, writes: bool) -> Session:
        from runtime.git.landing import ReadOnlySession

        session = self._find(ref)
        if method in self.landing_errors:
            raise self.landing_errors[method]
        if writes and session.access_mode == "read-only":
            raise ReadOnlySession(f"session {session.name} is read-only; it cannot push, open or merge a pull request")
        return session

    async def pull(self, ref: str) -> dict[str, Any]:
        """The sandbox's commits come back as the session branch (refused where the engine refuses)."""
        self.calls.append(("pull", ref))
        session = self._landing("pull", ref, writes=False)
        if session.backend == "local":
            raise Conflict(f"session {session.name} works on the host worktree; its commits are already in "
                           f"{session.repo_path}")
        if session.status != Status.RUNNING:
            raise Conflict(f"session {session.name} is {session.status}; restart it to pull its work")
        return {"branch": session.branch, "sha": "89abcdef0123456789abcdef0123456789abcdef"}

    async def push(self, ref: str, force: bool = False) -> dict[str, Any]:
        self.calls.append(("push", (ref, force)))
        session = self._landing("push", ref, writes=True)
        return {"branch": session.branch, "sha": "0123456789abcdef0123456789abcdef01234567",
                "url": "https://github.com/dev/webapp.git", "repo": "dev/webapp"}

    async def open_pr(self, ref: str, draft: bool = False) -> dict[str, Any]:
        self.calls.append(("open_pr", (ref, draft)))
        session = self._landing("open_pr", ref, writes=True)
        number = 12
        state = {"number": number, "html_url": f"https://github.com/dev/webapp/pull/{number}", "state": "open",
                 "merged": False, "draft": draft, "checks": "none", "failing_checks": [], "pending_checks": [],
                 "review": "review-required", "mergeable": None, "mergeable_state": "unknown", "conflicts": False,
                 "stage": "working" if draft else "needs-review"}
        self.pr_answers[session.id] = {**state, "local_conflicts": []}
        self.update(session.model_copy(update={"pr": state}))
        return {"number": number, "html_url": state["html_url"], "head": session.branch, "base": session.base_branch,
                "draft": draft, "created": True, "state": state}

    async def pr_state(self, ref: str, refresh: bool = False) -> dict[str, Any]:
        self.calls.append(("pr_state", (ref, refresh)))
        session = self._landing("pr_state", ref, writes=False)
        if session.id not in self.pr_answers:
            # What `EngineClient` raises for the route's 404 (a ClauderonError carrying the status).
            raise ClauderonError(f"session {session.name} has no pull request yet; `clauderon pr {session.name}` "
                                 "opens one", status=404)
        return self.pr_answers[session.id]

    async def merge(self, ref: str, method: str = "merge", delete_branch: bool = False) -> dict[str, Any]:
        self.calls.append(("merge", (ref, method, delete_branch)))
        session = self._landing("merge", ref, writes=True)
        number = (session.pr or {}).get("number", 12)
        return {"number": number, "method": method, "sha": "fedcba9876543210fedcba9876543210fedcba98",
                "branch_deleted": delete_branch}

    async def recent_repos(self) -> list[str]:
        return list(self.repos)

    async def images(self) -> dict[str, Any]:
        return copy.deepcopy(self.image_listing)

    async def build_image(self, tag: str | None = None, base: str | None = None) -> AsyncIterator[dict[str, Any]]:
        self.calls.append(("build_image", (tag, base)))
        for line in self.image_build_lines:
            yield {"line": line}
            await asyncio.sleep(0)
        if self.image_build_gate is not None:
            await self.image_build_gate.wait()
        if self.image_build_error:
            yield {"state": "failed", "error": self.image_build_error, "image_id": ""}
            return
        for image in self.image_listing["images"]:
            image["present"] = image["present"] or image["default"]
        yield {"state": "done", "error": "", "image_id": "sha256:" + "ab" * 32}

    async def suggest_name(self, prompt: str) -> str:
        from runtime.names import suggest_name

        return suggest_name(prompt, {s.name for s in self.sessions.values()})

    async def branches(self, repo: str) -> list[str]:
        return list(self.branch_names)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        yield {"type": "snapshot", "sessions": list(self.sessions.values()), "uploads": self.uploads.recent()}
        while True:
            yield await self._queue.get()

    async def console(self, ref: str, cols: int, rows: int, *, active: bool = False) -> FakeConsole:
        """A console on the session; an `active` one (an interactive attach) sizes the terminal first."""
        self.calls.append(("console", (ref, cols, rows, active)))
        if self.console_gate is not None:
            await self.console_gate.wait()
        session = self._find(ref)
        if session.status != Status.RUNNING:
            raise Conflict(f"session {session.name} is {session.status.value}; restart it to attach")
        if active and cols and rows:
            self.terminal_sizes[session.id] = (cols, rows)
        # 0 means "keep yours" (a hidden or not yet laid out view): the engine keeps its own size.
        size = self.terminal_sizes.get(session.id, (cols or 80, rows or 24))
        console = FakeConsole(session.id, *size, self.screens.get(session.id, b""), echo=self.echo)
        self.consoles[session.id] = console
        return console


async def wait_until(pilot: Any, predicate: Any, what: str = "condition", tries: int = 300) -> None:
    """Let the app run until `predicate()` holds (polling, not a timing assertion)."""
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"gave up waiting for {what}")


async def confirm(pilot: Any) -> None:
    """Answer the confirmation a key asked for as a person does: tab from Cancel to the action, then Enter."""
    from clauderon_tui.screens.confirm import ConfirmScreen

    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#confirm"),
                     "the confirmation")
    await pilot.press("tab", "enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the confirmation to close")


async def run_from_palette(pilot: Any, app: Any, words: str) -> None:
    """Open the command palette, type `words` and run the first match, as a person would."""
    from textual.command import CommandPalette

    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    for letter in words:
        await pilot.press(letter if letter != " " else "space")
    await pilot.pause(0.3)
    await pilot.press("enter")


def fake_app(client: FakeEngineClient | None = None, **settings_overrides: Any) -> Any:
    """A `ClauderonApp` on a fake client with a frozen clock."""
    from clauderon_tui.app import ClauderonApp
    from runtime.settings import Settings

    settings = Settings.model_validate(settings_overrides) if settings_overrides else Settings()
    return ClauderonApp(client if client is not None else FakeEngineClient(sample_sessions()), settings,
                        clock=lambda: FROZEN_NOW)
