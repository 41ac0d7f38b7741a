"""The backends an engine runs sessions on, by name, and the one lookup from a session to its backend."""

from __future__ import annotations

from runtime.backends.base import Backend
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.models import Session
from runtime.settings import LoadedSettings


class BackendSet(dict[str, Backend]):
    """Backends by name (`docker`, `local`, `kubernetes`)."""

    def of(self, session: Session) -> Backend:
        """The backend the session runs on; a one-line error when this engine has no such backend."""
        try:
            return self[session.backend]
        except KeyError:
            raise ClauderonError(f"backend {session.backend!r} is not available in this engine") from None

    def image_builder(self) -> Backend | None:
        """The backend agent images are built for on this machine (`builds_images`), if this engine has one."""
        return next((backend for backend in self.values() if backend.capabilities.builds_images), None)


def default_backends(home: Home, loaded: LoadedSettings, ca_cert_pem: bytes) -> BackendSet:
    """Every backend this engine knows, configured from the settings (imported here: they are heavy)."""
    from runtime.backends.docker import DockerBackend
    from runtime.backends.kubernetes import KubernetesBackend
    from runtime.backends.local import LocalBackend

    backends: list[Backend] = [
        DockerBackend(base_url=loaded.settings.docker.base_url),
        LocalBackend(home),
        KubernetesBackend(loaded.settings.kubernetes, home.home_id, ca_cert_pem=ca_cert_pem),
    ]
    return BackendSet({backend.name: backend for backend in backends})
