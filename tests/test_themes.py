"""Themes: the built-in three with their 16-colour palettes, and user theme files (good and broken)."""

from __future__ import annotations

from pathlib import Path

import pytest

from themes import (
    BUILT_IN,
    DEFAULT_THEME,
    ThemeFileError,
    load_themes,
    load_user_themes,
    parse_theme_file,
    terminal_palette,
)

PALETTE = ", ".join(f'"#{i:02x}0000"' for i in range(16))


def test_three_built_in_themes_each_with_sixteen_colours() -> None:
    names = [theme.name for theme in load_themes()]
    assert names == ["clauderon-dark", "clauderon-light", "clauderon-contrast"] == list(BUILT_IN)
    assert DEFAULT_THEME == "clauderon-dark"
    darkness = {theme.name: theme.dark for theme in load_themes()}
    assert darkness == {"clauderon-dark": True, "clauderon-light": False, "clauderon-contrast": True}
    palettes = {name: terminal_palette(name) for name in names}
    assert all(len(p) == 16 for p in palettes.values())
    assert len(set(palettes.values())) == 3  # each theme brings its own
    assert terminal_palette("textual-dark") == palettes["clauderon-dark"]  # themes without one borrow the default


def test_a_user_theme_file(tmp_path: Path) -> None:
    path = tmp_path / "sea.toml"
    path.write_text(f'name = "sea"\ndark = false\nprimary = "#0077b6"\nsurface = "#caf0f8"\n'
                    f'terminal_palette = [{PALETTE}]\n')
    bundle = parse_theme_file(path)
    assert (bundle.theme.name, bundle.theme.dark, bundle.theme.primary, bundle.theme.surface) == \
        ("sea", False, "#0077b6", "#caf0f8")
    assert bundle.terminal_palette[15] == "#0f0000"
    path.write_text('name = "plain"\ndark = true\nprimary = "#ffffff"\n')  # no palette: the built-in dark one
    assert parse_theme_file(path).terminal_palette == terminal_palette("clauderon-dark")


@pytest.mark.parametrize("body, problem", [
    ('name = "x"\ndark = true\nprimary = "#fff"\n', "`primary` must be a colour"),
    ('name = "x"\ndark = "yes"\nprimary = "#ffffff"\n', "`dark` must be true or false"),
    ('dark = true\nprimary = "#ffffff"\n', "`name` must be"),
    ('name = "clauderon-dark"\ndark = true\nprimary = "#ffffff"\n', "is a built-in theme"),
    ('name = "x"\ndark = true\n', "`primary` is required"),
    ('name = "x"\ndark = true\nprimary = "#ffffff"\nbogus = 1\n', "unknown key(s) bogus"),
    ('name = "x"\ndark = true\nprimary = "#ffffff"\nterminal_palette = ["#000000"]\n', "16 colours"),
    ('name = "x"\ndark = true\nprimary = "#ffffff\n', "not valid TOML"),
])
def test_broken_theme_files_name_the_file_and_the_problem(tmp_path: Path, body: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ThemeFileError) as err:
        parse_theme_file(path)
    assert str(err.value).startswith(f"{path}: ") and problem in str(err.value)


def test_load_user_themes_keeps_the_good_and_reports_the_broken(tmp_path: Path, caplog) -> None:
    (tmp_path / "a-good.toml").write_text(f'name = "good"\ndark = true\nprimary = "#123456"\n'
                                          f'terminal_palette = [{PALETTE}]\n')
    (tmp_path / "b-bad.toml").write_text("not toml at all [")
    (tmp_path / "ignored.txt").write_text("name = 'nope'")
    themes, problems = load_user_themes(tmp_path)
    assert [t.name for t in themes] == ["good"]
    assert len(problems) == 1 and "b-bad.toml" in problems[0]
    assert "b-bad.toml" in caplog.text
    assert terminal_palette("good")[3] == "#030000"
    assert load_user_themes(tmp_path / "missing") == ([], [])
