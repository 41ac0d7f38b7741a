"""What a backend can do, declared once per backend so no other code has to know backends by name."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class BackendCapabilities:
    """The questions the engine, the API and the app ask about a backend, answered by the backend."""

    sandboxed: bool
    """The agent runs in a sandbox of its own (container, pod): its home is `CONTAINER_HOME`, its work is
    under `/workspace`, and it reaches the proxy through the network its sandbox gets. False for host
    processes, which see the host's paths and everything the user can."""
    copies_workspace: bool
    """The sandbox cannot mount the worktree (a remote pod): the branch is copied in as a bundle, and the
    workbench asks inside the sandbox."""
    has_exec: bool
    """Commands can be run inside a sandbox without a terminal (`exec`)."""
    has_stats: bool
    """The backend samples its sandboxes' details and CPU and memory use (`sample_container`)."""
    pulls_images: bool = False
    """The engine pulls the sandbox's image itself (`pull_image`), so `refresh` can bring a newer one; a
    cluster's nodes pull for its pods, and a host process runs no image."""
    builds_images: bool = False
    """Agent images are built for it on this machine (`local_images`, `clauderon image build`): the create
    dialog's image picker and the header's "agent image missing" apply to its sessions."""
    network_modes: tuple[str, ...] = ("auto",)
    """The `network_mode` values the backend acts on; with only `auto` the sandbox's network is not chosen."""
    open_networks: frozenset[str] = field(default_factory=frozenset)
    """Network modes in which the sandbox has a way out of its own: there the proxy is a path, not a wall."""

    def public(self) -> dict[str, Any]:
        """The capabilities as JSON (lists for the mode sets), for the health payload."""
        data = asdict(self)
        data["network_modes"] = list(self.network_modes)
        data["open_networks"] = sorted(self.open_networks)
        return data
