"""Every built-in theme passes WCAG AA (4.5:1) on every text/background pair the app draws.

The pairs come from real renders: the main screen (wide with the list focused and not, and narrow with the
session bar), the help screen
and the create dialog are exported as SVG (`App.export_screenshot`) in each theme; each `<text>` takes its fill
from its class in the SVG's `<style>` and sits on the `<rect>` drawn at the same row and column.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest

from clauderon_tui.screens.create import CreateSessionScreen
from clauderon_tui.screens.help import HelpScreen
from tests.fake_engine import fake_app, wait_until
from themes import BUILT_IN

pytestmark = pytest.mark.timeout(300)

AA = 4.5
SCREENS = ("main", "blurred", "narrow", "help", "create")
_CLASS_FILL = re.compile(r"\.([\w-]+) \{ fill: (#[0-9a-fA-F]{6})")
_RECT = re.compile(r'<rect fill="(#[0-9a-fA-F]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+" '
                   r'shape-rendering="crispEdges"')
_TEXT = re.compile(r'<text class="([\w-]+)" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
                   r'clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)</text>')
_ROW = 24.4  # Rich's SVG line height
_GRAPHICS = re.compile(r"[\s\u2500-\u259f\u2800-\u28ff]")  # box drawing, blocks, braille: lines, not words


@dataclass(frozen=True)
class Pair:
    text: str
    fill: str
    background: str
    ratio: float


def luminance(colour: str) -> float:
    """WCAG relative luminance of `#rrggbb`."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_pairs(svg: str) -> list[Pair]:
    """Every run of visible text in an exported screen, with its fill, its background and their contrast."""
    fills = dict(_CLASS_FILL.findall(svg))
    rects: dict[int, list[tuple[float, float, str]]] = {}
    for fill, x, y, width in _RECT.findall(svg):
        rects.setdefault(round((float(y) - 1.5) / _ROW), []).append((float(x), float(x) + float(width), fill))
    pairs = []
    for cls, x, length, line, raw in _TEXT.findall(svg):
        text = html.unescape(raw).replace("\xa0", " ")
        if not _GRAPHICS.sub("", text) or cls not in fills:
            continue
        middle = float(x) + float(length) / 2
        under = [fill for left, right, fill in rects.get(int(line), []) if left <= middle < right]
        assert under, f"no background under {text!r} on row {line}"
        if fills[cls] == under[-1]:
            continue  # drawn in its own background: hidden on purpose (an unchecked box's mark)
        pairs.append(Pair(text.strip(), fills[cls], under[-1], contrast(fills[cls], under[-1])))
    return pairs


async def render(theme: str, screen: str) -> str:
    app = fake_app(tui={"theme": theme})
    size = (80, 24) if screen == "narrow" else (120, 36)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.sessions and app.selected_id, "the sessions")
        await pilot.pause()
        if screen == "blurred":
            app.set_focus(None)  # the selected row as it looks while the terminal or a tab has the keys
        elif screen == "help":
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        elif screen == "create":
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, CreateSessionScreen)
                             and app.screen.query_one("#repo").value, "the create dialog")
        await pilot.pause()
        return app.export_screenshot()


def test_contrast_reads_the_svg() -> None:
    """The checker itself: known pairs, and a made-up SVG with one good and one bad run."""
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0 and contrast("#777777", "#777777") == 1.0
    svg = ('.terminal-r1 { fill: #ffffff }\n.terminal-r2 { fill: #222222 }\n'
           '<rect fill="#000000" x="0" y="1.5" width="24.4" height="24.65" shape-rendering="crispEdges"/>'
           '<rect fill="#000000" x="24.4" y="1.5" width="24.4" height="24.65" shape-rendering="crispEdges"/>'
           '<text class="terminal-r1" x="0" y="20" textLength="24.4" clip-path="url(#terminal-line-0)">ok</text>'
           '<text class="terminal-r2" x="24.4" y="20" textLength="24.4" clip-path="url(#terminal-line-0)">no</text>')
    pairs = text_pairs(svg)
    assert [(p.text, p.ratio >= AA) for p in pairs] == [("ok", True), ("no", False)]


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("theme", BUILT_IN)
async def test_every_text_meets_wcag_aa(theme: str, screen: str) -> None:
    pairs = text_pairs(await render(theme, screen))
    assert len(pairs) > 20  # the screen really rendered
    failing = sorted({(p.ratio, p.fill, p.background, p.text[:40]) for p in pairs if p.ratio < AA})
    assert not failing, "\n".join(f"{ratio:.2f}:1  {fill} on {bg}  {text!r}" for ratio, fill, bg, text in failing)
