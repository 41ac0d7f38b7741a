"""Run sessions as Kubernetes pods (one pod and one volume per session, labelled with home and session).

The work gets in and out without a git remote: a git bundle of the session branch is streamed into the
pod's volume through exec (`push_bundle`), and `fetch_bundle` streams one back out. Every blocking client
call runs in a thread. The pod objects themselves are built in `kube_objects`, attach/exec in `kube_stream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import io
import json
import logging
import os
import shlex
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from runtime.backends import kube_objects as objects
from runtime.backends.base import (
    LABEL_HOME,
    LABEL_RECORD,
    LABEL_SESSION,
    Attachment,
    Backend,
    ExecResult,
    Found,
    LaunchSpec,
    ProgressFn,
)
from runtime.backends.kube_status import StartWatch, status_of
from runtime.backends.kube_stream import KubeAttachment, join_replay, open_stream, run_exec
from runtime.backends.registry import capabilities_of
from runtime.errors import ClauderonError, Conflict
from runtime.models import Status
from runtime.settings import KubernetesSettings, Settings

if TYPE_CHECKING:
    from kubernetes.client import Configuration, CoreV1Api
    from kubernetes.client.exceptions import ApiException
    from urllib3 import BaseHTTPResponse

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.5

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class WorkspaceBundle:
    """A `git bundle` of the session branch, which becomes the pod's /workspace."""

    data: bytes
    branch: str


ENFORCING_PLUGINS = ("calico", "cilium", "antrea", "weave-net", "kube-router", "canal")
"""Name prefixes of kube-system pods of network plugins that enforce NetworkPolicy."""


