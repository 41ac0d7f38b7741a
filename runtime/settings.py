"""One typed settings model for everything configurable.

Loaded from `CLAUDERON_HOME/config.toml`, the proxy's keys from `proxy.toml`, then environment overrides
named `CLAUDERON_<SECTION>_<KEY>`. Every key carries a docstring; `clauderon config show` prints the
effective value and where it came from. The original clauderon's files and variables are read too
(`runtime/original_config.py`): their keys map onto these settings or are ignored with a warning.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proxy import atomic_write
from runtime.agents.registry import DEFAULT_AGENT, AgentName, agent_named
from runtime.backends.registry import DEFAULT_BACKEND, BackendName
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.original_config import OriginalSettings, without_original_keys
from runtime.requests import check_model_name


class Section(BaseModel):
    # The attribute docstrings below are for readers only: pydantic's `use_attribute_docstrings` reads this
    # file's source at import (~70 ms of every CLI command) for descriptions nothing shows.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EngineSettings(Section):
    on_exit: Literal["handoff", "stop"] = "handoff"
    """What an in-process engine does when its app quits, or gets SIGHUP/SIGTERM, with sessions running:
    hand over to a background `clauderon engine` so agents keep their proxy, or stop."""
    max_concurrent_operations: int = 3
    """How many creates and deletes run at once."""
    scrollback_lines: int = 10000
    """Lines of scrollback each terminal stream keeps."""
    ring_buffer_bytes: int = 1_048_576
    """Raw output bytes kept per terminal stream for late joiners."""
    backup_count: int = 5
    """Rolling backups of the store kept in `backups/`."""
    min_free_space: int = 1 << 30
    """Bytes that should stay free on the disk holding CLAUDERON_HOME; below it the app's header, `doctor`
    and `engine status` say so (the store, the audit and the worktrees all live there), and the engine
    pauses the session whose worktree grows."""
    disk_check_seconds: float = 10.0
    """How often free space is checked; each session's disk use is measured every 30 checks, and at
    every check while space is short."""
    recreate_missing: bool = True
    """After a reboot or a Docker daemon restart, recreate the sessions whose sandbox went with it, on the
    same worktree and agent home (the agent resumes its conversation)."""


class SessionDefaults(Section):
    agent: AgentName = DEFAULT_AGENT
    """Agent for new sessions."""
    backend: BackendName = DEFAULT_BACKEND
    """Backend for new sessions."""
    access_mode: Literal["read-write", "read-only"] = "read-write"
    """Access mode for new sessions."""
    skip_permissions: bool = True
    """Run agents with bypass-all-permissions (safe: the container holds no credential)."""


class AgentSettings(Section):
    model: str | None = None
    """Model the agent's CLI starts with when a create names none (none: the CLI's own default)."""

    @field_validator("model")
    @classmethod
    def _model(cls, model: str | None) -> str | None:
        return None if model is None else check_model_name(model)


class DockerSettings(Section):
    image: str = "clauderon-agent:latest"
    """Image for new docker sessions (`clauderon image build` makes it)."""
    build_base: str = "buildpack-deps:bookworm-scm"
    """Base of the agent image `clauderon image build` and the create dialog build: a local image (or one
    to pull) that has bash, git, curl and ca-certificates (the build itself installs no packages)."""
    build_agents: list[AgentName] = []
    """Agents whose CLIs go into a built agent image (empty: every agent installed from npm)."""
    pull_policy: Literal["missing", "always", "never"] = "never"
    """When to pull the image before creating a container."""
    network: Literal["auto", "sealed", "bridge", "host"] = "auto"
    """Network mode: `sealed` gives the agent's container no network but loopback, with clauderon's relay
    to the proxy as the only way out; `bridge` and `host` are open networks (a program that ignores the
    proxy variables goes around the proxy); `auto` is sealed."""
    cpu: float | None = None
    """CPUs per container (none: unlimited)."""
    memory: str | None = None
    """Memory limit per container, like `4g` (none: unlimited)."""
    base_url: str | None = None
    """Docker engine address; default from `DOCKER_HOST` or the local socket."""
    extra_capabilities: list[str] = []
    """Capabilities added on top of the minimal set agents need."""
    run_as_user: int = 1000
    """The uid (and gid) agents run as when clauderon itself runs as root, with the session's worktree and
    agent home owned to match; any other user's agents run as that user."""


