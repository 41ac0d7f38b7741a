"""Textual themes for clauderon, each with the 16-colour palette its terminal view uses for colours 0-15."""

from __future__ import annotations

from dataclasses import dataclass

from textual.theme import Theme

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
            "block-cursor-background": "#d97757",
            "block-cursor-foreground": "#16161a",
        },
    ),
    terminal_palette=(
        "#1e1e24", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d8d8d8",
        "#5c6370", "#ff7a85", "#b5e890", "#ffd68a", "#82c4ff", "#dc9cf0", "#7fd3dd", "#ffffff",
    ),
)

_BUNDLES: dict[str, ThemeBundle] = {bundle.theme.name: bundle for bundle in (_CLAUDERON_DARK,)}


def load_themes() -> list[Theme]:
    """Every clauderon theme, ready for `App.register_theme`."""
    return [bundle.theme for bundle in _BUNDLES.values()]


def terminal_palette(theme_name: str) -> tuple[str, ...]:
    """The 16-colour terminal palette for a theme; clauderon-dark's for themes that bring none."""
    return _BUNDLES.get(theme_name, _CLAUDERON_DARK).terminal_palette
