"""Textual themes for clauderon, each with the 16-colour palette its terminal view uses for colours 0-15.

Built in: `clauderon-dark` (the default), `clauderon-light` and `clauderon-contrast`. Users add their own
as `CLAUDERON_HOME/themes/*.toml`:

    name = "my-theme"            # required
    dark = true                  # required
    primary = "#d97757"          # required; secondary, accent, foreground, background, surface,
                                 # panel, success, warning, error are optional
    terminal_palette = ["#000000", ...]   # optional: exactly 16 colours (ANSI 0-15)
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.theme import Theme

log = logging.getLogger(__name__)

DEFAULT_THEME = "clauderon-dark"


@dataclass(frozen=True)
class ThemeBundle:
    """A Textual theme plus the ANSI palette (colours 0-15, as `#rrggbb`) its terminal widget renders with."""

    theme: Theme
    terminal_palette: tuple[str, ...]


_CLAUDERON_DARK = ThemeBundle(
    theme=Theme(
        name="clauderon-dark",
        primary="#d97757",
        secondary="#6a9fb5",
        accent="#e5c07b",
        foreground="#d8d8d8",
        background="#16161a",
        surface="#1e1e24",
        panel="#26262e",
        success="#98c379",
        warning="#e5c07b",
        error="#e06c75",
        dark=True,
        variables={
            "footer-key-foreground": "#d97757",
            # The selected row: dark enough that every status colour on it reads at 4.5:1 (WCAG AA).
            "block-cursor-background": "#3d2219",
            "block-cursor-foreground": "#ffffff",
            "block-cursor-blurred-background": "#33231e",
        },
    ),
    terminal_palette=(
        "#1e1e24", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d8d8d8",
        "#5c6370", "#ff7a85", "#b5e890", "#ffd68a", "#82c4ff", "#dc9cf0", "#7fd3dd", "#ffffff",
    ),
)

_CLAUDERON_LIGHT = ThemeBundle(
    theme=Theme(
        name="clauderon-light",
        primary="#9c4222",
        secondary="#28607c",
        accent="#7a5000",
        foreground="#1f1f24",
        background="#fafaf7",
        surface="#f0efe9",
        panel="#e2e0d8",
        success="#256b29",
        warning="#7a5000",
        error="#b71c1c",
        dark=False,
        variables={
            "footer-key-foreground": "#9c4222",
            "block-cursor-background": "#f6e0d5",
            "block-cursor-foreground": "#1f1f24",
            "block-cursor-blurred-background": "#eee2da",
        },
    ),
    terminal_palette=(
        "#1f1f24", "#c62828", "#2e7d32", "#8a5a00", "#1565c0", "#7b1fa2", "#00838f", "#e2e0d8",
        "#5c5c66", "#e53935", "#43a047", "#b07800", "#1e88e5", "#8e24aa", "#00acc1", "#ffffff",
    ),
)

_CLAUDERON_CONTRAST = ThemeBundle(
    theme=Theme(
        name="clauderon-contrast",
        primary="#ffb000",
        secondary="#00e5ff",
        accent="#ffff00",
        foreground="#ffffff",
        background="#000000",
        surface="#000000",
        panel="#1a1a1a",
        success="#00ff00",
        warning="#ffff00",
        error="#ff5050",
        dark=True,
        variables={
            "footer-key-foreground": "#ffb000",
            "block-cursor-background": "#001e3c",
            "block-cursor-foreground": "#ffffff",
            "block-cursor-blurred-background": "#2a2000",
            "text-muted": "#d0d0d0",
        },
    ),
    terminal_palette=(
        "#000000", "#ff3030", "#00ff00", "#ffff00", "#5c9cff", "#ff66ff", "#00ffff", "#e0e0e0",
        "#808080", "#ff6060", "#60ff60", "#ffff80", "#99c2ff", "#ff99ff", "#80ffff", "#ffffff",
    ),
)

BUILT_IN = ("clauderon-dark", "clauderon-light", "clauderon-contrast")
"""Names of the themes that ship with clauderon."""

_BUNDLES: dict[str, ThemeBundle] = {
    bundle.theme.name: bundle for bundle in (_CLAUDERON_DARK, _CLAUDERON_LIGHT, _CLAUDERON_CONTRAST)
}
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_COLOUR_KEYS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel",
                "success", "warning", "error")


class ThemeFileError(ValueError):
    """A user theme file that cannot be used; the message names the file and the problem."""


def load_themes() -> list[Theme]:
    """Every built-in clauderon theme, ready for `App.register_theme`."""
    return [_BUNDLES[name].theme for name in BUILT_IN]


def terminal_palette(theme_name: str) -> tuple[str, ...]:
    """The 16-colour terminal palette for a theme; clauderon-dark's for themes that bring none."""
    return _BUNDLES.get(theme_name, _CLAUDERON_DARK).terminal_palette


def parse_theme_file(path: Path) -> ThemeBundle:
    """One user theme from a TOML file (see the module docstring); raises `ThemeFileError`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML ({exc})") from None
    name = data.get("name")
    if not isinstance(name, str) or not re.match(r"^[a-z0-9][a-z0-9-]*$", name):
        raise ThemeFileError(f"{path}: `name` must be lower-case letters, digits and dashes")
    if name in BUILT_IN:
        raise ThemeFileError(f"{path}: `name` {name!r} is a built-in theme; pick another")
    if not isinstance(data.get("dark"), bool):
        raise ThemeFileError(f"{path}: `dark` must be true or false")
    unknown = set(data) - {"name", "dark", "terminal_palette", *_COLOUR_KEYS}
    if unknown:
        raise ThemeFileError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    if "primary" not in data:
        raise ThemeFileError(f"{path}: `primary` is required")
    colours = {}
    for key in _COLOUR_KEYS:
        if key in data:
            if not isinstance(data[key], str) or not _COLOUR.match(data[key]):
                raise ThemeFileError(f"{path}: `{key}` must be a colour like \"#1e1e24\"")
            colours[key] = data[key]
    palette = data.get("terminal_palette", list(_CLAUDERON_DARK.terminal_palette if data["dark"]
                                                else _CLAUDERON_LIGHT.terminal_palette))
    if not (isinstance(palette, list) and len(palette) == 16
            and all(isinstance(c, str) and _COLOUR.match(c) for c in palette)):
        raise ThemeFileError(f"{path}: `terminal_palette` must be a list of 16 colours like \"#1e1e24\"")
    return ThemeBundle(Theme(name=name, dark=data["dark"], **colours), tuple(palette))


def load_user_themes(directory: Path) -> tuple[list[Theme], list[str]]:
    """(themes, problems) from `directory/*.toml`; each usable theme's palette becomes known to
    `terminal_palette`. A broken file is a problem line naming it, never an exception."""
    themes: list[Theme] = []
    problems: list[str] = []
    if not directory.is_dir():
        return themes, problems
    for path in sorted(directory.glob("*.toml")):
        try:
            bundle = parse_theme_file(path)
        except ThemeFileError as exc:
            log.warning("theme not loaded: %s", exc)
            problems.append(str(exc))
            continue
        _BUNDLES[bundle.theme.name] = bundle
        themes.append(bundle.theme)
    return themes, problems
