"""The backends clauderon knows: the one place that maps a backend's name to what it can do.

Code holding a backend object asks `backend.capabilities`; code holding only a session record (or a name)
asks `capabilities_of(session.backend)`. This module imports no backend module, so asking costs no import
of an SDK and creates no import cycle (the backend modules import `runtime.settings`, which takes its
`BackendName` from here). Each backend class declares `capabilities = capabilities_of(name)`; a test holds
the classes and this table together (tests/test_backend_capabilities.py).

Adding a backend: its module with a `Backend` subclass, its line here, and its construction in
`runtime.engine.backend_set.default_backends`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from runtime.backends.capabilities import BackendCapabilities
from runtime.choices import one_of
from runtime.errors import ClauderonError

_CAPABILITIES: dict[str, BackendCapabilities] = {
    "docker": BackendCapabilities(
        sandboxed=True, copies_workspace=False, has_exec=True, has_stats=True, pulls_images=True, builds_images=True,
        network_modes=("auto", "sealed", "host", "bridge"), open_networks=frozenset({"host", "bridge"}),
    ),
    "local": BackendCapabilities(sandboxed=False, copies_workspace=False, has_exec=False, has_stats=False),
    # A pod's network is the cluster's, closed by a NetworkPolicy to everything but the proxy.
    "kubernetes": BackendCapabilities(sandboxed=True, copies_workspace=True, has_exec=True, has_stats=False),
}

DEFAULT_BACKEND = "docker"


def backend_names() -> list[str]:
    """Every backend's name, the default (`docker`) first."""
    return list(_CAPABILITIES)


def is_backend(name: str) -> bool:
    """Whether `name` is a backend this version knows (a record may name one from another version)."""
    return name in _CAPABILITIES


def capabilities_of(name: str) -> BackendCapabilities:
    """What the backend called `name` can do; a `ClauderonError` naming the choices for an unknown name."""
    capabilities = _CAPABILITIES.get(name)
    if capabilities is None:
        raise ClauderonError(f"unknown backend {name!r}; choose one of {', '.join(_CAPABILITIES)}")
    return capabilities


BackendName = Annotated[str, AfterValidator(one_of(_CAPABILITIES))]
"""A pydantic field type: the name of a registered backend."""

__all__ = ["DEFAULT_BACKEND", "BackendCapabilities", "BackendName", "backend_names", "capabilities_of", "is_backend"]
