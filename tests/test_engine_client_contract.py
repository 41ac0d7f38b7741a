"""The engine client contract: the protocol, the real client and the test fake must not drift apart.

mypy checks the types (both classes declare the protocol); this test checks what mypy does not see at
the call sites the UIs never exercise: the same public methods, parameter names, kinds and defaults,
and the same kind of callable (a coroutine, or an async generator for the streams).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.api.client import RESIZED, ConsoleConnection, ConsoleProtocol, EngineClient, EngineClientProtocol
from runtime.errors import ClauderonError, Conflict
from runtime.models import Status
from tests.fake_engine import FakeConsole, FakeEngineClient, make_session, sample_sessions


def contract_methods(protocol: type) -> list[str]:
    """The methods a protocol declares (its own, not `typing.Protocol`'s machinery)."""
    return sorted(name for name, value in vars(protocol).items() if not name.startswith("_") and callable(value))


def public_methods(cls: type) -> set[str]:
    return {name for name, value in inspect.getmembers(cls, callable) if not name.startswith("_")}


def shape(method: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Parameter names, kinds and defaults (annotations are strings here and name each side's own types)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


def flavour(method: Callable[..., Any]) -> str:
    if inspect.isasyncgenfunction(method):
        return "async generator"
    return "coroutine" if inspect.iscoroutinefunction(method) else "plain"


CONTRACTS = [
    (EngineClientProtocol, EngineClient, FakeEngineClient),
    (ConsoleProtocol, ConsoleConnection, FakeConsole),
]


@pytest.mark.parametrize(("protocol", "real", "fake"), CONTRACTS, ids=["client", "console"])
def test_real_and_fake_implement_exactly_the_protocol(protocol: type, real: type, fake: type) -> None:
    declared = contract_methods(protocol)
    assert declared, "the protocol declares no methods"
    assert protocol in real.__mro__ and protocol in fake.__mro__, "both must declare the protocol"
    # The real client is the contract, nothing more: a method added to it belongs in the protocol too.
    assert public_methods(real) == set(declared)
    for name in declared:
        for cls in (real, fake):
            assert name in vars(cls), f"{cls.__name__} does not implement {name} (it would inherit the protocol's stub)"
        expected = shape(getattr(protocol, name))
        assert shape(getattr(real, name)) == expected, f"{real.__name__}.{name} drifted from the protocol"
        assert shape(getattr(fake, name)) == expected, f"{fake.__name__}.{name} drifted from the protocol"
        assert flavour(getattr(fake, name)) == flavour(getattr(real, name)), f"{name}: coroutine vs generator"


def test_the_drift_check_sees_a_changed_default_a_renamed_and_a_keyword_parameter() -> None:
    async def console(self: Any, ref: str, cols: int, rows: int, *, active: bool = False) -> None: ...
    async def no_keyword(self: Any, ref: str, cols: int, rows: int, active: bool = False) -> None: ...
    async def renamed(self: Any, ref: str, width: int, rows: int, *, active: bool = False) -> None: ...
    async def other_default(self: Any, ref: str, cols: int, rows: int, *, active: bool = True) -> None: ...

    assert shape(console) == shape(EngineClientProtocol.console)
    for drifted in (no_keyword, renamed, other_default):
        assert shape(drifted) != shape(EngineClientProtocol.console)


# -- the methods the fake lacked until the contract was written down: they behave like the engine's --------


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_fake_create_with_wait_answers_once_the_session_settled() -> None:
    async def go() -> tuple[Status, Status, Status]:
        client = FakeEngineClient([])
        queued = await client.create_session({"repo": "/home/dev/src/webapp", "name": "later", "agent": "shell"})
        settled = await client.create_session({"repo": "/home/dev/src/webapp", "name": "now", "agent": "shell"},
                                              wait=True)
        client.fail_next_create = "no image"
        failed = await client.create_session({"repo": "/home/dev/src/webapp", "name": "bad", "agent": "shell"},
                                             wait=True)
        return queued.status, settled.status, failed.status

    assert run(go()) == (Status.CREATING, Status.RUNNING, Status.FAILED)


def test_fake_console_records_active_and_an_active_viewer_sizes_the_terminal() -> None:
    async def go() -> FakeEngineClient:
        client = FakeEngineClient(sample_sessions())
        first = await client.console("fix-login-bug", 120, 40, active=True)
        assert (first.cols, first.rows) == (120, 40)
        passive = await client.console("fix-login-bug", 80, 24)
        assert (passive.cols, passive.rows) == (120, 40)  # the terminal keeps the active viewer's size
        return client

    client = run(go())
    assert [c for c in client.calls if c[0] == "console"] == [
        ("console", ("fix-login-bug", 120, 40, True)), ("console", ("fix-login-bug", 80, 24, False))]


def test_fake_resize_sizes_the_terminal_and_tells_the_open_console() -> None:
    async def go() -> tuple[FakeConsole, bytes]:
        client = FakeEngineClient(sample_sessions())
        console = await client.console("fix-login-bug", 80, 24)
        await client.resize("fix-login-bug", 100, 30)
        with pytest.raises(ClauderonError, match="cols must be between"):
            await client.resize("fix-login-bug", 1, 30)
        with pytest.raises(Conflict, match="not live"):
            await client.resize("refactor-db", 100, 30)
        assert client.terminal_sizes[console.session_id] == (100, 30)
        return console, await console.read()

    console, marker = run(go())
    assert marker == RESIZED and (console.cols, console.rows) == (100, 30)


def test_fake_pull_refuses_where_the_engine_does() -> None:
    async def go() -> dict[str, Any]:
        client = FakeEngineClient(sample_sessions())
        with pytest.raises(Conflict, match="host worktree"):
            await client.pull("scratch-shell")  # local backend
        with pytest.raises(Conflict, match="restart it"):
            await client.pull("refactor-db")  # stopped
        return await client.pull("fix-login-bug")

    assert run(go()) == {"branch": "clauderon/fix-login-bug", "sha": "89abcdef0123456789abcdef0123456789abcdef"}


def test_fake_credentials_and_audit_answer_like_the_engine() -> None:
    sessions = [make_session("one"), make_session("two")]
    client = FakeEngineClient(sessions)
    client.audit_records = [{"session": sessions[i % 2].id, "host": f"h{i}", "status": 200} for i in range(6)]

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        return await client.credentials(), await client.audit(), await client.audit("two", limit=2)

    rows, everything, newest_of_two = run(go())
    assert {r["name"] for r in rows} == {"ANTHROPIC_API_KEY", "GITHUB_TOKEN"}
    assert all("value" not in r for r in rows)
    assert [r["host"] for r in everything] == [f"h{i}" for i in range(6)]
    assert [r["host"] for r in newest_of_two] == ["h3", "h5"]
    with pytest.raises(ClauderonError, match="no session"):
        run(client.audit("nobody"))


def test_fake_stop_engine_is_refused_when_an_app_hosts_the_engine() -> None:
    client = FakeEngineClient([])
    client.engine_hosted_by_app = True
    with pytest.raises(ClauderonError, match="hosted by an app") as refused:
        run(client.stop_engine())
    assert refused.value.status == 409 and not client.stop_requested
    client.engine_hosted_by_app = False
    run(client.stop_engine())
    assert client.stop_requested


def test_the_real_client_is_constructed_as_before(tmp_path: Path) -> None:
    from runtime.home import Home

    client = EngineClient(Home.open(tmp_path / "home"))
    assert client.home.root == tmp_path / "home"