class KubernetesBackend(Backend):
    """Sessions as pods in one namespace. `backend_id` is the pod name, `clauderon-<name>`."""

    name = "kubernetes"
    capabilities = capabilities_of(name)

    def __init__(self, settings: KubernetesSettings, home_id: str, ca_cert_pem: bytes | None = None) -> None:
        """`ca_cert_pem` is the proxy's CA certificate, mounted into every pod (None: no CA mount)."""
        self.settings = settings
        self.home_id = home_id
        self.ca_cert_pem = ca_cert_pem
        self.namespace = settings.namespace
        self._configuration: Configuration | None = None
        self._core: CoreV1Api | None = None
        self._load_lock = threading.Lock()  # calls arrive on several worker threads at once

    def default_image(self, settings: Settings) -> str | None:
        return settings.kubernetes.image

    # -- the client ------------------------------------------------------------------------------

    def _where(self) -> str:
        where = self.settings.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        return f"{where}" + (f" (context {self.settings.context})" if self.settings.context else "")

    def _load_sync(self) -> CoreV1Api:
        """The CoreV1Api for ordinary requests; the kubeconfig is read on first use."""
        with self._load_lock:
            return self._load_locked()

    def _load_locked(self) -> CoreV1Api:
        if self._core is None:
            from kubernetes import client, config

            configuration = client.Configuration()
            try:
                config.load_kube_config(  # type: ignore[no-untyped-call]  # the config loader is unannotated
                    config_file=self.settings.kubeconfig, context=self.settings.context,
                    client_configuration=configuration)
            except Exception as exc:  # missing file, unknown context, malformed YAML
                raise ClauderonError(f"cannot load kubeconfig {self._where()}: {exc}; "
                                     "set [kubernetes] kubeconfig/context or KUBECONFIG", status=503) from exc
            configuration.retries = 1  # an unreachable cluster should fail in seconds, not after retries
            self._configuration = configuration
            self._core = client.CoreV1Api(client.ApiClient(configuration))
        return self._core

    async def close(self) -> None:
        """Close the client's pooled connections (the backend can be used again afterwards)."""
        with self._load_lock:
            core, self._core = self._core, None
        if core is not None:
            await self._blocking(core.api_client.close)

    def _fresh_api(self) -> CoreV1Api:
        """A CoreV1Api on its own ApiClient, for one websocket stream (see `kube_stream`)."""
        from kubernetes import client

        self._load_sync()
        return client.CoreV1Api(client.ApiClient(self._configuration))

    def _api_host(self) -> str:
        """The API server's address from the kubeconfig (loaded by then: every caller has made a request)."""
        assert self._configuration is not None, "the kubeconfig is loaded before the first request"
        return self._configuration.host

    async def _call(self, fn: Callable[Concatenate[CoreV1Api, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(core_api, ...)` in a thread; unreachable clusters become the one clear line."""
        return await self._blocking(functools.partial(self._run_sync, fn, *args, **kwargs))

    def _run_sync(self, fn: Callable[Concatenate[CoreV1Api, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        import urllib3.exceptions

        core = self._load_sync()
        try:
            return fn(core, *args, **kwargs)
        except (urllib3.exceptions.HTTPError, ConnectionError) as exc:
            raise ClauderonError(f"cannot reach the Kubernetes API at {self._api_host()} "
                                 f"({exc.__class__.__name__}): check {self._where()} and the cluster",
                                 status=503) from exc

    # -- raw JSON helpers (dict bodies in, dicts out: the same shapes `kube_objects` builds) ------

    def _get(self, api: object, method: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """`api.<method>(...)` as a dict, or None when it does not exist."""
        return self._send(api, method, *args, ok_statuses=(404,), **kwargs)

    def _send(self, api: object, method: str, *args: Any, ok_statuses: tuple[int, ...] = (),
              **kwargs: Any) -> dict[str, Any] | None:
        """`api.<method>(...)` as parsed JSON; statuses in `ok_statuses` (404 on delete, 409 on create) give None.

        Raw responses (`_preload_content=False`) keep the objects as the API's own dicts, the same shapes
        `kube_objects` builds, instead of the generated model classes."""
        from kubernetes.client.exceptions import ApiException

        try:
            answer: dict[str, Any] | None = _json(getattr(api, method)(*args, _preload_content=False, **kwargs))
            return answer
        except ApiException as exc:
            if exc.status in ok_statuses:
                return None
            raise _api_error(exc, method.replace("_", " ")) from exc

    # -- availability -----------------------------------------------------------------------------

    async def available(self) -> tuple[bool, str]:
        from kubernetes import client

        def version(core: CoreV1Api) -> dict[str, Any]:
            api = client.VersionApi(core.api_client)
            answer: dict[str, Any] = _json(api.get_code(_preload_content=False, _request_timeout=5))
            return answer

        try:
            info = await self._call(version)
        except ClauderonError as exc:
            return False, exc.message
        except Exception as exc:  # never a traceback for an odd API server
            return False, (f"cannot reach the Kubernetes API via {self._where()} ({exc.__class__.__name__}): "
                           "check the cluster")
        return True, f"Kubernetes {info.get('gitVersion', '?')} at {self._api_host()}, namespace {self.namespace}"

    # -- create -----------------------------------------------------------------------------------

    async def network_policy_report(self) -> tuple[bool, str]:
        """(enforced as far as can be seen, one line): NetworkPolicy is only a wall if the cluster's network
        plugin enforces it, which the API cannot say; the plugin's pods in kube-system are the best hint."""
        def plugins(core: CoreV1Api) -> list[str]:
            listing = self._get(core, "list_namespaced_pod", "kube-system") or {}
            return [item["metadata"]["name"] for item in listing.get("items", [])]

        try:
            names = await self._call(plugins)
        except ClauderonError as exc:
            return False, f"cannot tell whether NetworkPolicy is enforced ({exc.message})"
        seen = sorted({plugin for plugin in ENFORCING_PLUGINS for name in names if name.startswith(plugin)})
        if seen:
            return True, f"NetworkPolicy enforced by {', '.join(seen)} (seen in kube-system): pods reach only the proxy"
        return False, ("no NetworkPolicy-enforcing network plugin seen in kube-system (calico, cilium, antrea, "
                       "weave, kube-router); without one a pod's egress is not limited to the proxy")

    async def owner_of(self, name: str) -> str | None:
        def owner(core: CoreV1Api) -> str | None:
            for method in ("read_namespaced_pod", "read_namespaced_persistent_volume_claim"):
                found = self._get(core, method, objects.pod_name(name), self.namespace)
                if found is not None:
                    home: str = (found["metadata"].get("labels") or {}).get(LABEL_HOME, "")
                    return home
            return None

        return await self._call(owner)

    async def create(self, spec: LaunchSpec, progress: ProgressFn | None = None, *,
                     bundle: WorkspaceBundle | None = None) -> str:
        """Create the volume (or reuse the archived one), start the pod, fill /workspace, release the agent.

        `bundle` (or `spec.workspace_bundle`) is the session branch for a new session; a reused volume
        already holds its work."""
        if bundle is None and spec.workspace_bundle is not None:
            bundle = WorkspaceBundle(spec.workspace_bundle, spec.branch)
        name = objects.pod_name(spec.name)
        pod = objects.pod_object(spec, self.settings, with_ca=self.ca_cert_pem is not None)  # validates first
        pvc = objects.pvc_object(spec, self.settings)
        await self._call(self._ensure_namespace_and_ca)
        created_pvc = await self._call(self._claim_volume, spec, pvc)
        verb = "creating" if created_pvc else "reusing"
        await _report(progress, f"{verb} volume {name} in namespace {self.namespace}")
        try:
            await self._call(self._put_proxy_secret, objects.proxy_secret(spec))
            if self.settings.proxy_url:  # before the pod: it never runs a moment without the wall
                await self._call(self._put_network_policy, objects.network_policy(spec, self.settings.proxy_url))
            await _report(progress, f"creating pod {name}")
            await self._call(lambda core: self._send(core, "create_namespaced_pod", self.namespace, pod))
            await self._wait_running(name, progress)
            if bundle is not None and created_pvc:
                await _report(progress, f"copying branch {bundle.branch} into the pod")
                await self.push_bundle(name, bundle.data, bundle.branch)
            await self._seed_home(name, spec)
            await self._exec_checked(name, ["sh", "-c", f"touch {shlex.quote(objects.READY_FILE)}"])
        except BaseException:
            try:
                await self._delete(name, volume=created_pvc)
            except Exception as exc:  # the original failure is the one to report
                log.warning("could not clean up %s after a failed create: %s", name, exc)
            raise
        return name

    def _ensure_namespace_and_ca(self, core: CoreV1Api) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            core.read_namespace(self.namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                log.info("creating namespace %s", self.namespace)
                self._send(core, "create_namespace", objects.namespace_object(self.namespace), ok_statuses=(409,))
            elif exc.status != 403:  # namespace-scoped credentials may not read namespaces: assume it exists
                raise _api_error(exc, "read namespace") from exc
        if self.ca_cert_pem is not None:
            body = objects.ca_configmap(self.ca_cert_pem, self.home_id)
            current = self._get(core, "read_namespaced_config_map", objects.CA_CONFIGMAP, self.namespace)
            if current is None:
                self._send(core, "create_namespaced_config_map", self.namespace, body, ok_statuses=(409,))
            elif (current.get("data") or {}) != body["data"]:  # the CA was regenerated
                self._send(core, "replace_namespaced_config_map", objects.CA_CONFIGMAP, self.namespace, body)

    def _claim_volume(self, core: CoreV1Api, spec: LaunchSpec, pvc: dict[str, Any]) -> bool:
        """True when the volume was created now; False when an archived one of this home is reused."""
        name = pvc["metadata"]["name"]
        if self._get(core, "read_namespaced_pod", name, self.namespace) is not None:
            raise Conflict(f"a pod named {name} already exists in namespace {self.namespace}: "
                           "remove the old session first or pick another name")
        current = self._get(core, "read_namespaced_persistent_volume_claim", name, self.namespace)
        if current is None:
            self._send(core, "create_namespaced_persistent_volume_claim", self.namespace, pvc)
            return True
        owner = (current["metadata"].get("labels") or {}).get(LABEL_HOME)
        if owner != spec.home_id:
            raise Conflict(f"a volume named {name} belongs to another clauderon home: pick another session name")
        return False

    async def _wait_running(self, name: str, progress: ProgressFn | None) -> None:
        """Poll the pod until it runs; scheduling and image events become progress, then the error."""
        watch = StartWatch(name, self.namespace, self.settings.start_timeout)
        while True:
            pod, events = await self._call(self._pod_and_events, name)
            running = watch.observe(pod, events)
            for message in watch.take_messages():
                await _report(progress, message)
            if watch.error is not None:
                raise watch.error
            if running:
                return
            await asyncio.sleep(_POLL_SECONDS)

    def _pod_and_events(self, core: CoreV1Api, name: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        pod = self._get(core, "read_namespaced_pod", name, self.namespace)
        listing = self._get(core, "list_namespaced_event", self.namespace,
                            field_selector=f"involvedObject.name={name}") or {}
        return pod, listing.get("items") or []

    async def _seed_home(self, name: str, spec: LaunchSpec) -> None:
        """Copy the engine-written agent home (config, placeholder keys) over the volume's, keeping the rest."""
        source = next((m.host for m in spec.mounts if m.path == objects.AGENT_HOME and os.path.isdir(m.host)), None)
        if source is None:
            return
        data = await self._blocking(_tar_directory, source)
        script = f"head -c {len(data)} | tar -x -f - -C {shlex.quote(objects.AGENT_HOME)}"
        await self._exec_checked(name, ["sh", "-c", script], stdin=data, what="copying the agent home")

    # -- the work in and out ----------------------------------------------------------------------

    async def exec(self, backend_id: str, argv: list[str], *, stdin: bytes | None = None,
                   timeout: float = 600.0) -> ExecResult:
        """Run `argv` in the session's container (no TTY) and collect stdout, stderr and the exit code."""
        return await self._blocking(run_exec, self._fresh_api, self.namespace, backend_id, objects.CONTAINER,
                                       argv, stdin=stdin, timeout=timeout)

    async def _exec_checked(self, backend_id: str, argv: list[str], *, stdin: bytes | None = None,
                            what: str | None = None) -> bytes:
        result = await self.exec(backend_id, argv, stdin=stdin)
        if result.exit_code != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            what = what or f"`{shlex.join(argv)[:60]}`"
            raise ClauderonError(f"{what} failed in pod {backend_id} (exit {result.exit_code}): "
                                 f"{detail[-1] if detail else 'no error output'}")
        return result.stdout

    async def exec_read(self, backend_id: str, argv: list[str]) -> bytes:
        """Stdout of `argv` run in the pod (files, transcripts); a failure is one clear error."""
        return await self._exec_checked(backend_id, argv)

    async def push_bundle(self, backend_id: str, bundle: bytes, branch: str) -> None:
        """Stream a git bundle into the pod: clone it into an empty /workspace, else fetch it alongside.

        The bundle goes through exec stdin; `head -c` reads exactly its size, since a v4 stream
        cannot signal the end of stdin."""
        await self._exec_checked(backend_id, ["sh", "-c", push_script(len(bundle), branch)], stdin=bundle,
                                 what=f"copying branch {branch} into the workspace")

    async def fetch_bundle(self, backend_id: str, branch: str) -> bytes:
        """A git bundle of `branch` as it is in the pod's /workspace (for `clauderon pull`)."""
        return await self._exec_checked(backend_id, ["git", "-C", objects.WORKSPACE, "bundle", "create", "-", branch])

    # -- lifecycle --------------------------------------------------------------------------------

    def _put_proxy_secret(self, core: CoreV1Api, body: dict[str, Any]) -> None:
        """This launch's proxy credentials (a new password each launch) replace any older ones."""
        name = body["metadata"]["name"]
        self._send(core, "delete_namespaced_secret", name, self.namespace, ok_statuses=(404,))
        self._send(core, "create_namespaced_secret", self.namespace, body)

    def _put_network_policy(self, core: CoreV1Api, body: dict[str, Any]) -> None:
        from kubernetes import client

        networking = client.NetworkingV1Api(core.api_client)
        name = body["metadata"]["name"]
        self._send(networking, "delete_namespaced_network_policy", name, self.namespace, ok_statuses=(404,))
        self._send(networking, "create_namespaced_network_policy", self.namespace, body)

    async def _delete(self, name: str, *, volume: bool) -> None:
        def delete(core: CoreV1Api) -> None:
            from kubernetes import client

            self._send(core, "delete_namespaced_pod", name, self.namespace, grace_period_seconds=0, ok_statuses=(404,))
            # The proxy password and the egress policy go with the pod (archive too: the next launch makes new ones).
            session = name.removeprefix(objects.PREFIX)
            self._send(core, "delete_namespaced_secret", objects.proxy_secret_name(session), self.namespace,
                       ok_statuses=(404,))
            self._send(client.NetworkingV1Api(core.api_client), "delete_namespaced_network_policy",
                       objects.network_policy_name(session), self.namespace, ok_statuses=(404,))
            if volume:
                self._send(core, "delete_namespaced_persistent_volume_claim", name, self.namespace, ok_statuses=(404,))

        await self._call(delete)

    async def remove(self, backend_id: str) -> None:
        """Delete the pod and its volume (the session's work and conversation go with it)."""
        await self._delete(backend_id, volume=True)

    async def archive(self, backend_id: str) -> None:
        """Delete the pod but keep its volume; `create` with the same name reuses it."""
        await self._delete(backend_id, volume=False)

    async def status(self, backend_id: str) -> Status:
        pod = await self._call(lambda core: self._get(core, "read_namespaced_pod", backend_id, self.namespace))
        if pod is None:
            return Status.FAILED
        return status_of(pod)

    async def list_owned(self, home_id: str) -> list[Found]:
        def owned(core: CoreV1Api) -> list[Found]:
            selector = f"{LABEL_HOME}={home_id}"
            listing = self._get(core, "list_namespaced_pod", self.namespace, label_selector=selector) or {}
            found = []
            for pod in listing.get("items") or []:
                meta = pod["metadata"]
                labels = dict(meta.get("labels") or {})
                record = (meta.get("annotations") or {}).get(LABEL_RECORD)
                if record:
                    labels[LABEL_RECORD] = record
                found.append(Found(session_id=labels.get(LABEL_SESSION, ""), backend_id=meta["name"],
                                   status=status_of(pod), labels=labels))
            return found

        return await self._call(owned)

    async def recent_output(self, backend_id: str, max_bytes: int) -> bytes:
        tail = max(200, max_bytes // 40)  # roughly enough lines, then cut to size
        data = await self._call(self._log, backend_id, tail)
        return data[-max_bytes:] if max_bytes > 0 else b""

    def _log(self, core: CoreV1Api, name: str, tail: int | None = None) -> bytes:
        from kubernetes.client.exceptions import ApiException

        kwargs: dict[str, Any] = {"container": objects.CONTAINER}
        if tail is not None:
            kwargs["tail_lines"] = tail
        try:
            return _raw(core.read_namespaced_pod_log(name, self.namespace, _preload_content=False, **kwargs)).data
        except ApiException as exc:
            if exc.status in (400, 404):  # gone, or not started yet: nothing printed
                return b""
            raise _api_error(exc, "read pod log") from exc

    async def attach(self, backend_id: str, *, replay: bool = False) -> Attachment:
        """The pod's TTY; with `replay`, the pod log first, joined to the live stream without overlap."""
        ws = await self._blocking(open_stream, self._fresh_api, "attach", self.namespace, backend_id,
                                     container=objects.CONTAINER, tty=True, stdin=True)
        attachment = KubeAttachment(ws, asyncio.get_running_loop(), lambda: self._run_sync(self._exit_code, backend_id))
        first = b""
        if replay:
            # The stream is open before the log is read, so nothing printed in between is lost.
            log_bytes = await self._call(self._log, backend_id)
            first = join_replay(log_bytes, await self._blocking(attachment.take_buffered))
        attachment.start(first)
        return attachment


    def _exit_code(self, core: CoreV1Api, name: str) -> int | None:
        """The container's exit code from the pod status, when it has terminated."""
        pod = self._get(core, "read_namespaced_pod", name, self.namespace) or {}
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated is not None:
                code: int | None = terminated.get("exitCode")
                return code
        return None


def push_script(size: int, branch: str) -> str:
    """Read `size` bytes of bundle from stdin; clone into an empty /workspace, else fetch to `clauderon/<branch>`."""
    ws, ref = shlex.quote(objects.WORKSPACE), shlex.quote(branch)
    return (
        "set -e; tmp=$(mktemp); trap 'rm -f \"$tmp\"' EXIT; "
        f"head -c {size} > \"$tmp\"; "
        f"if [ -d {ws}/.git ]; then git -C {ws} fetch -q \"$tmp\" "
        f"{shlex.quote(f'+refs/heads/{branch}:refs/remotes/clauderon/{branch}')}; "
        f"else git clone -q --branch {ref} \"$tmp\" {ws}; git -C {ws} remote remove origin; fi"
    )


async def _report(progress: ProgressFn | None, message: str) -> None:
    log.info("%s", message)
    if progress is not None:
        result = progress(message)
        if inspect.isawaitable(result):
            await result


def _tar_directory(path: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in sorted(os.listdir(path)):
            tar.add(os.path.join(path, entry), arcname=entry)
    return buffer.getvalue()


def _raw(response: object) -> BaseHTTPResponse:
    """A call made with `_preload_content=False` answers with the raw urllib3 response, whatever type the
    generated method declares."""
    return cast("BaseHTTPResponse", response)


def _json(response: object) -> Any:
    return json.loads(_raw(response).data or b"null")


def _api_error(exc: ApiException, action: str) -> ClauderonError:
    message = exc.reason or ""
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(exc.body or "{}").get("message") or message
    return ClauderonError(f"Kubernetes API refused to {action} (HTTP {exc.status}): {message}",
                          status=503 if exc.status in (0, 401, 403) or (exc.status or 0) >= 500 else 400)
