"""Keep full garbage collections short without freezing anything that can die.

A full collection walks every tracked object; in the app that was ~100,000 objects even when idle (modules,
classes, functions, Textual's and mitmproxy's tables), ~90 ms a pass on these machines, several times a
second during a flood. Those objects live as long as the process, so they are frozen once, at boot, after
one collection (no garbage is frozen with them). Nothing is frozen again later: objects frozen while alive
are never collected, which is how freezing every half second leaked each discarded terminal screen (its
cycles) for good. Scrollback, the one big, growing structure, is kept untracked instead
(runtime/terminal/history.py).
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_frozen: set[str] = set()


def freeze_boot_objects(stage: str) -> None:
    """Freeze what exists now, once per `stage` ("app", "engine") and process: call it when a component
    has finished importing and building its permanent objects, before it creates anything per session."""
    with _lock:
        if stage in _frozen:
            return
        _frozen.add(stage)
    gc.collect()
    gc.freeze()


def release_discarded() -> None:
    """Collect now, after dropping something big (a deleted session's terminal and its scrollback).

    A stopped terminal stays in reference cycles (its cancelled pump task, the exception and the frames that
    hold the stream), so only a full collection frees it. Rows kept as runs allocate few tracked objects, so
    full collections come rarely on their own: without this, six create / flood / delete rounds kept six
    scrollbacks alive (tests/chaos/test_engine_memory.py). Deleting a session is rare; a collection with the
    boot objects frozen takes milliseconds."""
    gc.collect()
