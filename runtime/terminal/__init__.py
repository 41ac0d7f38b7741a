"""Terminal emulation (a pyte-based screen) and the engine-side terminal streams."""

from runtime.terminal.colors import color_ansi_index, color_to_rgb, color_to_rich
from runtime.terminal.emulator import TerminalEmulator
from runtime.terminal.stream import Chunk, ChunkKind, ScreenReplica, TerminalStream, Viewer, ViewerClosed

__all__ = [
    "Chunk",
    "ChunkKind",
    "ScreenReplica",
    "TerminalEmulator",
    "TerminalStream",
    "Viewer",
    "ViewerClosed",
    "color_ansi_index",
    "color_to_rgb",
    "color_to_rich",
]