class KubernetesSettings(Section):
    kubeconfig: str | None = None
    """Kubeconfig file to use (none: `KUBECONFIG`, else `~/.kube/config`)."""
    context: str | None = None
    """Kubeconfig context to use (none: the file's current context)."""
    namespace: str = "clauderon"
    """Namespace sessions run in; created if missing."""
    run_as_user: int = 1000
    """Non-root uid (and gid) agents run as in their pods, whatever user runs clauderon (root included)."""
    service_account: str | None = None
    """Service account for session pods (none: the namespace's default); its token is never mounted."""
    image: str = "clauderon-agent:latest"
    """Image for new kubernetes sessions; the cluster's nodes must be able to pull it."""
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    """The pod's `imagePullPolicy`."""
    cpu_request: str = "500m"
    """CPU each session pod requests (a Kubernetes quantity like `500m` or `2`)."""
    cpu_limit: str | None = "2"
    """CPU limit per pod unless the session sets its own (none: unlimited)."""
    memory_request: str = "1Gi"
    """Memory each session pod requests (a Kubernetes quantity like `1Gi`)."""
    memory_limit: str | None = "4Gi"
    """Memory limit per pod unless the session sets its own (none: unlimited)."""
    storage_class: str | None = None
    """StorageClass of the per-session volume holding /workspace and the agent home (none: the cluster default)."""
    storage_size: str = "10Gi"
    """Size of the per-session volume."""
    proxy_url: str | None = None
    """How pods reach the engine's credential proxy, like `http://proxy.clauderon.svc:18100`, a host address
    or a tailnet name. Pods on another machine than the engine cross the network: put the proxy behind TLS
    (a TLS-terminating Service, a tailnet or WireGuard link); the session's proxy password travels in it."""
    start_timeout: float = 300.0
    """Seconds `create` waits for a pod to run (image pulls, scheduling) before it gives up and cleans up."""


class TuiSettings(Section):
    prefix_key: str = "ctrl+]"
    """The one key the terminal view keeps for itself (pressed twice to send it through)."""
    theme: str = "clauderon-dark"
    """Theme name; switch from the command palette."""
    bell: bool = True
    """Ring the terminal bell when an agent needs attention."""
    allow_clipboard: bool = False
    """Let a session's OSC 52 clipboard writes reach your terminal under `clauderon attach` (off: an agent
    could otherwise put a command into your clipboard)."""


class WorktreeSettings(Section):
    disposable: list[str] = ["node_modules", ".venv", "venv", "target", "dist", "build", "__pycache__"]
    """Ignored directories that are rebuilt, not authored: `delete` does not count them as work it would lose."""
    allow_secret_files: list[str] = []
    """Files `.worktreeinclude` may copy into a sandbox although they hold a real credential value
    (repository-relative paths). Listing one gives the agent that value: only do it knowingly."""


class ServeSettings(Section):
    host: str = "127.0.0.1"
    """Address `clauderon serve` binds; anything but loopback also needs `public_url`."""
    port: int = 3030
    """Port `clauderon serve` binds."""
    public_url: str | None = None
    """URL the browser uses (default `http://localhost:<port>`); websockets from any other origin are refused,
    and an `https` URL makes the session cookie `Secure`."""
    password: str | None = None
    """Password to log in with instead of the printed token."""
    password_file: str | None = None
    """File whose first line is the password (instead of `password`, which then stays out of config.toml)."""
    tls_cert: str | None = None
    """PEM certificate to serve https directly (with `tls_key`)."""
    tls_key: str | None = None
    """PEM private key of `tls_cert`."""
    session_hours: float = 12.0
    """Hours a browser login lasts before the token or password is asked again."""
    auth: Literal["token", "password", "passkey"] = "token"
    """How browsers log in: `token` (the printed one-time URL; a configured password still wins, as before),
    `password` (`password` or `password_file` required), or `passkey` (the printed token registers the first
    passkey once; then only passkeys log in). Passkeys need https or `http://localhost`."""
    passkey_challenge_seconds: float = 120.0
    """How long a passkey prompt (a WebAuthn challenge) stays valid; each challenge is also single-use."""


class InjectionRuleSettings(Section):
    host: str
    """Host the rule applies to (`*.example.com` for subdomains)."""
    header: str
    """Header to set, like `Authorization`."""
    template: str
    """Header value; `{token}` is the credential, `{basic}` base64 of `x-access-token:<token>`."""
    credential: str
    """Credential name whose real value fills the template."""


