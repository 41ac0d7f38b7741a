"""`clauderon config show`: every effective value with its source, secrets never printed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_harness import Cli


def test_config_show_names_sources_and_hides_secrets(short_tmp: Path) -> None:
    cli = Cli(short_tmp / "home", image="img:1")
    cli.env.pop("CLAUDERON_SESSION_AGENT", None)  # the tests' shell default (tests/conftest.py): the product's here
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
    assert (rows["session.agent"]["value"], rows["session.agent"]["source"]) == ("claude", "default")


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


def test_config_paths_names_each_file_of_the_home_and_whether_it_exists(short_tmp: Path) -> None:
    cli = Cli(short_tmp / "home", image="img:1")
    rows = {r["name"]: r for r in cli("config", "paths", "--json").json()}
    home = cli.home.resolve()
    assert rows["config.toml"] == {"name": "config.toml", "path": str(home / "config.toml"), "exists": True,
                                   "what": "settings"}
    assert rows["proxy.toml"]["exists"] is False and rows["secrets"]["exists"] is True
    assert rows["proxy CA"]["path"] == str(home / "proxy-ca" / "proxy-ca.pem")
    for name in ("store", "logs", "audit", "engine socket", "sealed sockets", "docker-config.toml"):
        assert Path(rows[name]["path"]).is_relative_to(home), name
    table = cli("config", "paths").out
    assert str(home / "secrets") in table and "EXISTS" in table


def test_config_env_lists_what_is_in_use_and_never_prints_a_secret(short_tmp: Path) -> None:
    cli = Cli(short_tmp / "home", image="img:1")
    secrets = {"GITHUB_TOKEN": "ghp_" + "s3cr3t" * 6, "PAGERDUTY_API_KEY": "pd-short-key",
               "OP_SERVICE_ACCOUNT_TOKEN": "ops_" + "x9" * 30, "CODEX_REFRESH_TOKEN": "rt_" + "q7" * 20,
               "CLAUDERON_SERVE_PASSWORD": "hunter2-very-secret", "CLAUDERON_SERVE_PASWORD": "misspelt-secret-value",
               "HTTPS_PROXY": "http://me:proxy-password-99@proxy.example:3128"}
    cli.env.update(secrets)
    cli.env.update({"OPENAI_API_KEY": "op://Production/OpenAI/api_key", "DOCKER_HOST": "unix:///tmp/d.sock",
                    "CLAUDERON_BIND_ADDR": "127.0.0.1"})
    cli.env.pop("TALOS_TOKEN", None)
    table, listing = cli("config", "env").out, cli("config", "env", "--json").out
    for value in [*secrets.values(), "proxy-password-99"]:
        assert value not in table and value not in listing
    rows = {r["name"]: r for r in json.loads(listing)}
    assert rows["GITHUB_TOKEN"] == {"name": "GITHUB_TOKEN", "set": True, "value": "ghp_…(40 chars)",
                                    "affects": "credential github_token"}
    assert rows["PAGERDUTY_API_KEY"]["value"] == "set (12 chars)"
    assert rows["CLAUDERON_SERVE_PASSWORD"]["affects"] == "setting serve.password"
    assert rows["CLAUDERON_SERVE_PASWORD"]["affects"].startswith("nothing")
    assert rows["HTTPS_PROXY"]["value"] == "http://me:…@proxy.example:3128"
    assert rows["OPENAI_API_KEY"]["value"] == "op://Production/OpenAI/api_key (1Password reference)"
    assert rows["DOCKER_HOST"]["value"] == "unix:///tmp/d.sock"
    assert rows["CLAUDERON_BIND_ADDR"]["affects"] == "setting serve.host (from the original clauderon)"
    assert rows["TALOS_TOKEN"] == {"name": "TALOS_TOKEN", "set": False, "value": "-",
                                   "affects": "credential talos_token"}


def test_the_originals_keys_warn_once_on_stderr_and_the_command_runs(short_tmp: Path) -> None:
    cli = Cli(short_tmp / "home", image="img:1")
    samples = Path(__file__).parent / "samples" / "original-config"
    (cli.home / "proxy.toml").write_text((samples / "proxy.toml").read_text())
    result = cli("config", "show", "--json")
    assert result.err.count("op_path") == 1 and result.err.startswith("clauderon: ignored: proxy.toml [onepassword]")
    rows = {r["key"]: r for r in result.json()}
    assert rows["onepassword.enabled"] == {"key": "onepassword.enabled", "value": True, "source": "proxy.toml"}
