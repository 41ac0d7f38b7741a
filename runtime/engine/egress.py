"""The engine's side of the credential-injecting proxy: start it, register sessions, and give each
sandbox its proxy environment and CA. The `proxy` package is used only through its exports."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy import (
    CA_MOUNT_PATH,
    ProxyError,
    ProxyService,
    SessionProxyConfig,
    container_env,
    default_credential_names,
    new_proxy_password,
)
from runtime.agents.home import CONTAINER_HOME
from runtime.agents.registry import agent_named, all_agents
from runtime.backends.registry import capabilities_of
from runtime.engine.sealed import SealedSockets
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.models import Mount, Session
from runtime.settings import Settings

log = logging.getLogger(__name__)

# What sandboxes call the host: host networking shares loopback; bridge containers use the gateway alias.
HOST_NETWORK_PROXY_HOST = "127.0.0.1"
BRIDGE_PROXY_HOST = "host.docker.internal"


class Egress:
    """Owns the `ProxyService` for one engine."""

    def __init__(self, home: Home, settings: Settings, listen_hosts: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.settings = settings
        self.service = ProxyService(home, settings, listen_hosts=listen_hosts)
        self.error: str | None = None
        # Sealed sessions reach the proxy on its private port, which no other process can hold.
        self.sealed = SealedSockets(home, lambda: self.service.private_port, lambda: self.service.loop)

    def add_listen_host(self, host: str) -> None:
        """Also listen on `host` (before `start`)."""
        if host not in self.service.listen_hosts:
            self.service.listen_hosts = (*self.service.listen_hosts, host)

    def start(self) -> None:
        try:
            self.service.start()
        except ProxyError as exc:
            self.error = str(exc)
            log.error("proxy did not start: %s", exc)

    @property
    def running(self) -> bool:
        return self.error is None

    @property
    def port(self) -> int:
        return self.service.port

    def stop(self) -> None:
        if self.running:
            self.service.stop()

    def health(self) -> dict[str, Any]:
        if not self.running:
            return {"ok": False, "port": None, "detail": f"not running: {self.error}"}
        audit = self.service.audit.problem()
        if audit:  # the proxy refuses every request meanwhile (fail closed): the header and doctor say why
            return {"ok": False, "port": self.port, "detail": f"audit failing, requests refused: {audit}"}
        if self.service.shared_error:  # sealed sessions are served; open-network ones are not
            return {"ok": False, "port": self.port, "detail": self.service.shared_error}
        return {"ok": True, "port": self.port, "detail": f"listening on port {self.port}"}

    def require_shared_port(self) -> None:
        """Open-network sandboxes dial the shared port: refuse to launch one while another process holds it."""
        if self.service.shared_error:
            raise ClauderonError(f"cannot start an open-network session: {self.service.shared_error}; "
                                 "sealed sessions (the default) are not affected")

    def require_running(self) -> None:
        if not self.running:
            raise ClauderonError(f"the proxy is not running ({self.error}); fix that first (`clauderon doctor`)")

    # ------------------------------------------------------------------ sessions
    def credential_names(self, agent: str) -> list[str]:
        names = default_credential_names(agent_named(agent).traffic, self.service.credentials,
                                         self.settings.proxy.credential_set)
        return sorted(names)

    def credential_problem(self, agent: str) -> str | None:
        """Why a session of `agent` could not reach its model with the credentials this host has, or None."""
        store = self.service.credentials
        available = [c.name for c in agent_named(agent).traffic.model_credentials if store.has(c.name)]
        return agent_named(agent).credential_problem(available, store.secrets_dir)

    def credential_problems(self) -> dict[str, str | None]:
        """`credential_problem` of every agent (the health report, for the create dialog's early word)."""
        return {agent.name: self.credential_problem(agent.name) for agent in all_agents()}

    def require_credentials(self, agent: str) -> None:
        """Refuse a create whose agent has no credential for its model: one line naming what to set. A
        credential provided since the engine started (a `secrets/` file, a sign-in) is looked for first."""
        if self.credential_problem(agent) is None:
            return
        self.service.credentials.load_missing()
        problem = self.credential_problem(agent)
        if problem is not None:
            raise ClauderonError(f"{problem}; --no-credential-check skips this")

    def _config(self, session: Session) -> SessionProxyConfig:
        return SessionProxyConfig(
            session_id=session.id, name=session.name, password_hash=session.proxy_password_hash or "",
            agent=session.agent, credential_names=set(session.credential_names), access_mode=session.access_mode,
            egress=session.egress, allowlist=list(self.settings.proxy.allowlist),
            traffic=agent_named(session.agent).traffic,
        )

    def launch_env(self, session: Session, *, sandboxed: bool, proxy_host: str,
                   proxy_port: int | None = None) -> tuple[dict[str, str], list[Mount]]:
        """A fresh proxy password for this launch (only its hash is kept), registered with the proxy;
        returns the sandbox's environment and the CA mount."""
        self.require_running()
        password, password_hash = new_proxy_password()
        session.proxy_password_hash = password_hash
        if not session.credential_names:
            session.credential_names = self.credential_names(session.agent)
        self.service.register_session(self._config(session))
        traffic = agent_named(session.agent).traffic
        env = container_env(session.id, password, proxy_host, proxy_port or self.port, traffic,
                            self.service.credentials, set(session.credential_names))
        if not sandboxed:  # a local agent reads the CA from the host path; nothing is mounted
            for var, value in list(env.items()):
                if value == CA_MOUNT_PATH:
                    env[var] = str(self.service.ca_cert_path)
            return env, []
        return env, [Mount(host=str(self.service.ca_cert_path), path=CA_MOUNT_PATH, readonly=True)]

    def write_agent_files(self, session: Session, env: dict[str, str], agent_home: Path, workspace: str) -> None:
        """The agent's config with the same placeholder choice as its environment (OAuth or API key)."""
        agent_named(session.agent).write_setup(agent_home, session, env=env, credentials=self.service.credentials,
                                               workspace=workspace)
        self.write_agent_hooks(session, agent_home)

    @staticmethod
    def write_agent_hooks(session: Session, agent_home: Path) -> None:
        """The status hooks (`Agent.install_hooks`), after the config they merge into; a local agent
        sees its home at the host path, a sandboxed one at CONTAINER_HOME."""
        home_in_agent = CONTAINER_HOME if capabilities_of(session.backend).sandboxed else str(agent_home)
        agent_named(session.agent).install_hooks(agent_home, home_in_agent=home_in_agent)

    def restore(self, session: Session) -> None:
        """After an engine restart: the running sandbox keeps its password; the proxy learns its hash again."""
        if self.running and session.proxy_password_hash:
            self.service.register_session(self._config(session))

    def forget(self, session: Session) -> None:
        if self.running:
            self.service.unregister_session(session.id)

    def set_access_mode(self, session_id: str, mode: str) -> None:
        """Apply a mode to a live session's next request; a session the proxy does not serve now (stopped)
        gets the stored mode when it is launched again."""
        if self.running and self.service.registry.get(session_id) is not None:
            self.service.set_access_mode(session_id, mode)

    def refuse_real_credentials(self, env: dict[str, str], fields: dict[str, str | None] | None = None) -> None:
        """No real credential may reach a sandbox, a label or the store: `--env` values and the other
        create fields (`fields`: prompt, name, image ... as the user typed them) are checked before
        anything is stored."""
        for key, value in env.items():
            if value and self.service.is_real_credential_value(value):
                raise ClauderonError(f"--env {key} holds a real credential; clauderon injects credentials "
                                     "through its proxy instead")
        for field, typed in (fields or {}).items():
            if typed and self.service.is_real_credential_value(typed):
                raise ClauderonError(f"the session's {field} holds a real credential; remove it (the agent never needs "
                                     "one: clauderon injects credentials through its proxy)")

    def include_check(self, allowed: list[str]) -> Callable[[str, Path], None]:
        """A `.worktreeinclude` check refusing a file that holds a real credential value (an `.env.local`
        with the user's key would hand it to the agent), unless its path is in `allowed`."""
        def check(rel: str, path: Path) -> None:
            if rel in allowed:
                return
            if self.service.is_real_credential_value(path.read_bytes().decode("utf-8", "replace")):
                raise ClauderonError(f".worktreeinclude names {rel}, which holds a real credential value the agent "
                                     "would read; remove it from .worktreeinclude, or list it under [worktree] "
                                     "allow_secret_files if the agent may have it")
        return check

    @property
    def ca_cert_path(self) -> Path:
        return self.service.ca_cert_path
