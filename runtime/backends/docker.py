"""Run sessions in Docker containers (one per session, labelled with its home and session).

Every docker SDK call runs on the backend's own threads (`Backend._blocking`) so the caller's loop stays free. Attaching
is done by hand on the engine's socket (see `docker_attach`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import inspect
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from runtime.agents.home import CONTAINER_HOME
from runtime.backends.base import (
    LABEL_HOME,
    LABEL_SESSION,
    Attachment,
    Backend,
    ContainerSample,
    ExecResult,
    Found,
    ImagePull,
    LaunchSpec,
    ProgressFn,
)
from runtime.backends.docker_account import name_the_agent
from runtime.backends.docker_attach import DockerAttachment, open_attach
from runtime.backends.registry import capabilities_of
from runtime.errors import ClauderonError, Conflict
from runtime.git.session_repo import MAX_BUNDLE_BYTES, SANDBOX_GIT
from runtime.models import Status
from runtime.relay import RELAY_PORT, RELAY_SOCKET_DIR, RELAY_USER, ensure_relay_image

if TYPE_CHECKING:
    from docker import DockerClient

    from runtime.settings import Settings

log = logging.getLogger(__name__)

CONTAINER_PREFIX = "clauderon-"
DEFAULT_SOCKET_URL = "unix:///var/run/docker.sock"

# Everything is dropped, then only what an agent's ordinary work needs when it runs as root in the
# container (a non-root user has no effective capabilities anyway):
#   CHOWN, FOWNER, DAC_OVERRIDE: git and package tools chown/chmod and write files owned by the host
#                                uid on the bind-mounted worktree and agent home;
#   SETUID, SETGID:              dropping to another user (su/runuser, test suites that switch uid);
#   KILL:                        signalling its own children that run under another uid.
# Not granted: NET_RAW (raw sockets, spoofing), NET_BIND_SERVICE (ports < 1024 on the host network),
# MKNOD, SYS_CHROOT, SETFCAP, SETPCAP, FSETID, AUDIT_WRITE. `no-new-privileges` stops setuid binaries
# from regaining anything. A session can ask for more through `spec.extra_capabilities`.
AGENT_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"]

MAX_EXEC_OUTPUT = 64 * 1024 * 1024
"""The most a command run in a container (git status, a file page) may print back to the engine."""
BUNDLE_SECONDS = 30.0
"""The longest a sandbox may take to bundle its branch."""
PULL_POLICIES = ("never", "missing", "always")
LABEL_ROLE = "clauderon.role"
RELAY_ROLE = "relay"
# The agent's first request must not come before its relay listens: wait (bounded) for the port.
_WAIT_FOR_RELAY = ("for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; "
                   "sleep 0.05; done; exec \"$@\"")

P = ParamSpec("P")
T = TypeVar("T")


def _exec(client: DockerClient, container: str, argv: list[str], timeout: float, max_output: int,
          what: str) -> ExecResult:
    """`docker exec` without a TTY, stdout and stderr apart, bounded in size and time (blocking)."""
    import docker.errors

    try:
        exec_id = client.api.exec_create(container, argv, stdout=True, stderr=True, tty=False)["Id"]
    except docker.errors.NotFound:
        raise ClauderonError(f"container {container[:12]} is gone; restart the session", status=409) from None
    except docker.errors.APIError as exc:  # e.g. "is not running"
        raise ClauderonError(f"cannot run a command in container {container[:12]}: {exc.explanation or exc}",
                             status=409) from None
    deadline = time.monotonic() + timeout
    out: list[bytes] = []
    err: list[bytes] = []
    size = 0
    for chunk_out, chunk_err in client.api.exec_start(exec_id, stream=True, demux=True):
        for chunk, into in ((chunk_out, out), (chunk_err, err)):
            if chunk:
                into.append(chunk)
                size += len(chunk)
        if size > max_output:
            raise ClauderonError(f"`{what}` in container {container[:12]} printed over {max_output >> 20} MiB; refused")
        if time.monotonic() > deadline:
            raise ClauderonError(f"`{what}` in container {container[:12]} took over {timeout:.0f}s; refused")
    code = client.api.exec_inspect(exec_id).get("ExitCode")
    return ExecResult(b"".join(out), b"".join(err), code)


def container_name(name: str) -> str:
    return f"{CONTAINER_PREFIX}{name}"


def relay_name(name: str) -> str:
    return f"{CONTAINER_PREFIX}{name}-relay"


class DockerBackend(Backend):
    """Sessions as containers on one Docker engine. `backend_id` is the full container id."""

    name = "docker"
    capabilities = capabilities_of(name)

    def __init__(self, base_url: str | None = None) -> None:
        """`base_url` like `unix:///var/run/docker.sock` or `tcp://host:2375`; None means the environment
        (`DOCKER_HOST`, else the default socket)."""
        self.base_url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET_URL
        self._explicit = base_url is not None
        self._client: DockerClient | None = None
        self._early: dict[str, DockerAttachment] = {}  # container id -> attachment opened before start

    # -- the client ------------------------------------------------------------------------------

    def _unreachable(self, exc: BaseException) -> ClauderonError:
        return ClauderonError(
            f"cannot reach the Docker engine at {self.base_url} ({exc.__class__.__name__}): "
            "start dockerd or set DOCKER_HOST",
            status=503,
        )

    def _client_sync(self) -> DockerClient:
        """The SDK client, created on first use (creating it talks to the engine for its API version)."""
        if self._client is None:
            import docker

            try:
                if self._explicit:
                    self._client = docker.DockerClient(base_url=self.base_url, timeout=60)
                else:
                    self._client = docker.from_env(timeout=60)
            except Exception as exc:
                raise self._unreachable(exc) from exc
        return self._client

    async def _call(self, fn: Callable[Concatenate[DockerClient, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(client, ...)` in a thread; connection failures become the one clear line."""
        return await self._blocking(functools.partial(self._run_sync, fn, *args, **kwargs))

    def _run_sync(self, fn: Callable[Concatenate[DockerClient, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        import docker.errors
        import requests.exceptions

        client = self._client_sync()
        try:
            return fn(client, *args, **kwargs)
        except (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError) as exc:
            raise self._unreachable(exc) from exc
        except docker.errors.DockerException as exc:
            # The SDK wraps a refused or missing socket in a plain DockerException.
            if not isinstance(exc, docker.errors.APIError) and "connection" in str(exc).lower():
                raise self._unreachable(exc) from exc
            raise

    # -- availability and networking --------------------------------------------------------------

    async def available(self) -> tuple[bool, str]:
        try:
            version = await self._call(lambda c: c.version())
        except ClauderonError as exc:
            return False, exc.message
        except Exception as exc:  # never a traceback for a dead or odd daemon
            return False, self._unreachable(exc).message
        return True, f"Docker {version.get('Version', '?')} at {self.base_url}"

    async def resolve_network(self, mode: str) -> str:
        """`sealed`, `host` or `bridge` for a requested mode; `auto` is sealed (it needs no bridge, no
        iptables and nothing from the agent's image, so it works on every daemon)."""
        modes = self.capabilities.network_modes
        if mode not in modes:
            raise ClauderonError(f"unknown network mode {mode!r}: use one of {', '.join(modes)}")
        return "sealed" if mode == "auto" else mode

    def default_image(self, settings: Settings) -> str | None:
        return settings.docker.image

    async def sample_container(self, backend_id: str, *, with_stats: bool) -> ContainerSample:
        """`docker inspect` of the container (None when it is gone) and, when `with_stats` and it runs, one
        `docker stats` answer."""
        import docker.errors

        def sample(client: DockerClient) -> ContainerSample:
            try:
                info = client.api.inspect_container(backend_id)
            except docker.errors.NotFound:
                return None, None
            running = (info.get("State") or {}).get("Running")
            return info, client.api.stats(backend_id, stream=False) if with_stats and running else None

        return await self._call(sample)

    async def bridge_gateway(self) -> str | None:
        """The `bridge` network's IPAM gateway, or None (e.g. `dockerd --bridge=none` has no bridge)."""
        import docker.errors

        def inspect_bridge(client: DockerClient) -> str | None:
            try:
                info = client.api.inspect_network("bridge")
            except docker.errors.NotFound:
                return None
            for config in (info.get("IPAM") or {}).get("Config") or []:
                gateway: str | None = config.get("Gateway")
                if gateway:
                    return gateway
            return None

        return await self._call(inspect_bridge)

    async def network_report(self) -> str:
        """One line for `clauderon doctor`: the modes this daemon supports and what `auto` means."""
        try:
            gateway = await self.bridge_gateway()
        except ClauderonError as exc:
            return exc.message
        bridge = f"bridge (gateway {gateway}; open network)" if gateway else "no bridge (this daemon has none)"
        return f"network auto -> sealed (no network but the proxy); also available: host (open network), {bridge}"

    # -- create -----------------------------------------------------------------------------------

    async def owner_of(self, name: str) -> str | None:
        import docker.errors

        def owner(client: DockerClient) -> str | None:
            try:
                container = client.containers.get(container_name(name))
            except docker.errors.NotFound:
                return None
            return (container.labels or {}).get(LABEL_HOME, "")

        return await self._call(owner)

    async def create(self, spec: LaunchSpec, progress: ProgressFn | None = None) -> str:
        if not spec.image:
            raise ClauderonError(f"session {spec.name} has no image: set one in the settings or pass --image")
        if spec.pull_policy not in PULL_POLICIES:
            raise ClauderonError(f"unknown pull policy {spec.pull_policy!r}: use one of {', '.join(PULL_POLICIES)}")
        network = await self.resolve_network(spec.network)
        if network == "sealed" and not spec.proxy_socket_dir:
            raise ClauderonError("a sealed session needs the engine's proxy socket (internal error)")
        if network == "sealed":
            await _report(progress, "preparing the sealed network's relay")
        # Three independent daemon round trips at once: the name's owner, the image, the relay's image.
        owner, _, relay = await asyncio.gather(
            self.owner_of(spec.name), self._ensure_image(spec.image, spec.pull_policy, progress),
            self._call(ensure_relay_image) if network == "sealed" else _nothing())
        if owner is not None:
            cname = container_name(spec.name)
            if owner != spec.home_id:
                raise Conflict(f"a container named {cname} belongs to another clauderon home: "
                               "pick another session name or remove it there")
            raise Conflict(f"a container named {cname} already exists in this home: remove the old session first")
        await _report(progress, f"creating container {container_name(spec.name)} ({network} network)")
        kwargs = self._create_kwargs(spec, network)
        container_id = await self._call(_create, kwargs)
        # Attach before start, as `docker run -it` does: a program started with nobody attached (bash
        # is one) may never print its first prompt. The attachment waits for `attach(replay=True)`.
        try:
            client = await self._blocking(self._client_sync)
            self._early[container_id] = await open_attach(self.base_url, client.api.api_version, container_id)
            if spec.user and not spec.user.startswith("0:"):
                await self._call(name_the_agent, container_id, spec.user, spec.env.get("HOME", CONTAINER_HOME))
            # The relay is made while the agent starts (its entrypoint waits for the relay's port); it can
            # only start once the namespace it joins exists.
            starting = self._call(_start_and_size, container_id, kwargs["name"], (spec.cols, spec.rows))
            if relay is None:
                await starting
            else:
                _, relay_id = await asyncio.gather(starting, self._call(_create_relay, relay, spec, container_id))
                await self._call(_start_relay, relay_id, spec.name)
        except BaseException:
            early = self._early.pop(container_id, None)
            if early is not None:
                await early.close()
            await self.remove(container_id)
            raise
        return container_id

    def _create_kwargs(self, spec: LaunchSpec, network: str) -> dict[str, Any]:
        from docker.types import Mount as DockerMount

        kwargs: dict[str, Any] = dict(
            image=spec.image,
            name=container_name(spec.name),
            command=spec.command,
            labels=spec.labels,
            tty=True,
            stdin_open=True,
            environment=dict(spec.env),
            working_dir=spec.workdir,
            mounts=[DockerMount(target=m.path, source=m.host, type="bind", read_only=m.readonly) for m in spec.mounts],
            cap_drop=["ALL"],
            cap_add=sorted(set(AGENT_CAPABILITIES) | {c.upper() for c in spec.extra_capabilities}),
            security_opt=["no-new-privileges"],
            init=True,  # tini as pid 1 reaps the zombies agents' tool runs leave behind
            network_mode="none" if network == "sealed" else network,
            detach=True,
        )
        if network == "sealed":
            # No interface but `lo`: the relay joins this namespace and is the only way out.
            wait = _WAIT_FOR_RELAY.format(port=RELAY_PORT)
            kwargs["entrypoint"] = ["/bin/bash", "-c", wait, "clauderon-wait-for-relay"]
            kwargs["command"] = spec.command
        if spec.user:
            kwargs["user"] = spec.user
        if spec.cpu:
            kwargs["nano_cpus"] = int(spec.cpu * 1_000_000_000)
        if spec.memory:
            kwargs["mem_limit"] = spec.memory
        if network == "bridge":
            kwargs["extra_hosts"] = {"host.docker.internal": "host-gateway"}
        return kwargs

    async def image_present(self, image: str) -> bool:
        """Whether `image` exists in the local engine."""
        import docker.errors

        def present(client: DockerClient) -> bool:
            try:
                client.images.get(image)
                return True
            except docker.errors.ImageNotFound:
                return False

        return await self._call(present)

    async def local_images(self) -> list[dict[str, Any]]:
        """Every tagged local image, newest first: `{"ref", "agent"}` (`agent`: built by `clauderon image build`)."""

        def listing(client: DockerClient) -> list[dict[str, Any]]:
            images = sorted(client.images.list(), key=lambda i: str(i.attrs.get("Created", "")), reverse=True)
            return [{"ref": tag, "agent": (image.labels or {}).get("clauderon.image") == "agent"}
                    for image in images for tag in image.tags]

        return await self._call(listing)

    async def pull_image(self, image: str) -> ImagePull:
        """Pull `image` again from the registry it came from. An image built here (no registry digest) has
        nowhere to come from: that is said, and nothing is pulled."""
        import docker.errors

        def pull(client: DockerClient) -> ImagePull:
            try:
                before = client.images.get(image)
            except docker.errors.ImageNotFound:
                before = None
            if before is not None and not any(_repository(digest) == _repository(image)
                                              for digest in before.attrs.get("RepoDigests") or []):
                raise ClauderonError(f"image {image} was built or tagged on this machine and came from no registry: "
                                     "rebuild it (`clauderon image build`) and restart the session")
            try:
                after = client.images.pull(image)
            except docker.errors.APIError as exc:
                raise ClauderonError(f"cannot pull image {image}: {exc.explanation or exc}") from exc
            digests = after.attrs.get("RepoDigests") or [None]
            return ImagePull(image, before.id if before else None, str(after.id), digests[0])

        return await self._call(pull)

    async def _ensure_image(self, image: str, policy: str, progress: ProgressFn | None) -> None:
        import docker.errors

        if policy != "always" and await self.image_present(image):
            return
        if policy == "never":
            raise ClauderonError(f"image {image} not found locally: run `clauderon image build` or docker pull {image}")
        await _report(progress, f"pulling {image}")

        def pull(client: DockerClient) -> None:
            try:
                client.images.pull(image)
            except docker.errors.APIError as exc:
                raise ClauderonError(f"cannot pull image {image}: {exc.explanation or exc}") from exc

        await self._call(pull)

    # -- lifecycle --------------------------------------------------------------------------------

    async def remove(self, backend_id: str) -> None:
        import docker.errors

        def remove(client: DockerClient) -> None:
            _remove_relays(client, backend_id)
            try:
                client.api.remove_container(backend_id, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                # A removal already under way is as good as done.
                if "already in progress" not in str(exc):
                    raise ClauderonError(
                        f"cannot remove container {backend_id[:12]}: {exc.explanation or exc}") from exc

        await self._call(remove)

    async def pause(self, backend_id: str, paused: bool) -> None:
        def pause(client: DockerClient) -> None:
            try:
                (client.api.pause if paused else client.api.unpause)(backend_id)
            except Exception as exc:
                if "is not paused" in str(exc) or "is already paused" in str(exc):
                    return
                explanation = getattr(exc, "explanation", None) or exc
                raise ClauderonError(f"cannot {'pause' if paused else 'unpause'} container {backend_id[:12]}: "
                                     f"{explanation}") from exc

        await self._call(pause)

    # -- the work inside ---------------------------------------------------------------------------

    async def exec(self, backend_id: str, argv: list[str], *, timeout: float = 120.0,
                   max_output: int = MAX_EXEC_OUTPUT) -> ExecResult:
        """Run `argv` in the container (no TTY) and collect stdout, stderr and the exit code.

        Output is read as it comes and refused past `max_output` bytes, so a sandbox cannot make the
        engine buffer without bound. The command runs under coreutils' `timeout`, killed after `timeout`
        seconds: Docker cannot stop an exec, and a command the agent made hang (a FIFO where git reads)
        would otherwise hold an engine thread for good."""
        bounded = ["timeout", "-s", "KILL", f"{timeout:.0f}", *argv]

        def run(client: DockerClient) -> ExecResult:
            result = _exec(client, backend_id, bounded, timeout, max_output, argv[0])
            if result.exit_code == 137:
                raise ClauderonError(f"`{argv[0]}` in container {backend_id[:12]} took over {timeout:.0f}s and "
                                     "was stopped (something in the sandbox made it wait)")
            return result

        try:
            return await asyncio.wait_for(self._call(run), timeout + 5)
        except TimeoutError:
            raise ClauderonError(f"`{argv[0]}` in container {backend_id[:12]} took over {timeout:.0f}s; "
                                 "is the sandbox overloaded?") from None

    async def fetch_bundle(self, backend_id: str, branch: str, *, known: str | None = None) -> bytes:
        """A git bundle of `branch` from the container's /workspace, leaving out what `known` (a commit
        the user's repository has) already holds; the whole branch when `known` is not in the sandbox."""
        base = [*SANDBOX_GIT, "bundle", "create", "--quiet", "-", f"refs/heads/{branch}"]
        argv = [*base, f"^{known}"] if known else base
        result = await self.exec(backend_id, argv, timeout=BUNDLE_SECONDS, max_output=MAX_BUNDLE_BYTES)
        if result.exit_code != 0 and known:  # e.g. the agent's history no longer contains `known`
            result = await self.exec(backend_id, base, timeout=BUNDLE_SECONDS, max_output=MAX_BUNDLE_BYTES)
        if result.exit_code != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            last = lines[-1] if lines else "no error output"
            raise ClauderonError(f"could not bundle {branch} in the sandbox: {last}")
        return result.stdout

    async def release(self, backend_id: str) -> None:
        """A stopped agent container's relay would restart (its policy) into a namespace that is gone, for
        good: it is removed; a restart of the session makes a new one."""
        await self._call(_remove_relays, backend_id)

    async def remove_leftovers(self, session_id: str, name: str, home_id: str) -> None:
        """The container (and its relay) by name, when it is this home's: a relay is labelled with its
        agent container's id, so the name is resolved first."""
        import docker.errors

        def owned_id(client: DockerClient) -> str | None:
            try:
                info = client.api.inspect_container(container_name(name))
            except docker.errors.NotFound:
                return None
            return info["Id"] if (info["Config"].get("Labels") or {}).get(LABEL_HOME) == home_id else None

        container_id = await self._call(owned_id)
        if container_id is not None:
            await self.remove(container_id)

    async def status(self, backend_id: str) -> Status:
        import docker.errors

        def state(client: DockerClient) -> Status:
            try:
                info = client.api.inspect_container(backend_id)
            except docker.errors.NotFound:
                return Status.FAILED
            return _status_of(info.get("State") or {})

        return await self._call(state)

    async def lost_in_restart(self, backend_id: str, seen_running_at: float) -> str | None:
        """The daemon's socket is made when it starts (or, socket-activated, at boot), so its change time
        says when the daemon last came up; a daemon behind TCP cannot be told apart and is never assumed
        to have restarted. The container went with it when it is gone, or ended before that start."""
        import docker.errors

        daemon_up = _daemon_started_at(self.base_url)
        if daemon_up is None or daemon_up <= seen_running_at:
            return None

        def gone_with_daemon(client: DockerClient) -> bool:
            try:
                state = client.api.inspect_container(backend_id).get("State") or {}
            except docker.errors.NotFound:
                return True
            return _status_of(state) != Status.RUNNING and _timestamp(state.get("FinishedAt")) <= daemon_up + 5

        if await self._call(gone_with_daemon):
            return f"the Docker daemon restarted at {time.strftime('%H:%M:%S', time.localtime(daemon_up))}"
        return None

    async def list_owned(self, home_id: str) -> list[Found]:
        def owned(client: DockerClient) -> list[Found]:
            found = []
            for info in client.api.containers(all=True, filters={"label": f"{LABEL_HOME}={home_id}"}):
                labels = info.get("Labels") or {}
                if labels.get(LABEL_ROLE) == RELAY_ROLE:
                    continue  # a sealed session's relay belongs to its agent container
                state = {"Status": info.get("State", "")}
                found.append(Found(session_id=labels.get(LABEL_SESSION, ""), backend_id=info["Id"],
                                   status=_status_of(state), labels=labels))
            return found

        return await self._call(owned)

    async def recent_output(self, backend_id: str, max_bytes: int) -> bytes:
        import docker.errors

        # A tty container's log is the raw terminal stream; ask for roughly enough lines, then cut to size.
        tail = max(200, max_bytes // 40)

        def logs(client: DockerClient) -> bytes:
            try:
                data = client.api.logs(backend_id, stdout=True, stderr=True, tail=tail)
            except docker.errors.NotFound:
                return b""
            return data[-max_bytes:] if max_bytes > 0 else b""

        return await self._call(logs)

    async def attach(self, backend_id: str, *, replay: bool = False) -> Attachment:
        attachment = self._early.pop(backend_id, None)
        if attachment is not None and not replay:
            await attachment.close()
            attachment = None
        if attachment is None:  # else: attached since before start, it already holds every byte
            client = await self._blocking(self._client_sync)
            attachment = await open_attach(self.base_url, client.api.api_version, backend_id, logs=replay)

        async def resize(cols: int, rows: int) -> None:
            await self._call(lambda c: c.api.resize(backend_id, height=rows, width=cols))

        attachment.resizer = resize
        return attachment


def _create(client: DockerClient, kwargs: dict[str, Any]) -> str:
    import docker.errors

    try:
        container = client.containers.create(**kwargs)
    except docker.errors.ImageNotFound as exc:
        raise ClauderonError(f"image {kwargs['image']} not found locally: "
                             "run `clauderon image build` or docker pull") from exc
    except docker.errors.APIError as exc:
        raise ClauderonError(f"cannot create container {kwargs['name']}: {exc.explanation or exc}") from exc
    # The SDK's model types `id` as optional (a model built without attributes); a create always answers with one.
    return cast(str, container.id)


def _create_relay(client: DockerClient, image: str, spec: LaunchSpec, agent_id: str) -> str:
    """The relay container of a sealed session: it joins the agent's network namespace (the agent owns
    it, so a restarted relay rejoins the same one) and carries 127.0.0.1:RELAY_PORT to the engine's socket
    directory, mounted read-only (the directory, not the socket: a recreated socket is then still seen).
    It holds nothing: read-only root, no capabilities, an unprivileged user, a few MiB. Returns its id."""
    from docker.types import Mount as DockerMount

    _remove_relays(client, agent_id, name=relay_name(spec.name))
    # Not the session label: that names the agent's container alone (re-adoption, tools, tests).
    labels = {LABEL_HOME: spec.home_id, LABEL_ROLE: RELAY_ROLE, "clauderon.relay-of": spec.session_id,
              "clauderon.agent-container": agent_id}
    host_config = client.api.create_host_config(
        network_mode=f"container:{agent_id}", read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"],
        mem_limit="16m", pids_limit=256, restart_policy={"Name": "unless-stopped"},
        mounts=[DockerMount(target=RELAY_SOCKET_DIR, source=spec.proxy_socket_dir, type="bind", read_only=True)])
    try:
        relay_id: str = client.api.create_container(
            image=image, name=relay_name(spec.name), command=[str(RELAY_PORT), f"{RELAY_SOCKET_DIR}/proxy.sock"],
            labels=labels, user=RELAY_USER, host_config=host_config)["Id"]
        return relay_id
    except Exception as exc:
        explanation = getattr(exc, "explanation", None) or exc
        raise ClauderonError(f"cannot create the sealed network's relay for {spec.name}: {explanation}") from exc


def _start_relay(client: DockerClient, relay_id: str, name: str) -> None:
    try:
        client.api.start(relay_id)
    except Exception as exc:
        explanation = getattr(exc, "explanation", None) or exc
        raise ClauderonError(f"cannot start the sealed network's relay for {name}: {explanation}") from exc


def _remove_relays(client: DockerClient, agent_id: str, name: str | None = None) -> None:
    """Remove the relay(s) of an agent container (by label), and a stale one holding `name`."""
    import docker.errors

    found = client.api.containers(all=True, filters={"label": f"clauderon.agent-container={agent_id}"})
    ids = [info["Id"] for info in found]
    if name is not None:
        with contextlib.suppress(docker.errors.NotFound):
            ids.append(client.api.inspect_container(name)["Id"])
    for relay_id in dict.fromkeys(ids):
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(relay_id, force=True)


def _start_and_size(client: DockerClient, container_id: str, name: str, size: tuple[int, int]) -> None:
    """Start and size the tty (the caller removes the container if this fails).

    API 1.41 cannot set the console size at create time (the tty starts at 0x0), so it is resized right
    after start; COLUMNS/LINES are not set because they would go stale at the first resize.
    """
    import docker.errors

    try:
        client.api.start(container_id)
    except docker.errors.APIError as exc:
        raise ClauderonError(f"cannot start container {name}: {exc.explanation or exc}") from exc
    cols, rows = size
    try:
        client.api.resize(container_id, height=rows, width=cols)
    except docker.errors.APIError as exc:  # a program that already exited has no tty to size
        log.info("could not size %s: %s", name, exc)


def _daemon_started_at(base_url: str) -> float | None:
    if not base_url.startswith("unix://"):
        return None
    try:
        return os.stat(base_url.removeprefix("unix://")).st_ctime
    except OSError:
        return None


def _timestamp(rfc3339: str | None) -> float:
    """Docker's `2026-12-04T03:08:45.180179536Z` (nanoseconds, which `fromisoformat` does not take)."""
    if not rfc3339 or rfc3339.startswith("0001-"):
        return 0.0
    head, _, rest = rfc3339.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    when = datetime.datetime.fromisoformat(head).replace(tzinfo=datetime.UTC)
    return when.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _repository(reference: str) -> str:
    """The repository an image reference names (`127.0.0.1:5000/agent:v2` -> `127.0.0.1:5000/agent`), in Docker's
    short form for Docker Hub (`docker.io/library/debian` -> `debian`), as `RepoDigests` spells it."""
    name = reference.split("@", 1)[0]
    if name.rfind(":") > name.rfind("/"):
        name = name[:name.rfind(":")]
    return name.removeprefix("docker.io/").removeprefix("library/")


def _status_of(state: dict[str, Any]) -> Status:
    value = state.get("Status", "")
    if value in ("running", "restarting", "paused"):
        return Status.RUNNING
    if value == "dead" or value == "removing":
        return Status.FAILED
    if value == "created":
        return Status.CREATING
    return Status.STOPPED


async def _nothing() -> None:
    return None


async def _report(progress: ProgressFn | None, message: str) -> None:
    log.info("%s", message)
    if progress is None:
        return
    result = progress(message)
    if inspect.isawaitable(result):
        await result
