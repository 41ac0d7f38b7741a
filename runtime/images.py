"""Build the agent image (`clauderon image build`) without any network inside the build.

`RUN` steps in `docker build` have no network here (and in many locked-down setups), so the agent CLIs
are fetched on the host with npm into a cache and `COPY`-ed in. What the npm packages contain
(checked on Claude Code 2.1.197 and Codex 0.171.0, linux-x64):

- `@anthropic-ai/claude-code` installs a native glibc ELF at `bin/claude.exe` (hard-linked from
  `@anthropic-ai/claude-code-linux-x64/claude`); it needs no node.
- `@openai/codex` is a small node wrapper (`bin/codex.js`) around a native musl binary in
  `@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex`. The wrapper also puts its
  bundled `rg` on PATH and sets the "managed by npm" variables, so we keep it, which needs node.

- `@google/gemini-cli` is a node script bundle (`bundle/gemini.js`) that needs Node >= 20 (its agent's
  `min_node`), so its packages include the npm registry's `node@20` (an official build in `node_modules/node/bin/node`).

Node: the `node` an agent's npm packages brought, else the host's `/usr/bin/node` (or whatever `node` is on PATH),
is copied in as `/usr/local/bin/node`; older than an agent's `min_node`, the build stops with one line.
Debian's node binary only links glibc, libstdc++ and libgcc, which every Debian base already has
(apt itself needs libstdc++), so it runs unchanged in a bookworm image.

Image layout:
    /opt/clauderon/npm/node_modules/...   the npm install, as fetched on the host
    /usr/local/bin/node                   copied from the host
    /usr/local/bin/claude -> /opt/clauderon/npm/node_modules/@anthropic-ai/claude-code/bin/claude.exe
    /usr/local/bin/codex  -> /opt/clauderon/npm/node_modules/@openai/codex/bin/codex.js
    /workspace, /etc/clauderon/

The base must already contain bash, git, curl and ca-certificates (checked before the build, one line
naming what is missing): the default, `buildpack-deps:bookworm-scm` (Debian bookworm with git, curl and
ca-certificates), does, and so does a debootstrap base built with `--include=bash,curl,git,ca-certificates,procps`
(the tests' stand-in offline); `debian:bookworm-slim` does not ship git or curl. A base missing locally is
pulled once; with no registry in reach that is one line too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.agents.base import Agent
from runtime.agents.registry import all_agents
from runtime.errors import ClauderonError

if TYPE_CHECKING:  # docker is imported when an image is built (start-up speed)
    from docker import DockerClient

log = logging.getLogger(__name__)

ImageProgress = Callable[[str], None]

NPM_PREFIX_IN_IMAGE = "/opt/clauderon/npm"
DEFAULT_BASE = "buildpack-deps:bookworm-scm"
"""Debian bookworm with bash, git, curl and ca-certificates: everything the agents need from a base."""
BASE_NEEDS = "git, curl and ca-certificates"
# Prints what the base lacks (nothing when it has it all); runs with no network, so it is quick and offline.
_BASE_TOOLS_PROBE = ("for t in bash git curl; do command -v $t >/dev/null || printf '%s ' $t; done; "
                     "test -s /etc/ssl/certs/ca-certificates.crt || printf 'ca-certificates '")
_NPM_NETWORK_ERRORS = ("ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH",
                       "EHOSTUNREACH", "network")

_DOCKERFILE = """\
FROM {base}
COPY npm {prefix}
COPY node /usr/local/bin/node
RUN set -e; mkdir -p /workspace /etc/clauderon; {links} \\
    for tool in bash git curl; do command -v "$tool" >/dev/null || echo "warning: $tool missing from the base image" >&2; done
