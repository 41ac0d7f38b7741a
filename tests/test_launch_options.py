"""The env and mount rules, and that the API and the CLI refuse with the same line (the create dialog:
`tests/test_tui_dialogs.py`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from clauderon_tui import cli
from runtime.api.server import errors_as_json
from runtime.requests import (
    CreateRequest,
    LaunchOptionError,
    entry_lines,
    parse_env_entries,
    parse_env_entry,
    parse_mount,
    parse_mount_entries,
)

BAD_ENV = "1X=y"
BAD_ENV_LINE = "env: '1X' is not a variable name (letters, digits and _, not starting with a digit)"
BAD_MOUNT = "/data:/workspace/x"
BAD_MOUNT_LINE = "mounts: '/data:/workspace/x' would cover /workspace, which holds the session's worktree"


def test_env_rules() -> None:
    assert parse_env_entry("A=b=c") == ("A", "b=c")
    assert parse_env_entry("_x9=") == ("_x9", "")
    assert parse_env_entries(["A=1", "A=2", "B=x"]) == {"A": "2", "B": "x"}
    for bad, reason in (("novalue", "is not KEY=VALUE"), ("=1", "is not a variable name"),
                        ("1X=y", "is not a variable name"), ("A-B=1", "is not a variable name")):
        with pytest.raises(LaunchOptionError, match=reason) as caught:
            parse_env_entry(bad)
        assert caught.value.field == "env" and str(caught.value).startswith("env: ")


def test_mount_rules() -> None:
    m = parse_mount("/data:/data:ro")
    assert (m.host, m.path, m.readonly) == ("/data", "/data", True)
    assert not parse_mount("/a:/b:rw").readonly and not parse_mount("/a:/b").readonly
    assert parse_mount_entries(["/a:/b", "/c:/d:ro"]) == ["/a:/b", "/c:/d:ro"]
    for bad in ("data:/x", "/a:b", "/a:/workspace", "/a:/workspace/x", "/a", "/a:/b:xx", "/a:/b:ro:rw"):
        with pytest.raises(LaunchOptionError) as caught:
            parse_mount(bad)
        assert caught.value.field == "mounts"
    assert parse_mount("/a:/workspaces").path == "/workspaces"  # only /workspace itself and below are reserved


def test_entry_lines_drop_blanks_and_surrounding_space() -> None:
    assert entry_lines("  A=1 \n\n\tB=x=y\n") == ["A=1", "B=x=y"]


@pytest.mark.parametrize(("body", "line"), [({"env": {"1X": "y"}}, BAD_ENV_LINE),
                                           ({"mounts": [BAD_MOUNT]}, BAD_MOUNT_LINE)])
def test_api_answers_the_same_line(body: dict[str, object], line: str) -> None:
    """The engine's error middleware turns the request's validation failure into the shared line."""

    async def create(_request: web.Request) -> web.StreamResponse:
        CreateRequest.model_validate({"repo": "/r", **body})
        return web.json_response({})

    response = asyncio.run(errors_as_json(make_mocked_request("POST", "/api/v1/sessions"), create))
    assert isinstance(response, web.Response) and response.status == 400
    assert response.text is not None and json.loads(response.text) == {"error": line}


@pytest.mark.parametrize(("flags", "line"), [(["--env", BAD_ENV], BAD_ENV_LINE),
                                            (["--mount", BAD_MOUNT], BAD_MOUNT_LINE)])
def test_cli_refuses_with_the_same_line_before_asking_the_engine(
        flags: list[str], line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLAUDERON_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cli, "with_client", lambda *_: pytest.fail("the engine was asked"))
    assert cli.main(["create", "--repo", str(tmp_path), *flags]) == 1
    assert capsys.readouterr().err.strip() == f"clauderon: {line}"
