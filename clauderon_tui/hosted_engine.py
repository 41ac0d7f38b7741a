"""The engine a UI process hosts (the app or `serve` found no engine running and started one in-process),
and what becomes of it when that process leaves: handed over to a background engine, or stopped."""

from __future__ import annotations

from clauderon_tui.cli_format import quit_line
from runtime.engine.host import EngineHost
from runtime.settings import LoadedSettings


def finish_host(host: EngineHost, loaded: LoadedSettings) -> str | None:
    """Hand the in-process engine over, or stop it; the quit line says which, or None without sessions."""
    running = host.running_count()
    if loaded.settings.engine.on_exit == "handoff" and running:
        return quit_line(running, host.handoff())
    host.stop()
    if running:
        return (f"engine stopped ([engine] on_exit = \"stop\"): {running} running session{'s' * (running != 1)} "
                "have no proxy until `clauderon` starts again")
    return None
