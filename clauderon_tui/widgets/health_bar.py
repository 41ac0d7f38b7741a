"""The top bar: engine and proxy health, backends, `clauderon doctor`'s warnings until they are fixed, and the
connection state while the client reconnects."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static


class HealthBar(Static):
    """One line: app name, engine, doctor warnings (the engine drops each once fixed), disk, proxy, backends;
    "reconnecting" while the engine is out of reach."""

    DEFAULT_CSS = """
    HealthBar {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $foreground;
    }
    HealthBar.-reconnecting { background: $warning 40%; }
    """

    health: reactive[dict[str, Any] | None] = reactive(None)
    """The last `health()` answer (or health event)."""
    connection: reactive[str] = reactive("connecting")
    """"connecting", "connected" or "reconnecting"."""

    def watch_connection(self, connection: str) -> None:
        self.set_class(connection == "reconnecting", "-reconnecting")

    def render(self) -> Content:
        parts = [Content.from_markup("[b $primary]clauderon[/]")]
        if self.connection != "connected":
            parts.append(Content.from_markup("[b $warning]⟳ $state…[/]", state=self.connection))
        health = self.health or {}
        engine = health.get("engine")
        if engine:
            parts.append(Content.from_markup(
                "engine [$success]●[/] v$version pid $pid", version=str(engine.get("version", "?")),
                pid=str(engine.get("pid", "?")),
            ))
        for warning in health.get("warnings") or ():  # first: a narrow header still shows them
            colour = "$error" if warning.get("status") == "fail" else "$warning"
            parts.append(Content.from_markup(f"[{colour}]⚠ $name: $detail[/]", name=str(warning.get("name", "")),
                                             detail=str(warning.get("detail", ""))))
        disk = health.get("disk") or {}
        if disk and not disk.get("ok"):  # said only when it matters: the bar stays short otherwise
            parts.append(Content.from_markup("disk [$error]✖ $short[/]", short=str(disk.get("short", "low"))))
        proxy = health.get("proxy")
        if proxy:
            if proxy.get("ok"):
                parts.append(Content.from_markup("proxy [$success]●[/] :$port", port=str(proxy.get("port"))))
            else:
                parts.append(Content.from_markup("proxy [$error]✖ $detail[/]", detail=str(proxy.get("detail", "down"))))
        backends = health.get("backends") or {}
        if backends:
            marks = [
                Content.from_markup("$name [$success]✓[/]" if info.get("available") else "$name [$text-disabled]✗[/]",
                                    name=name)
                for name, info in backends.items()
            ]
            parts.append(Content(" ").join(marks))
        return Content.from_markup("[$text-muted] · [/]").join(parts)