class ProxySettings(Section):
    port: int | None = None
    """Proxy port; chosen at the home's first start (18100 if free) and kept."""
    egress: Literal["open", "allowlist"] = "open"
    """Egress policy for new sessions."""
    allowlist: list[str] = []
    """Hosts sessions with the allowlist policy may reach (`*.example.com` allowed)."""
    credential_set: list[str] = []
    """Credentials every session gets on top of its agent's model credential and `github_token`."""
    grafana_host: str | None = None
    """Grafana host (like `grafana.example.com`) that gets `grafana_api_key` as a Bearer token."""
    raw_tcp: list[str] = []
    """`host:port` targets whose CONNECT tunnels may carry raw TCP (not HTTP); each connection is audited.
    Everything else in a tunnel must be HTTP."""
    max_body_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    """The largest request body a sandbox may send (its Content-Length); larger ones get 413 before any
    byte of the body is read."""
    injection_rules: list[InjectionRuleSettings] = []
    """Extra injection rules, tried before the built-in ones (`[[proxy.injection_rules]]` tables)."""
    upstream_ca_bundle: str | None = None
    """PEM file of an extra CA the proxy trusts upstream (a company gateway's), on top of the public roots."""


class OnePasswordSettings(Section):
    enabled: bool = True
    """Resolve `op://` references (here and in credential environment variables); off: they are skipped."""
    credentials: dict[str, str] = {}
    """`credential_name = "op://vault/item/field"` references resolved with `OP_SERVICE_ACCOUNT_TOKEN`."""


class GitHubSettings(Section):
    api_url: str = "https://api.github.com"
    """REST API base for pull requests and checks (GitHub Enterprise: `https://<host>/api/v3`)."""
    git_host: str = "github.com"
    ("Host (with `:port` if not the default) of the git remotes that belong to this GitHub; "
     "pushes to other hosts are refused.")
    remote: str = "origin"
    """Remote of the user's repository that names the GitHub repository to push to and open pull requests on."""
    poll_interval: float = 30.0
    """Seconds between pull request status polls (checks, reviews, mergeability) for sessions with a PR."""


class TitlesSettings(Section):
    enabled: bool = True
    """Ask a small model for a title and a one-line description of each new session's prompt (false: nothing is
    ever sent)."""
    anthropic_model: str = "claude-3-5-haiku-latest"
    """The model asked for Claude Code sessions (with the user's Anthropic credential)."""
    openai_model: str = "gpt-4o-mini"
    """The model asked for Codex sessions (with the user's OpenAI API key)."""
    gemini_model: str = "gemini-2.0-flash"
    """The model asked for Gemini CLI sessions (with the user's Gemini API key)."""
    timeout: float = 30.0
    """Seconds the call may take; a title is never worth waiting on."""


class Settings(Section):
    engine: EngineSettings = EngineSettings()
    session: SessionDefaults = SessionDefaults()
    docker: DockerSettings = DockerSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    tui: TuiSettings = TuiSettings()
    worktree: WorktreeSettings = WorktreeSettings()
    serve: ServeSettings = ServeSettings()
    proxy: ProxySettings = ProxySettings()
    routes: dict[str, str] = {}
    """Send a host to another upstream (`"api.anthropic.com" = "http://127.0.0.1:18555"`); injection still applies."""
    onepassword: OnePasswordSettings = OnePasswordSettings()
    github: GitHubSettings = GitHubSettings()
    titles: TitlesSettings = TitlesSettings()
    agents: dict[AgentName, AgentSettings] = {}
    """Per agent (`[agents.claude]`): `model`, the default for its new sessions."""

    @field_validator("agents")
    @classmethod
    def _agents_take_models(cls, agents: dict[str, AgentSettings]) -> dict[str, AgentSettings]:
        for name, options in agents.items():
            if options.model and agent_named(name).model_option is None:
                raise ValueError(f"the {name} agent takes no model; remove [agents.{name}] model")
        return agents

    def default_model(self, agent: str) -> str | None:
        """The configured model for `agent`'s new sessions, if any."""
        options = self.agents.get(agent)
        return options.model if options else None


SECRET_SETTING_WORDS = ("password", "token", "secret")
"""Words that make a key's value a secret: reports say whether it is set, never what it is."""


def is_secret_setting(dotted: str) -> bool:
    """Whether the value of `section.key` is a secret (`serve.password`; `serve.password_file` is a path)."""
    key = dotted.rsplit(".", 1)[-1]
    return any(word in key for word in SECRET_SETTING_WORDS) and not key.endswith("_file")