LABEL clauderon.image=agent
WORKDIR /workspace
"""  # noqa: E501 - the RUN line stays as built before, so images built by earlier versions keep their cached layer


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/clauderon` (default `~/.cache/clauderon`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clauderon"


def installable_agents() -> dict[str, Agent]:
    """The agents whose CLI comes from npm (`Agent.npm_packages`), by name."""
    return {agent.name: agent for agent in all_agents() if agent.npm_packages}


def _packages_for(agents: tuple[str, ...]) -> list[str]:
    installable = installable_agents()
    packages: list[str] = []
    for agent in agents:
        if agent not in installable:
            raise ClauderonError(f"unknown agent {agent!r}: choose from {', '.join(sorted(installable))}")
        packages.extend(installable[agent].npm_packages)
    return packages


def fetch_agents(agents: tuple[str, ...], progress: ImageProgress | None = None) -> Path:
    """npm-install the agents' packages on the host into a cache dir keyed by the package list; reuse it."""
    packages = _packages_for(agents)
    key = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:12]
    prefix = cache_root() / f"npm-{key}"
    done = prefix / ".complete"
    if done.exists():
        _say(progress, f"reusing fetched agents in {prefix}")
        return prefix
    npm = shutil.which("npm")
    if npm is None:
        raise ClauderonError("npm not found on the host: install Node.js/npm to fetch the agent CLIs")
    # Install into a fresh temp dir beside the cache, then rename, so a failed fetch leaves no half cache.
    prefix.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{prefix.name}.", dir=prefix.parent))
    _say(progress, f"fetching {' '.join(packages)} with npm")
    try:
        result = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", "--no-save", *packages],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise ClauderonError(_npm_failure(result.stderr, npm))
        (staging / ".complete").write_text("\n".join(packages) + "\n")
        shutil.rmtree(prefix, ignore_errors=True)
        staging.rename(prefix)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return prefix


def _npm_failure(stderr: str, npm: str) -> str:
    """One line for a failed `npm install`: an unreachable registry says which and how to point npm elsewhere."""
    lines = [line.removeprefix("npm error").strip() for line in stderr.strip().splitlines()]
    lines = [line for line in lines if line]
    if any(code in stderr for code in _NPM_NETWORK_ERRORS):
        registry = subprocess.run([npm, "config", "get", "registry"], capture_output=True, text=True).stdout.strip()
        reason = next((line for line in lines if "reason:" in line), lines[0] if lines else "no answer")
        return (f"cannot fetch the agent CLIs: the npm registry {registry or '(unknown)'} is unreachable "
                f"({reason.split('reason:', 1)[-1].strip()}); connect to the network, or point npm at a reachable "
                "registry (`npm config set registry URL`)")
    return f"npm install of the agent CLIs failed: {lines[-1] if lines else '(no output)'}"


def node_binary(npm_dir: Path, agents: list[Agent]) -> Path:
    """The node to copy into the image: the one the agents' npm packages brought, else the host's; at least
    the newest `min_node` of `agents`."""
    fetched = npm_dir / "node_modules" / "node" / "bin" / "node"
    found = str(fetched) if fetched.is_file() and os.access(fetched, os.X_OK) else shutil.which("node")
    if found is None:
        raise ClauderonError("node not found on the host: install Node.js (its binary is copied into the image)")
    node = Path(found).resolve()
    needed = max((agent.min_node for agent in agents), default=0)
    if needed:
        major = node_major(node)
        if major < needed:
            names = ", ".join(a.name for a in agents if a.min_node == needed)
            raise ClauderonError(f"{names} needs Node >= {needed}, but {node} is "
                                 f"{f'Node {major}' if major else 'not a working node'}")
    return node


def node_major(node: Path) -> int:
    """The major version `node --version` reports (0 when it does not run)."""
    try:
        out = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return 0
    major = out.removeprefix("v").split(".", 1)[0]
    return int(major) if major.isdigit() else 0


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a tree into the build context by hard links when possible (the CLIs are ~700 MB)."""
    try:
        shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


def _readable_by_everyone(root: Path) -> None:
    """Directories 0755, files readable (and executable where anyone could run them) by every user: `COPY` keeps
    modes, and the agent runs as an unprivileged user. An engine's umask 077 (or npm's) made the CLIs' tree 0700,
    and such an image's agent exited at once with "Permission denied"."""
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o111 else 0))


def _docker_client(base_url: str | None) -> DockerClient:
    import docker

    try:
        client = docker.DockerClient(base_url=base_url) if base_url else docker.from_env()
        client.ping()
        return client
    except Exception as exc:
        where = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise ClauderonError(
            f"cannot reach the Docker engine at {where} ({exc.__class__.__name__}): start dockerd or set DOCKER_HOST"
        ) from exc


