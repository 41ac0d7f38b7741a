"""`EngineClient`: the one way every UI (terminal app, browser tab, CLI) talks to the engine.

`EngineClientProtocol` is the contract: what the UIs may call, and what the test fake
(tests/fake_engine.py) declares too; a test compares their methods and signatures. `EngineClient`
speaks the HTTP + websocket API over the home's unix socket, and its event stream reconnects by
itself, starting again from a fresh snapshot, so a UI survives the engine moving to another process.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib
import json
import logging
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from runtime.agents.transcripts import Message
from runtime.api.unix_http import unix_request
from runtime.errors import ClauderonError, EngineUnavailable
from runtime.home import Home
from runtime.models import Session

if TYPE_CHECKING:  # imported where a websocket opens: requests never pay for it (runtime/api/unix_http.py)
    import aiohttp

log = logging.getLogger(__name__)

BASE = "http://clauderon"
RECONNECT_DELAY_S = 0.3


class ConsoleProtocol(Protocol):
    """A live view of one session's terminal, as `EngineClientProtocol.console` returns it."""

    cols: int
    rows: int
    snapshot: bytes

    async def read(self) -> bytes:
        """Next output bytes; b"" when the console ended; `RESYNC` / `RESIZED` markers (see `ConsoleConnection`)."""
        ...

    async def write(self, data: bytes) -> None:
        """Type `data` into the terminal."""
        ...

    async def resize(self, cols: int, rows: int) -> None:
        """This viewer's size changed."""
        ...

    async def close(self) -> None:
        """Stop viewing (the session keeps running)."""
        ...


