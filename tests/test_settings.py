"""Settings: defaults, files, environment overrides, sources, and clear errors."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest

from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.settings import Section, Settings, load_settings, save_setting


def documented_keys(cls: type) -> set[str]:
    """The fields of `cls` followed by a docstring in its source (read here, not by pydantic at import:
    that cost every command ~70 ms)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body  # type: ignore[attr-defined]
    return {node.target.id for node, after in zip(body, body[1:], strict=False)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and after.value.value}


def test_every_key_has_a_docstring() -> None:
    for section_name in Settings.model_fields:
        section = getattr(Settings(), section_name)
        owner, keys = (type(section), type(section).model_fields) if isinstance(section, Section) \
            else (Settings, [section_name])
        for key in keys:
            assert key in documented_keys(owner), f"{section_name}.{key} has no docstring"


def test_defaults_files_and_env_with_sources(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    home.config_file.write_text('[tui]\nprefix_key = "ctrl+a"\n[docker]\nnetwork = "host"\n')
    home.proxy_config_file.write_text('[routes]\n"api.anthropic.com" = "http://127.0.0.1:18555"\n')
    loaded = load_settings(home, environ={"CLAUDERON_DOCKER_NETWORK": "bridge",
                                          "CLAUDERON_ENGINE_MAX_CONCURRENT_OPERATIONS": "5"})
    s = loaded.settings
    assert s.tui.prefix_key == "ctrl+a"
    assert s.docker.network == "bridge"
    assert s.engine.max_concurrent_operations == 5
    assert s.routes == {"api.anthropic.com": "http://127.0.0.1:18555"}
    rows = {k: (v, src) for k, v, src in loaded.rows()}
    assert rows["tui.prefix_key"] == ("ctrl+a", "config.toml")
    assert rows["docker.network"] == ("bridge", "env CLAUDERON_DOCKER_NETWORK")
    assert rows["engine.on_exit"] == ("handoff", "default")
    assert rows["routes"][1] == "proxy.toml"


@pytest.mark.parametrize(
    "config, match",
    [
        ('[docker]\nnetwork = "wifi"\n', r"docker\.network \(config\.toml\)"),
        ("[nosuch]\nx = 1\n", "unknown section"),
        ("[tui\n", "not valid TOML"),
        ('[routes]\n"a" = "b"\n', "belongs in proxy.toml"),
        ("[docker]\nbogus = 1\n", "docker.bogus"),
    ],
)
def test_bad_config_is_one_clear_line(short_tmp: Path, config: str, match: str) -> None:
    home = Home.open(short_tmp / "h")
    home.config_file.write_text(config)
    with pytest.raises(ClauderonError, match=match) as err:
        load_settings(home, environ={})
    assert "\n" not in str(err.value)


def test_bad_env_value_names_the_variable(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    with pytest.raises(ClauderonError, match="CLAUDERON_ENGINE_ON_EXIT"):
        load_settings(home, environ={"CLAUDERON_ENGINE_ON_EXIT": "explode"})


def test_save_setting_keeps_other_keys(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    home.config_file.write_text('[tui]\nprefix_key = "ctrl+a"\n')
    save_setting(home, "tui", "theme", "clauderon-light")
    s = load_settings(home, environ={}).settings
    assert (s.tui.theme, s.tui.prefix_key) == ("clauderon-light", "ctrl+a")
