"""Backends declare what they can do (`BackendCapabilities`), and nothing outside them asks by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from clauderon_tui.formatting import isolation_label, on_open_network
from runtime.backends.base import Backend
from runtime.backends.capabilities import BackendCapabilities
from runtime.backends.docker import DockerBackend
from runtime.backends.kubernetes import KubernetesBackend
from runtime.backends.local import LocalBackend
from runtime.backends.registry import DEFAULT_BACKEND, backend_names, capabilities_of, is_backend
from runtime.engine.core import Engine
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.models import Session
from runtime.requests import CreateRequest
from runtime.settings import Settings, load_settings
from runtime.workbench.stats import container_facts

ROOT = Path(__file__).resolve().parents[1]
BACKEND_CLASSES: list[type[Backend]] = [DockerBackend, LocalBackend, KubernetesBackend]

# The only modules that may spell a backend's name: the registry and each backend's own class.
MAY_NAME_BACKENDS = {
    "runtime/backends/registry.py",
    "runtime/backends/docker.py",
    "runtime/backends/local.py",
    "runtime/backends/kubernetes.py",
}
SCANNED_PACKAGES = ("runtime", "proxy", "clauderon_tui")


def overrides(cls: type[Backend], method: str) -> bool:
    return getattr(cls, method) is not getattr(Backend, method)


def test_every_backend_class_declares_the_registry_s_capabilities() -> None:
    assert sorted(cls.name for cls in BACKEND_CLASSES) == sorted(backend_names())
    for cls in BACKEND_CLASSES:
        assert isinstance(cls.capabilities, BackendCapabilities)
        assert cls.capabilities is capabilities_of(cls.name)


@pytest.mark.parametrize("cls", BACKEND_CLASSES, ids=lambda cls: cls.name)
def test_capabilities_match_what_the_class_implements(cls: type[Backend]) -> None:
    caps = cls.capabilities
    assert caps.has_exec == hasattr(cls, "exec")
    assert caps.has_stats == overrides(cls, "sample_container")
    assert ("bridge" in caps.network_modes) == overrides(cls, "bridge_gateway")
    assert caps.open_networks <= set(caps.network_modes)
    assert "auto" in caps.network_modes
    if caps.copies_workspace:  # a copied workspace is read and written inside the sandbox
        assert caps.sandboxed and caps.has_exec
    if not caps.sandboxed:  # a host process has no network of its own to choose
        assert caps.network_modes == ("auto",) and not caps.open_networks


def test_what_each_backend_can_do() -> None:
    docker, local, kube = (capabilities_of(n) for n in ("docker", "local", "kubernetes"))
    assert docker.sandboxed and not docker.copies_workspace and docker.has_stats and docker.has_exec
    assert docker.open_networks == {"host", "bridge"} and "sealed" in docker.network_modes
    assert not local.sandboxed and not local.has_exec and not local.has_stats
    assert kube.sandboxed and kube.copies_workspace and kube.has_exec and not kube.has_stats
    assert DEFAULT_BACKEND == backend_names()[0] == "docker"


async def test_docker_accepts_exactly_its_declared_network_modes() -> None:
    docker = DockerBackend(base_url="unix:///nonexistent.sock")  # resolving a mode asks no daemon
    for mode in DockerBackend.capabilities.network_modes:
        assert await docker.resolve_network(mode) in DockerBackend.capabilities.network_modes
    with pytest.raises(ClauderonError, match="unknown network mode"):
        await docker.resolve_network("wormhole")


def test_default_images_come_from_each_backend_s_settings() -> None:
    settings = Settings()
    assert DockerBackend(base_url="unix:///nonexistent.sock").default_image(settings) == settings.docker.image
    assert KubernetesBackend(settings.kubernetes, "home").default_image(settings) == settings.kubernetes.image


def test_local_backend_runs_no_image(short_tmp: Path) -> None:
    assert LocalBackend(Home.open(short_tmp / "h")).default_image(Settings()) is None


def test_an_unknown_backend_is_refused_with_the_choices() -> None:
    assert not is_backend("vm") and is_backend("local")
    with pytest.raises(ClauderonError, match="unknown backend 'vm'; choose one of docker, local, kubernetes"):
        capabilities_of("vm")
    with pytest.raises(ValidationError, match="Input should be 'docker', 'local' or 'kubernetes'"):
        CreateRequest(repo="/r", backend="vm")
    assert CreateRequest(repo="/r", backend="kubernetes").backend == "kubernetes"
    with pytest.raises(ValidationError):
        Settings.model_validate({"session": {"backend": "vm"}})


def test_capabilities_as_json() -> None:
    public = capabilities_of("docker").public()
    assert public == {"sandboxed": True, "copies_workspace": False, "has_exec": True, "has_stats": True,
                      "pulls_images": True, "builds_images": True,
                      "network_modes": ["auto", "sealed", "host", "bridge"], "open_networks": ["bridge", "host"]}


def _session(backend: str, network_mode: str = "auto") -> Session:
    return Session(name="s", repo_path="/r", base_branch="main", branch="clauderon/s", worktree_path="/w",
                   backend=backend, network_mode=network_mode)


@pytest.mark.parametrize(("backend", "mode", "label"), [
    ("docker", "auto", "docker"),
    ("docker", "sealed", "docker"),
    ("docker", "host", "docker (open network: host)"),
    ("docker", "bridge", "docker (open network: bridge)"),
    ("local", "auto", "local (unsandboxed)"),
    ("kubernetes", "host", "kubernetes"),  # a pod's network is not chosen by the mode
    ("vm", "host", "vm"),  # a backend from another version: named, nothing claimed about it
])
def test_isolation_label_asks_the_capabilities(backend: str, mode: str, label: str) -> None:
    assert isolation_label(_session(backend, mode)) == label


def test_open_network_needs_a_known_backend() -> None:
    assert on_open_network("docker", "bridge")
    assert not on_open_network(None, "bridge") and not on_open_network("vm", "host")


async def test_a_backend_without_stats_says_why(short_tmp: Path) -> None:
    local = LocalBackend(Home.open(short_tmp / "h"))
    facts = await container_facts(local, "abc", sample=True)
    assert facts == {"container": None, "stats": None,
                     "reason": "container details are only sampled for docker sessions (this one is local)"}
    with pytest.raises(ClauderonError, match="samples no container details"):
        await local.sample_container("abc", with_stats=True)


def backend_name_literals(source: str, names: set[str]) -> list[int]:
    """Lines where a string constant is exactly a backend's name (a comparison, a dict key, a choices list)."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names)