def _ensure_base(client: DockerClient, base: str, progress: ImageProgress | None) -> None:
    """The base image, pulled when it is not here; then checked for what the agents need (one line if not)."""
    import docker.errors

    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        _say(progress, f"pulling the base image {base}")
        try:
            client.images.pull(base)
        except docker.errors.APIError as exc:
            reason = str(exc.explanation or exc).strip().splitlines()[0]
            raise ClauderonError(
                f"base image {base} not found locally and it could not be pulled ({reason}): `docker pull {base}` "
                f"where a registry is reachable, or pass --base with a local image that has {BASE_NEEDS}"
            ) from None
    try:
        # Not `run(remove=True)`: its output is read after the container ends, racing the removal (an empty
        # answer let a base without git through, now and then).
        probe = client.containers.run(base, entrypoint=["sh", "-c", _BASE_TOOLS_PROBE], network_mode="none",
                                      user="0", detach=True)
        try:
            probe.wait(timeout=120)
            lacking = probe.logs(stdout=True, stderr=False).decode().split()
        finally:
            probe.remove(force=True)
    except docker.errors.DockerException as exc:
        reason = str(getattr(exc, "explanation", None) or exc).strip().splitlines()[0]
        raise ClauderonError(f"base image {base} cannot run a shell ({reason}): use a Debian-like base with "
                             f"{BASE_NEEDS}, such as {DEFAULT_BASE}") from None
    if lacking:
        raise ClauderonError(
            f"base image {base} lacks {', '.join(lacking)} (the build cannot install packages: it may have no "
            f"network): use a base with {BASE_NEEDS}, such as {DEFAULT_BASE}, or one built FROM {base} with "
            "`apt-get install -y git curl ca-certificates`"
        )


def build_agent_image(
    base: str = DEFAULT_BASE,
    tag: str = "clauderon-agent:latest",
    agents: tuple[str, ...] | None = None,
    progress: ImageProgress | None = None,
    base_url: str | None = None,
) -> str:
    """Build `tag` from the local image `base` with the given agents' CLIs (default: every agent installed from
    npm); returns the image id.

    Blocking (npm and docker build): call it from a thread when on an event loop.
    """
    client = _docker_client(base_url)
    _ensure_base(client, base, progress)
    installable = installable_agents()
    agents = tuple(installable) if agents is None else agents
    npm_dir = fetch_agents(agents, progress)
    node = node_binary(npm_dir, [installable[a] for a in agents])
    links = " ".join(f"ln -sf {NPM_PREFIX_IN_IMAGE}/{installable[a].entry_point} /usr/local/bin/{a};" for a in agents)
    with tempfile.TemporaryDirectory(prefix="clauderon-build-", dir=cache_root()) as tmp:
        context = Path(tmp)
        _link_tree(npm_dir, context / "npm")
        shutil.copy2(node, context / "node")
        _readable_by_everyone(context)
        (context / "Dockerfile").write_text(_DOCKERFILE.format(base=base, prefix=NPM_PREFIX_IN_IMAGE, links=links))
        _say(progress, f"building {tag} from {base}")
        image_id = _docker_build(client, context, tag, progress)
    _say(progress, f"built {tag} ({image_id[:19]})")
    return image_id


def _docker_build(client: DockerClient, context: Path, tag: str, progress: ImageProgress | None) -> str:
    """Run the legacy builder through the low-level API so its output streams to `progress`."""
    image_id = ""
    try:
        for chunk in client.api.build(path=str(context), tag=tag, rm=True, forcerm=True, decode=True, pull=False):
            if "error" in chunk:
                raise ClauderonError(f"docker build of {tag} failed: {chunk['error'].strip()}")
            if "stream" in chunk and chunk["stream"].strip():
                log.debug("build: %s", chunk["stream"].rstrip())
                if chunk["stream"].startswith("Step "):
                    _say(progress, chunk["stream"].strip())
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    except ClauderonError:
        raise
    except Exception as exc:
        raise ClauderonError(f"docker build of {tag} failed: {exc}") from exc
    if not image_id:
        image_id = client.images.get(tag).id or ""
        if not image_id:  # docker-py reads `Id` with .get(); an image always has one
            raise ClauderonError(f"docker build of {tag} left no image id")
    return image_id


def _say(progress: ImageProgress | None, message: str) -> None:
    log.info("%s", message)
    if progress is not None:
        progress(message)