# Sections whose keys live in proxy.toml rather than config.toml.
PROXY_SECTIONS = {"proxy", "routes", "onepassword"}


@dataclass
class LoadedSettings:
    """The effective settings and, for each `section.key`, where its value came from."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """One line per section of the original clauderon's keys that mean nothing here (the CLI prints them)."""

    def rows(self) -> list[tuple[str, Any, str]]:
        """(`section.key`, value, source) for every key, in model order."""
        out = []
        for section_name in Settings.model_fields:
            section = getattr(self.settings, section_name)
            if isinstance(section, Section):
                for key in type(section).model_fields:
                    dotted = f"{section_name}.{key}"
                    out.append((dotted, getattr(section, key), self.sources.get(dotted, "default")))
            elif section_name == "agents":  # a table per agent: one row per key, `agents.claude.model`
                for agent, options in section.items():
                    out += [(f"agents.{agent}.{key}", getattr(options, key), self.sources.get("agents", "default"))
                            for key in type(options).model_fields]
            else:
                out.append((section_name, section, self.sources.get(section_name, "default")))
        return out


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClauderonError(f"{path} is not valid TOML ({exc}); fix or remove it") from exc


def _parse_env_value(raw: str) -> Any:
    """Environment values: JSON when they parse as JSON (lists, numbers, booleans), else the plain string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        lowered = raw.strip().lower()
        if lowered in {"true", "yes", "on"}:
            return True
        if lowered in {"false", "no", "off"}:
            return False
        return raw


def load_settings(home: Home, environ: dict[str, str] | None = None) -> LoadedSettings:
    """Defaults, then the original clauderon's file keys, config.toml and proxy.toml, then the original's
    environment variables, then `CLAUDERON_<SECTION>_<KEY>` environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    original = OriginalSettings()
    for path, allowed in ((home.config_file, None), (home.proxy_config_file, PROXY_SECTIONS)):
        data = original.take(path, _read_toml(path))
        for section, values in data.items():
            if allowed is not None and section not in allowed:
                raise ClauderonError(f"{path}: section [{section}] belongs in config.toml, not proxy.toml")
            if allowed is None and section in PROXY_SECTIONS:
                raise ClauderonError(f"{path}: section [{section}] belongs in proxy.toml")
            if section not in Settings.model_fields:
                raise ClauderonError(f"{path}: unknown section [{section}]; see `clauderon config show`")
            merged.setdefault(section, {})
            if isinstance(values, dict) and isinstance(getattr(Settings(), section), Section):
                merged[section].update(values)
                sources.update({f"{section}.{k}": path.name for k in values})
            else:
                merged[section] = values
                sources[section] = path.name
    original.read_docker_config(home.docker_config_file, _read_toml(home.docker_config_file))
    original.read_env(environ)
    for dotted, (value, source) in original.from_files.items():
        section_name, key = dotted.split(".")
        if dotted not in sources:  # this clauderon's own key in config.toml wins over the original's
            merged.setdefault(section_name, {})[key] = value
            sources[dotted] = source
    for dotted, (value, source) in original.from_env.items():
        section_name, key = dotted.split(".")
        merged.setdefault(section_name, {})[key] = value
        sources[dotted] = source
    for section_name in Settings.model_fields:
        section_default = getattr(Settings(), section_name)
        if not isinstance(section_default, Section):
            continue
        for key in type(section_default).model_fields:
            env_name = f"CLAUDERON_{section_name}_{key}".upper()
            if env_name in environ:
                merged.setdefault(section_name, {})[key] = _parse_env_value(environ[env_name])
                sources[f"{section_name}.{key}"] = f"env {env_name}"
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        source = sources.get(where, sources.get(where.split(".")[0], "settings"))
        raise ClauderonError(f"setting {where} ({source}): {err['msg']}; see `clauderon config show`") from exc
    return LoadedSettings(settings, sources, original.warnings)


def save_setting(home: Home, section: str, key: str, value: Any) -> None:
    """Persist one key into config.toml (or proxy.toml), keeping every other key as it is."""
    path = home.proxy_config_file if section in PROXY_SECTIONS else home.config_file
    data = _read_toml(path)
    data.setdefault(section, {})[key] = value
    files = {p: without_original_keys(p, data if p == path else _read_toml(p))
             for p in (home.config_file, home.proxy_config_file)}
    Settings.model_validate({**files[home.config_file], **files[home.proxy_config_file]})
    atomic_write(path, tomli_w.dumps(data), mode=0o600)