class EngineClientProtocol(Protocol):
    """Everything a UI may ask of the engine. Sessions are named by `ref` (id or name); errors are
    `ClauderonError`s carrying the engine's HTTP status, or `EngineUnavailable` when none answers."""

    async def connect(self) -> None:
        """Check the engine answers (raises `EngineUnavailable` otherwise)."""
        ...

    async def close(self) -> None:
        """Drop the connection and end the event stream."""
        ...

    async def health(self) -> dict[str, Any]:
        """The engine's, the proxy's and each backend's state."""
        ...

    async def list_sessions(self, include_archived: bool = True) -> list[Session]:
        """Every session, archived ones too unless told otherwise."""
        ...

    async def get_session(self, ref: str) -> Session:
        """One session."""
        ...

    async def screen(self, ref: str) -> str:
        """The session terminal's screen as text."""
        ...

    async def recent_repos(self) -> list[str]:
        """Repositories sessions were recently created from, newest first."""
        ...

    async def branches(self, repo: str) -> list[str]:
        """The local branches of `repo`."""
        ...

    async def suggest_name(self, prompt: str) -> str:
        """A free session name drawn from a prompt."""
        ...

    async def images(self) -> dict[str, Any]:
        """The images a docker session can use: `{"default", "docker", "images": [{"ref", "present", "default",
        "agent"}], "last_by_repo", "build"}`, the default first (`present` false when it is missing)."""
        ...

    def build_image(self, tag: str | None = None, base: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Build the agent image `tag` (default: the sessions' image) in the engine, or join the build of it
        already running: `{"line"}` per progress line from the first, then `{"state", "error", "image_id"}`."""
        ...

    async def credentials(self) -> list[dict[str, Any]]:
        """One row a credential: `{"name", "available", "source", "masked", "error"?}` (never a value)."""
        ...

    async def audit(self, ref: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest `limit` proxy audit records (oldest first), of one session when `ref` is given."""
        ...

    async def list_files(self, ref: str, path: str = "") -> dict[str, Any]:
        """One worktree directory: `{"path", "entries", "left_out"}`."""
        ...

    async def read_file(self, ref: str, path: str, offset: int = 0, limit: int = 64 * 1024) -> dict[str, Any]:
        """One page of a worktree file."""
        ...

    async def diff(self, ref: str) -> dict[str, Any]:
        """The session's changes against its base branch."""
        ...

    async def session_info(self, ref: str, stats: bool = True) -> dict[str, Any]:
        """`{"session", "container", "stats", "reason", "audit"}`."""
        ...

    async def create_session(self, request: dict[str, Any], wait: bool = False) -> Session:
        """Start creating a session (a `CreateRequest` as JSON); with `wait`, answer once it settled."""
        ...

    async def delete_session(self, ref: str, force: bool = False) -> dict[str, Any]:
        """Delete a session; `{"branch_kept", "reason"}`."""
        ...

    async def archive_session(self, ref: str) -> Session:
        """Stop and archive a session."""
        ...

    async def unarchive_session(self, ref: str) -> Session:
        """Bring an archived session back (stopped)."""
        ...

    async def resume_session(self, ref: str) -> Session:
        """Resume a paused session."""
        ...

    async def restart_session(self, ref: str) -> Session:
        """Restart a session's sandbox and agent."""
        ...

    async def rename_session(self, ref: str, title: str | None = None, description: str | None = None) -> Session:
        """Set the session's display title and description (None: unchanged; "": cleared)."""
        ...

    async def refresh_session(self, ref: str) -> dict[str, Any]:
        """Pull the session's image again and, if it changed, recreate the sandbox on it; `{"name", "image",
        "old_id", "new_id", "digest", "changed", "session"}`."""
        ...

    async def reconcile(self) -> list[dict[str, Any]]:
        """Run the start-up reconciliation now; what it did (`{"subject", "action", "detail"}` each)."""
        ...

    async def set_access_mode(self, ref: str, mode: str) -> Session:
        """Switch a session between read-only and read-write."""
        ...

    async def send(self, ref: str, text: str, enter: bool = False) -> None:
        """Type `text` into the terminal, then Enter when asked."""
        ...

    async def cycle_permission_mode(self, ref: str) -> Session:
        """Shift+tab to the agent (its next permission mode); the session with the mode it shows then."""
        ...

    async def chat(self, ref: str, text: str, images: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """A chat message (with images) to the session's agent; `{"ok", "images"}`."""
        ...

    async def upload_image(self, data: bytes, name: str = "") -> dict[str, Any]:
        """Keep image bytes for a later chat message; `{"path", "name", "size", "kind"}` (the path goes in
        `chat`'s `images`). The engine announces it as an `upload` event."""
        ...

    async def transcript(self, ref: str, before: str | None = None, limit: int = 200) -> dict[str, Any]:
        """One page of the agent's transcript (the newest, or the one before the cursor `before`)."""
        ...

    async def resize(self, ref: str, cols: int, rows: int) -> None:
        """Resize the session's terminal."""
        ...

    async def pull(self, ref: str) -> dict[str, Any]:
        """Bring a sandbox's commits back to the host repository: `{"branch", "sha"}`."""
        ...

    async def push(self, ref: str, force: bool = False) -> dict[str, Any]:
        """Push the session branch to GitHub."""
        ...

    async def open_pr(self, ref: str, draft: bool = False) -> dict[str, Any]:
        """Open (or find) the session branch's pull request."""
        ...

    async def pr_state(self, ref: str, refresh: bool = False) -> dict[str, Any]:
        """The pull request's state (404 `ClauderonError` when there is none)."""
        ...

    async def merge(self, ref: str, method: str = "merge", delete_branch: bool = False) -> dict[str, Any]:
        """Merge the session's pull request."""
        ...

    async def stop_engine(self) -> None:
        """Ask the engine to stop (409 when an app hosts it)."""
        ...

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """Engine events forever: a snapshot first (and after every reconnect), then changes."""
        ...

    async def console(self, ref: str, cols: int, rows: int, *, active: bool = False) -> ConsoleProtocol:
        """A live console; `active` makes this viewer's size the terminal's before the snapshot."""
        ...

    def transcript_live(self, ref: str, limit: int = 200) -> AsyncIterator[dict[str, Any]]:
        """The agent's transcript live: a page first, then appends."""
        ...


class ConsoleConnection(ConsoleProtocol):
    """A live view of one session's terminal: a snapshot to start from, then raw output bytes."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, cols: int, rows: int, snapshot: bytes) -> None:
        self._ws = ws
        self.cols, self.rows, self.snapshot = cols, rows, snapshot
        self._pending_snapshot: tuple[int, int] | None = None
        from aiohttp import WSMsgType  # loaded already: `ws` is aiohttp's

        self._binary, self._text = WSMsgType.BINARY, WSMsgType.TEXT

    async def read(self) -> bytes:
        """Next output bytes; b"" when the console ended. Two markers need action from the caller:
        `RESYNC` (rebuild the screen from `self.snapshot` at `self.cols` x `self.rows`: the viewer
        fell behind) and `RESIZED` (the terminal is now `self.cols` x `self.rows`)."""
        while True:
            msg = await self._ws.receive()
            if msg.type == self._binary:
                if self._pending_snapshot is not None:
                    self.cols, self.rows = self._pending_snapshot
                    self._pending_snapshot = None
                    self.snapshot = msg.data
                    return RESYNC
                output: bytes = msg.data
                return output
            if msg.type == self._text:
                control = json.loads(msg.data)
                kind = control.get("type")
                if kind == "snapshot":
                    self._pending_snapshot = (control["cols"], control["rows"])
                elif kind == "resize":
                    self.cols, self.rows = control["cols"], control["rows"]
                    return RESIZED
                elif kind == "ended":
                    return b""
                continue
            return b""

    async def write(self, data: bytes) -> None:
        if not self._ws.closed:
            await self._ws.send_bytes(data)

    async def resize(self, cols: int, rows: int) -> None:
        if not self._ws.closed:
            await self._ws.send_json({"type": "resize", "cols": cols, "rows": rows})

    async def close(self) -> None:
        await self._ws.close()


# Markers `ConsoleConnection.read()` returns instead of output bytes (see its docstring).
RESYNC = b"\x00clauderon-resync\x00"
RESIZED = b"\x00clauderon-resized\x00"


class EngineClient(EngineClientProtocol):
    """Async client of one home's engine, over its unix socket."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._http: aiohttp.ClientSession | None = None
        self._closed = False

    # ------------------------------------------------------------------ plumbing
    def _session(self) -> aiohttp.ClientSession:
        """The websockets' connection pool (requests go through `unix_request`)."""
        import aiohttp

        if self._http is None or self._http.closed:
            connector = aiohttp.UnixConnector(path=str(self.home.socket_path))
            self._http = aiohttp.ClientSession(connector=connector,
                                               timeout=aiohttp.ClientTimeout(total=None, connect=5))
        return self._http

    async def connect(self) -> None:
        """Check the engine answers (raises `EngineUnavailable` otherwise)."""
        await self.health()

    async def close(self) -> None:
        self._closed = True
        if self._http is not None:
            await self._http.close()

    async def _call(self, method: str, path: str, *, json_body: Any = None, params: dict[str, str] | None = None,
                    timeout: float | None = 60, data: bytes | None = None) -> Any:
        body, content_type = data, "application/octet-stream"
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode(), "application/json"
        try:
            status, raw = await unix_request(str(self.home.socket_path), method, f"/api/v1{path}", params=params,
                                             body=body, content_type=content_type, timeout=timeout)
        except TimeoutError as exc:
            raise EngineUnavailable(f"the engine did not answer {method} {path} within {timeout}s") from exc
        except (OSError, http.client.HTTPException, asyncio.IncompleteReadError) as exc:
            raise EngineUnavailable(
                f"no engine is answering at {self.home.socket_path} ({exc.__class__.__name__}); "
                "start one with `clauderon engine`"
            ) from exc
        try:
            answer = json.loads(raw) if raw.strip() else None
        except ValueError:
            answer = None
            if status < 400:
                raise ClauderonError(f"the engine's answer to {method} {path} is not JSON") from None
        if status >= 400:
            message = answer.get("error") if isinstance(answer, dict) else None
            raise ClauderonError(message or f"engine answered HTTP {status}", status=status)
        return answer

    @staticmethod
    def _ref(ref: str) -> str:
        return quote(ref, safe="")

    # ------------------------------------------------------------------ queries
    async def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("GET", "/health", timeout=15)
        return answer

    async def list_sessions(self, include_archived: bool = True) -> list[Session]:
        rows = await self._call("GET", "/sessions", params={"all": "1" if include_archived else "0"})
        return [Session.model_validate(r) for r in rows]

    async def get_session(self, ref: str) -> Session:
        return Session.model_validate(await self._call("GET", f"/sessions/{self._ref(ref)}"))

    async def screen(self, ref: str) -> str:
        text: str = (await self._call("GET", f"/sessions/{self._ref(ref)}/screen"))["text"]
        return text

    async def recent_repos(self) -> list[str]:
        answer: list[str] = await self._call("GET", "/repos/recent")
        return answer

    async def branches(self, repo: str) -> list[str]:
        answer: list[str] = await self._call("GET", "/repos/branches", params={"repo": repo})
        return answer

    async def suggest_name(self, prompt: str) -> str:
        name: str = (await self._call("GET", "/names/suggest", params={"prompt": prompt}))["name"]
        return name

    async def images(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("GET", "/images", timeout=30)
        return answer

    async def build_image(self, tag: str | None = None, base: str | None = None) -> AsyncIterator[dict[str, Any]]:
        build = await self._call("POST", "/images/build", json_body={"tag": tag, "base": base})
        url = f"{BASE}/ws/v1/images/build?tag={quote(build['tag'], safe='')}"
        await aiohttp_loaded()
        import aiohttp

        try:
            ws = await self._session().ws_connect(url, heartbeat=20)
        except (aiohttp.ClientError, OSError) as exc:
            raise EngineUnavailable(f"lost the engine while following the build of {build['tag']}") from exc
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                yield json.loads(msg.data)
        finally:
            await ws.close()

    async def credentials(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = await self._call("GET", "/credentials")
        return answer

    async def audit(self, ref: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params = {"limit": str(limit), **({"session": ref} if ref else {})}
        answer: list[dict[str, Any]] = await self._call("GET", "/audit", params=params)
        return answer

    # ------------------------------------------------------------------ workbench (files, diff, info)
    async def list_files(self, ref: str, path: str = "") -> dict[str, Any]:
        """One worktree directory: `{"path", "entries": [{name, path, kind, size, status, target?}], "left_out"}`."""
        answer: dict[str, Any] = await self._call("GET", f"/sessions/{self._ref(ref)}/files", params={"path": path})
        return answer

    async def read_file(self, ref: str, path: str, offset: int = 0, limit: int = 64 * 1024) -> dict[str, Any]:
        """One page of a worktree file: `{"path", "size", "offset", "next_offset", "binary", "text", "link"?}`."""
        params = {"path": path, "offset": str(offset), "limit": str(limit)}
        answer: dict[str, Any] = await self._call("GET", f"/sessions/{self._ref(ref)}/file", params=params)
        return answer

    async def diff(self, ref: str) -> dict[str, Any]:
        """The session's changes against its base branch: `{"base", "merge_base", "committed", "uncommitted"}`."""
        answer: dict[str, Any] = await self._call("GET", f"/sessions/{self._ref(ref)}/diff", timeout=None)
        return answer

    async def session_info(self, ref: str, stats: bool = True) -> dict[str, Any]:
        """`{"session", "container", "stats", "reason", "audit"}` (container facts only for docker sessions)."""
        params = {"stats": "1" if stats else "0"}
        answer: dict[str, Any] = await self._call("GET", f"/sessions/{self._ref(ref)}/info", params=params)
        return answer

    # ------------------------------------------------------------------ operations
    async def create_session(self, request: dict[str, Any], wait: bool = False) -> Session:
        params = {"wait": "1"} if wait else None
        answer = await self._call("POST", "/sessions", json_body=request, params=params, timeout=None)
        return Session.model_validate(answer)

    async def delete_session(self, ref: str, force: bool = False) -> dict[str, Any]:
        params = {"force": "1" if force else "0"}
        answer: dict[str, Any] = await self._call("DELETE", f"/sessions/{self._ref(ref)}", params=params, timeout=None)
        return answer

    async def archive_session(self, ref: str) -> Session:
        return Session.model_validate(await self._call("POST", f"/sessions/{self._ref(ref)}/archive", timeout=None))

    async def unarchive_session(self, ref: str) -> Session:
        return Session.model_validate(await self._call("POST", f"/sessions/{self._ref(ref)}/unarchive", timeout=None))

    async def resume_session(self, ref: str) -> Session:
        return Session.model_validate(await self._call("POST", f"/sessions/{self._ref(ref)}/resume"))

    async def restart_session(self, ref: str) -> Session:
        return Session.model_validate(await self._call("POST", f"/sessions/{self._ref(ref)}/restart", timeout=None))

    async def rename_session(self, ref: str, title: str | None = None, description: str | None = None) -> Session:
        body = {"title": title, "description": description}
        return Session.model_validate(await self._call("POST", f"/sessions/{self._ref(ref)}/rename", json_body=body))

    async def refresh_session(self, ref: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("POST", f"/sessions/{self._ref(ref)}/refresh", timeout=None)
        return answer

    async def reconcile(self) -> list[dict[str, Any]]:
        answer: dict[str, Any] = await self._call("POST", "/reconcile", timeout=None)
        return list(answer["actions"])

    async def set_access_mode(self, ref: str, mode: str) -> Session:
        answer = await self._call("POST", f"/sessions/{self._ref(ref)}/access-mode", json_body={"mode": mode})
        return Session.model_validate(answer)

    async def send(self, ref: str, text: str, enter: bool = False) -> None:
        await self._call("POST", f"/sessions/{self._ref(ref)}/send", json_body={"text": text, "enter": enter})

    async def cycle_permission_mode(self, ref: str) -> Session:
        return Session.model_validate(await self._call("POST", f"/sessions/{self._ref(ref)}/permission-mode/cycle"))

    async def chat(self, ref: str, text: str, images: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Type a chat message into the session's agent (a bracketed paste, then Enter), with images (paths
        on the engine's machine) copied into its agent home; returns `{"ok", "images": [agent paths]}`."""
        body = {"text": text, "images": list(images)}
        answer: dict[str, Any] = await self._call("POST", f"/sessions/{self._ref(ref)}/chat", json_body=body)
        return answer

    async def upload_image(self, data: bytes, name: str = "") -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("POST", "/uploads", data=data, params={"name": name})
        return answer

    async def transcript(self, ref: str, before: str | None = None, limit: int = 200) -> dict[str, Any]:
        """The newest page of the agent's transcript, or the page before the cursor `before`: `messages`
        (as `Message`s), `before` (cursor of the page before; None at the start), `malformed`, `file`."""
        params = {"limit": str(limit), **({"before": before} if before else {})}
        return _decode_page(await self._call("GET", f"/sessions/{self._ref(ref)}/transcript", params=params))

    async def resize(self, ref: str, cols: int, rows: int) -> None:
        await self._call("POST", f"/sessions/{self._ref(ref)}/resize", json_body={"cols": cols, "rows": rows})

    async def pull(self, ref: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("POST", f"/sessions/{self._ref(ref)}/pull", timeout=None)
        return answer

    async def push(self, ref: str, force: bool = False) -> dict[str, Any]:
        path = f"/sessions/{self._ref(ref)}/push"
        answer: dict[str, Any] = await self._call("POST", path, json_body={"force": force}, timeout=None)
        return answer

    async def open_pr(self, ref: str, draft: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("POST", f"/sessions/{self._ref(ref)}/pr", json_body={"draft": draft},
                                                  timeout=None)
        return answer

    async def pr_state(self, ref: str, refresh: bool = False) -> dict[str, Any]:
        params = {"refresh": "1" if refresh else "0"}
        answer: dict[str, Any] = await self._call("GET", f"/sessions/{self._ref(ref)}/pr", params=params)
        return answer

    async def merge(self, ref: str, method: str = "merge", delete_branch: bool = False) -> dict[str, Any]:
        body = {"method": method, "delete_branch": delete_branch}
        answer: dict[str, Any] = await self._call("POST", f"/sessions/{self._ref(ref)}/merge", json_body=body,
                                                  timeout=None)
        return answer

    async def stop_engine(self) -> None:
        await self._call("POST", "/engine/stop")

    # ------------------------------------------------------------------ streams
    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Engine events forever: a snapshot first (and after every reconnect), then changes."""
        await aiohttp_loaded()
        import aiohttp

        announced_down = False
        while not self._closed:
            try:
                async with self._session().ws_connect(f"{BASE}/ws/v1/events", heartbeat=20) as ws:
                    yield {"type": "connection", "state": "connected"}
                    announced_down = False
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        yield _decode_event(json.loads(msg.data))
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.debug("event stream dropped: %s", exc)
            if self._closed:
                return
            if not announced_down:
                yield {"type": "connection", "state": "reconnecting"}
                announced_down = True
            if self._http is not None:
                await self._http.close()  # the socket may now belong to a new engine
                self._http = None
            await asyncio.sleep(RECONNECT_DELAY_S)

    async def console(self, ref: str, cols: int, rows: int, *, active: bool = False) -> ConsoleConnection:
        """A live console. `active` makes this viewer's size the terminal's size before the snapshot
        (an interactive attach); otherwise the size applies once this viewer types or resizes."""
        await aiohttp_loaded()
        import aiohttp

        url = f"{BASE}/ws/v1/console/{self._ref(ref)}?cols={cols}&rows={rows}&active={int(active)}"
        try:
            ws = await self._session().ws_connect(url, heartbeat=20, max_msg_size=16 * 1024 * 1024)
        except aiohttp.WSServerHandshakeError as exc:
            raise ClauderonError(await _handshake_error(self, ref, exc), status=exc.status) from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise EngineUnavailable(f"no engine is answering at {self.home.socket_path}") from exc
        header = await ws.receive_json()
        snapshot = await ws.receive_bytes()
        return ConsoleConnection(ws, header["cols"], header["rows"], snapshot)

    async def transcript_live(self, ref: str, limit: int = 200) -> AsyncIterator[dict[str, Any]]:
        """The agent's transcript live: `{"type": "page", ...}` first (and again when the agent starts a
        new transcript), then `{"type": "append", "messages", "malformed"}`; ends when the engine goes."""
        await aiohttp_loaded()
        import aiohttp

        url = f"{BASE}/ws/v1/transcript/{self._ref(ref)}?limit={limit}"
        try:
            ws = await self._session().ws_connect(url, heartbeat=20, max_msg_size=64 * 1024 * 1024)
        except aiohttp.WSServerHandshakeError as exc:
            await self.transcript(ref, limit=1)  # raises the engine's own reason (unknown session, no transcript)
            raise ClauderonError(f"no live transcript for {ref} (HTTP {exc.status})", status=exc.status) from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise EngineUnavailable(f"no engine is answering at {self.home.socket_path}") from exc
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                yield _decode_page(json.loads(msg.data))
        finally:
            await ws.close()


async def aiohttp_loaded() -> None:
    """Import aiohttp on a thread the first time a websocket opens: its ~0.1-0.4 s import would otherwise
    hold the event loop, and with it the app's frame that shows the first session list."""
    if "aiohttp" not in sys.modules:
        await asyncio.to_thread(importlib.import_module, "aiohttp")


async def _handshake_error(client: EngineClient, ref: str, exc: aiohttp.WSServerHandshakeError) -> str:
    try:
        session = await client.get_session(ref)
    except ClauderonError as inner:
        return str(inner)
    return f"session {session.name} is {session.status}; its terminal is not live (`clauderon restart {session.name}`)"


def _decode_event(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") == "snapshot":
        event["sessions"] = [Session.model_validate(s) for s in event.get("sessions", [])]
    elif event.get("type") == "session":
        event["session"] = Session.model_validate(event["session"])
    return event


def _decode_page(page: dict[str, Any]) -> dict[str, Any]:
    if "messages" in page:
        page["messages"] = [Message(**m) for m in page["messages"]]
    return page