def test_the_scan_finds_name_checks() -> None:
    names = set(backend_names())
    assert backend_name_literals('if session.backend != "local":\n    pass\n', names) == [1]
    assert backend_name_literals('x = {"docker": 1}.get(b)\ny = b in ("kubernetes",)\n', names) == [1, 2]
    assert backend_name_literals('"""Runs on docker."""\nif caps.sandboxed:\n    pass\n', names) == []


def test_no_module_outside_the_backends_names_a_backend() -> None:
    names = set(backend_names())
    found = []
    for package in SCANNED_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in MAY_NAME_BACKENDS:
                continue
            found += [f"{relative}:{line}" for line in backend_name_literals(path.read_text(encoding="utf-8"), names)]
    assert not found, ("ask the backend's capabilities (`backend.capabilities`, `capabilities_of(name)` in "
                       f"runtime/backends/registry.py) instead of its name: {found}")


async def test_the_health_payload_carries_each_backend_s_capabilities(short_tmp: Path) -> None:
    home = Home.open(short_tmp / "h")
    engine = Engine(home, load_settings(home, environ={}), backends={"local": LocalBackend(home)})
    backends = (await engine.health())["backends"]
    assert backends["local"]["sandboxed"] is False  # the field the app read before capabilities, kept
    assert backends["local"]["capabilities"] == capabilities_of("local").public()
