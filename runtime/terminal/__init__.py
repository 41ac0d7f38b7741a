"""Terminal emulation (a pyte-based screen) and the engine-side terminal streams."""

from .colors import color_ansi_index, color_to_rgb, color_to_rich
from .emulator import TerminalEmulator
from .stream import Chunk, ChunkKind, ScreenReplica, TerminalStream, Viewer, ViewerClosed

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
