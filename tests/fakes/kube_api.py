"""A fake Kubernetes API server on 127.0.0.1 that speaks the real REST paths and the exec/attach websocket.

No API server can be installed here, so this one answers what the official `kubernetes` client sends:

- `GET /version`; namespaces (`/api/v1/namespaces[/{name}]`); pods, PVCs and ConfigMaps under
  `/api/v1/namespaces/{ns}/...`: create (POST), get, list (with `labelSelector`), replace (PUT), delete;
  `.../pods/{name}/log` (`tailLines`, `limitBytes`); `.../events` (`fieldSelector=involvedObject.name=`).
  Objects in a missing namespace are refused (404) like a real server; names clash with 409.
- `.../pods/{name}/attach` and `.../pods/{name}/exec` as websockets with the `v5.channel.k8s.io` or
  `v4.channel.k8s.io` subprotocol: every frame starts with its channel byte (0 stdin, 1 stdout,
  2 stderr, 3 status JSON, 4 resize JSON, 255 v5 close), the last frame is the status on channel 3.

A pod's container is real: its command runs on the host under a pty (`ptyprocess`), so attach, echo
and resize (`stty size`) are real; exec runs real commands (git, tar, sh). Volumes are host directories
(one per PVC with `subPath`s inside it, one per pod and emptyDir, ConfigMap keys written to files); container
paths in the command, arguments, environment and working directory are rewritten to those directories, the way
a kubelet's mounts would make them appear. Security contexts, resources and images are recorded, not enforced;
an image listed in `failing_images` never pulls (`ErrImagePull`, then `ImagePullBackOff`, with events).

Every request is recorded (`requests`), every object body exactly as sent (`received`), and every
exec with its argv, the stdin bytes it got, and its exit code (`execs`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import logging
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from ptyprocess import PtyProcess

log = logging.getLogger(__name__)

TOKEN = "fake-cluster-token"
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
KINDS = {"pods": "Pod", "persistentvolumeclaims": "PersistentVolumeClaim", "configmaps": "ConfigMap", "events": "Event",
         "secrets": "Secret", "networkpolicies": "NetworkPolicy"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    return web.json_response(body, status=code)


def _exit_status(code: int) -> bytes:
    """The channel-3 status a kubelet sends when a process ends."""
    if code == 0:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps({
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": f"command terminated with non-zero exit code: error executing command, exit status {code}",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }).encode()


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class ExecRecord:
    pod: str
    argv: list[str]
    stdin: bytearray = field(default_factory=bytearray)
    exit_code: int | None = None
    protocol: str = ""


class PodRuntime:
    """The one container of a running pod: a real process under a pty, its log, and its attach clients."""

    def __init__(self, proc: PtyProcess, loop: asyncio.AbstractEventLoop) -> None:
        self.proc = proc
        self.log = bytearray()
        self.listeners: set[asyncio.Queue[bytes | None]] = set()
        self.exit_code: int | None = None
        self.done = asyncio.Event()
        self._loop = loop
        os.set_blocking(proc.fd, False)
        loop.add_reader(proc.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.proc.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.log += data
            for queue in self.listeners:
                queue.put_nowait(data)
            return
        self._loop.remove_reader(self.proc.fd)
        self._loop.create_task(self._reap())

    async def _reap(self) -> None:
        await asyncio.to_thread(self.proc.wait)
        status = self.proc.exitstatus
        self.exit_code = status if status is not None else 128 + (self.proc.signalstatus or 0)
        self.done.set()
        for queue in self.listeners:
            queue.put_nowait(None)

    def kill(self) -> None:
        if self.exit_code is None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self.proc.fd)
            self.proc.terminate(force=True)
            if not self.done.is_set():  # end the attach streams as the container's death would
                self._loop.create_task(self._reap())


class FakeKubeAPI:
    """The fake server; `await start()`, `write_kubeconfig(path)`, inspect, `await stop()`."""

    def __init__(self, root: Path, *, protocols: tuple[str, ...] = PROTOCOLS) -> None:
        self.root = root
        self.protocols = protocols
        self.namespaces: dict[str, dict[str, Any]] = {
            name: {"metadata": {"name": name}} for name in ("default", "kube-system")}  # as every cluster has
        self.store: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (namespace, plural) -> name -> obj
        self.runtimes: dict[tuple[str, str], PodRuntime] = {}
        self.requests: list[tuple[str, str]] = []
        self.received: list[dict[str, Any]] = []
        self.execs: list[ExecRecord] = []
        self.failing_images: set[str] = set()
        self.unschedulable = False
        self.attach_sends_status = True  # False: end attach streams without a channel-3 status
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._auth], client_max_size=256 * 1024 * 1024)
        app.router.add_get("/version", self._version)
        app.router.add_get("/version/", self._version)  # the client asks with the slash
        app.router.add_route("*", "/api/v1/namespaces", self._namespaces)
        app.router.add_route("*", "/api/v1/namespaces/{name}", self._namespace)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", self._log)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/attach", self._attach)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/exec", self._exec)
        app.router.add_route("*", "/api/v1/namespaces/{ns}/{plural}", self._collection)
        app.router.add_route("*", "/api/v1/namespaces/{ns}/{plural}/{name}", self._item)
        # networking.k8s.io/v1 (NetworkPolicy) is another API group with the same REST shapes.
        app.router.add_route("*", "/apis/networking.k8s.io/v1/namespaces/{ns}/{plural}", self._collection)
        app.router.add_route("*", "/apis/networking.k8s.io/v1/namespaces/{ns}/{plural}/{name}", self._item)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for runtime in self.runtimes.values():
            runtime.kill()
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    def write_kubeconfig(self, path: Path, *, context: str = "fake") -> Path:
        """A kubeconfig (JSON is YAML) pointing the official client at this server with a bearer token."""
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": TOKEN}}],
            "contexts": [{"name": context, "context": {"cluster": "fake", "user": "fake"}}],
        }
        path.write_text(json.dumps(config))
        return path

    # -- inspection helpers for tests -------------------------------------------------------------

    def objects(self, namespace: str, plural: str) -> dict[str, dict[str, Any]]:
        return self.store.get((namespace, plural), {})

    def sent(self, kind: str) -> list[dict[str, Any]]:
        """Every body of `kind` the client sent, exactly as received."""
        return [body for body in self.received if body.get("kind") == kind]

    def volume_dir(self, namespace: str, claim: str) -> Path:
        return self.root / "volumes" / namespace / claim

    # -- plumbing ---------------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _status(401, "Unauthorized", "Unauthorized")
        return await handler(request)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        self.received.append(copy.deepcopy(body))
        return body

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake", "platform": "linux/amd64"})

    def _finish(self, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta["creationTimestamp"] = _now()
        meta["resourceVersion"] = str(len(self.requests))
        if namespace is not None:
            meta["namespace"] = namespace
        return obj

    # -- namespaces -------------------------------------------------------------------------------

    async def _namespaces(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return web.json_response({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {},
                                      "items": list(self.namespaces.values())})
        if request.method != "POST":
            return _status(405, "MethodNotAllowed", request.method)
        body = await self._body(request)
        name = body["metadata"]["name"]
        if name in self.namespaces:
            return _status(409, "AlreadyExists", f'namespaces "{name}" already exists')
        body["status"] = {"phase": "Active"}
        self.namespaces[name] = self._finish(body, None)
        return web.json_response(body, status=201)

    async def _namespace(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.namespaces:
            return _status(404, "NotFound", f'namespaces "{name}" not found')
        if request.method == "DELETE":
            return web.json_response(self.namespaces.pop(name))
        return web.json_response(self.namespaces[name])

    # -- generic collections ----------------------------------------------------------------------

    async def _collection(self, request: web.Request) -> web.Response:
        ns, plural = request.match_info["ns"], request.match_info["plural"]
        if plural not in KINDS:
            return _status(404, "NotFound", f"the server could not find the requested resource ({plural})")
        if ns not in self.namespaces:
            return _status(404, "NotFound", f'namespaces "{ns}" not found')
        items = self.store.setdefault((ns, plural), {})
        if request.method == "GET":
            selected = list(items.values())
            selector = request.query.get("labelSelector", "")
            selected = [o for o in selected if _selector_matches(selector, o["metadata"].get("labels") or {})]
            field_selector = request.query.get("fieldSelector", "")
            if field_selector.startswith("involvedObject.name="):
                wanted = field_selector.split("=", 1)[1]
                selected = [o for o in selected if o.get("involvedObject", {}).get("name") == wanted]
            return web.json_response({"kind": f"{KINDS[plural]}List", "apiVersion": "v1",
                                      "metadata": {"resourceVersion": str(len(self.requests))}, "items": selected})
        if request.method != "POST":
            return _status(405, "MethodNotAllowed", request.method)
        body = await self._body(request)
        name = body["metadata"]["name"]
        if name in items:
            return _status(409, "AlreadyExists", f'{plural} "{name}" already exists')
        items[name] = self._finish(body, ns)
        if plural == "pods":
            self._admit_pod(ns, body)
        elif plural == "persistentvolumeclaims":
            body["status"] = {"phase": "Bound"}
            self.volume_dir(ns, name).mkdir(parents=True, exist_ok=True)
        return web.json_response(body, status=201)

    async def _item(self, request: web.Request) -> web.Response:
        ns, plural, name = request.match_info["ns"], request.match_info["plural"], request.match_info["name"]
        items = self.store.get((ns, plural), {})
        if plural not in KINDS or name not in items:
            return _status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return web.json_response(items[name])
        if request.method == "PUT":
            body = await self._body(request)
            items[name] = self._finish(body, ns)
            return web.json_response(body)
        if request.method == "DELETE":
            obj = items.pop(name)
            if plural == "pods":
                runtime = self.runtimes.pop((ns, name), None)
                if runtime is not None:
                    runtime.kill()
            elif plural == "persistentvolumeclaims":
                shutil.rmtree(self.volume_dir(ns, name), ignore_errors=True)
            return web.json_response(obj)
        return _status(405, "MethodNotAllowed", request.method)

    # -- pods: scheduling, images, the container --------------------------------------------------

    def _event(self, ns: str, pod: str, type_: str, reason: str, message: str) -> None:
        name = f"{pod}.{uuid.uuid4().hex[:8]}"
        uid = self.objects(ns, "pods").get(pod, {}).get("metadata", {}).get("uid", "")
        self.store.setdefault((ns, "events"), {})[name] = {
            "metadata": {"name": name, "namespace": ns}, "type": type_, "reason": reason, "message": message,
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": ns, "uid": uid}, "lastTimestamp": _now(),
        }

    def _admit_pod(self, ns: str, pod: dict[str, Any]) -> None:
        container = pod["spec"]["containers"][0]
        context = {**(pod["spec"].get("securityContext") or {}), **(container.get("securityContext") or {})}
        if context.get("runAsNonRoot") and context.get("runAsUser", 0) == 0:
            # A kubelet refuses to start it (it cannot prove the process is not root).
            pod["status"] = {"phase": "Pending", "conditions": [], "containerStatuses": [
                {"name": container["name"], "ready": False, "restartCount": 0, "image": container["image"],
                 "state": {"waiting": {"reason": "CreateContainerConfigError",
                                       "message": "container has runAsNonRoot and image will run as root"}}}]}
            return
        pod["status"] = {"phase": "Pending", "conditions": [], "containerStatuses": [
            {"name": container["name"], "ready": False, "restartCount": 0, "image": container["image"],
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        self._spawn(self._run_pod(ns, pod))

    async def _run_pod(self, ns: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        status = pod["status"]
        container = pod["spec"]["containers"][0]
        await asyncio.sleep(0.05)  # let the client see Pending first, as it would on a real cluster
        if self.unschedulable:
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": "0/1 nodes are available: 1 Insufficient memory."}]
            status["containerStatuses"][0]["state"] = {"waiting": {"reason": "Pending"}}
            self._event(ns, name, "Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient memory.")
            return
        status["conditions"] = [{"type": "PodScheduled", "status": "True"}]
        self._event(ns, name, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to fake-node")
        image = container["image"]
        if image in self.failing_images:
            message = f'Failed to pull image "{image}": not found'
            status["containerStatuses"][0]["state"] = {"waiting": {"reason": "ErrImagePull", "message": message}}
            # A kubelet reports a failed pull as two events: the cause, then the waiting reason.
            self._event(ns, name, "Warning", "Failed", message)
            self._event(ns, name, "Warning", "Failed", "Error: ErrImagePull")
            await asyncio.sleep(0.3)
            back_off = f'Back-off pulling image "{image}"'
            status["containerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": back_off}}
            self._event(ns, name, "Normal", "BackOff", back_off)
            self._event(ns, name, "Warning", "Failed", "Error: ImagePullBackOff")
            return
        mapping = self._mounts(ns, pod)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for entry in container.get("env") or []:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref is not None:  # as a kubelet does: the value comes from the Secret, base64-decoded
                secret = self.store.get((ns, "secrets"), {}).get(ref["name"])
                if secret is None or ref["key"] not in (secret.get("data") or {}):
                    message = f'secret "{ref["name"]}" not found' if secret is None else f'key {ref["key"]} missing'
                    status["containerStatuses"][0]["state"] = {
                        "waiting": {"reason": "CreateContainerConfigError", "message": message}}
                    self._event(ns, name, "Warning", "Failed", f"Error: {message}")
                    return
                env[entry["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
            else:
                env[entry["name"]] = self._map(entry.get("value", ""), mapping)
        argv = [self._map(a, mapping) for a in (container.get("command") or []) + (container.get("args") or [])]
        cwd = self._map(container.get("workingDir") or "/", mapping)
        proc = PtyProcess.spawn(argv, cwd=cwd, env=env, dimensions=(24, 80), echo=True)
        runtime = PodRuntime(proc, asyncio.get_running_loop())
        self.runtimes[(ns, name)] = runtime
        self._event(ns, name, "Normal", "Started", f"Started container {container['name']}")
        status["phase"] = "Running"
        status["containerStatuses"][0].update(ready=True, state={"running": {"startedAt": _now()}})
        await runtime.done.wait()
        status["phase"] = "Succeeded" if runtime.exit_code == 0 else "Failed"
        status["containerStatuses"][0].update(ready=False, state={"terminated": {
            "exitCode": runtime.exit_code, "reason": "Completed" if runtime.exit_code == 0 else "Error"}})

    def _mounts(self, ns: str, pod: dict[str, Any]) -> list[tuple[str, str]]:
        """(container path, host path) for each volume mount, longest container path first."""
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        mapping = []
        for mount in pod["spec"]["containers"][0].get("volumeMounts") or []:
            volume = volumes[mount["name"]]
            sub = mount.get("subPath", "")
            if "persistentVolumeClaim" in volume:
                host = self.volume_dir(ns, volume["persistentVolumeClaim"]["claimName"]) / sub
                host.mkdir(parents=True, exist_ok=True)
            elif "emptyDir" in volume:
                host = self.root / "emptydirs" / ns / pod["metadata"]["uid"] / mount["name"]
                host.mkdir(parents=True, exist_ok=True)
            elif "configMap" in volume:
                data = self.objects(ns, "configmaps")[volume["configMap"]["name"]].get("data") or {}
                directory = self.root / "configmaps" / ns / pod["metadata"]["uid"] / mount["name"]
                directory.mkdir(parents=True, exist_ok=True)
                for key, value in data.items():  # a kubelet projects every key as a file
                    (directory / key).write_text(value)
                host = directory / sub
            else:
                raise ValueError(f"fake kube API: unsupported volume {volume}")
            mapping.append((mount["mountPath"], str(host)))
        return sorted(mapping, key=lambda m: -len(m[0]))

    @staticmethod
    def _map(text: str, mapping: list[tuple[str, str]]) -> str:
        """Container paths to host paths in one pass (longest first), so a replacement is never rewritten."""
        if not mapping:
            return text
        hosts = dict(mapping)
        pattern = re.compile("|".join(re.escape(path) for path, _ in mapping))
        return pattern.sub(lambda m: hosts[m.group(0)], text)

    # -- logs, attach, exec -----------------------------------------------------------------------

    def _runtime(self, request: web.Request) -> tuple[PodRuntime | None, web.Response | None]:
        ns, name = request.match_info["ns"], request.match_info["name"]
        if name not in self.objects(ns, "pods"):
            return None, _status(404, "NotFound", f'pods "{name}" not found')
        runtime = self.runtimes.get((ns, name))
        if runtime is None:
            return None, _status(400, "BadRequest",
                                 f'container "agent" in pod "{name}" is waiting to start: ContainerCreating')
        return runtime, None

    async def _log(self, request: web.Request) -> web.Response:
        runtime, error = self._runtime(request)
        if error is not None:
            return error
        data = bytes(runtime.log)
        if "tailLines" in request.query:
            lines = data.split(b"\n")
            data = b"\n".join(lines[-(int(request.query["tailLines"]) + 1):])
        if "limitBytes" in request.query:
            data = data[: int(request.query["limitBytes"])]
        return web.Response(body=data, content_type="text/plain")

    async def _open_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=self.protocols, max_msg_size=0)
        await ws.prepare(request)
        for channel in (1, 2, 3):  # empty frames on open, which a client must ignore
            await ws.send_bytes(bytes([channel]))
        return ws

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        runtime, error = self._runtime(request)
        if error is not None:
            return error
        ws = await self._open_ws(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        runtime.listeners.add(queue)

        async def pump_out() -> None:
            while (data := await queue.get()) is not None:
                await ws.send_bytes(b"\x01" + data)
            if self.attach_sends_status:
                await ws.send_bytes(b"\x03" + _exit_status(runtime.exit_code or 0))
            await ws.close()

        out = asyncio.ensure_future(pump_out())
        try:
            async for msg in ws:
                data = msg.data.encode() if msg.type == WSMsgType.TEXT else msg.data
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT) or not data:
                    continue
                if data[0] == 0 and runtime.exit_code is None:
                    os.write(runtime.proc.fd, data[1:])
                elif data[0] == 4:
                    size = json.loads(data[1:])
                    runtime.proc.setwinsize(size["Height"], size["Width"])
        finally:
            runtime.listeners.discard(queue)
            if not out.done():
                out.cancel()
        return ws

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        runtime, error = self._runtime(request)
        if error is not None:
            return error
        if request.query.get("tty") == "true":
            return _status(400, "BadRequest", "the fake kube API runs exec without a tty only")
        ns, name = request.match_info["ns"], request.match_info["name"]
        pod = self.objects(ns, "pods")[name]
        mapping = self._mounts(ns, pod)
        record = ExecRecord(pod=name, argv=request.query.getall("command", []))
        self.execs.append(record)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self._map("/home/agent", mapping)}
        ws = await self._open_ws(request)
        record.protocol = ws.ws_protocol or ""
        try:
            proc = await asyncio.create_subprocess_exec(
                *[self._map(a, mapping) for a in record.argv],
                cwd=self._map(pod["spec"]["containers"][0].get("workingDir", "/"), mapping), env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except (FileNotFoundError, PermissionError) as exc:  # what a runtime reports for a missing binary
            record.exit_code = 127
            await ws.send_bytes(b"\x02" + f"exec: {exc}\n".encode())
            await ws.send_bytes(b"\x03" + _exit_status(127))
            await ws.close()
            return ws

        async def forward(stream: asyncio.StreamReader, channel: int) -> None:
            while data := await stream.read(65536):
                await ws.send_bytes(bytes([channel]) + data)

        async def pump_in() -> None:
            async for msg in ws:
                data = msg.data.encode() if msg.type == WSMsgType.TEXT else msg.data
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT) or not data:
                    continue
                if data[0] == 0 and proc.stdin is not None and not proc.stdin.is_closing():
                    record.stdin += data[1:]
                    proc.stdin.write(data[1:])
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        await proc.stdin.drain()
                elif data[0] == 255 and data[1:2] == b"\x00" and proc.stdin is not None:
                    proc.stdin.close()  # v5: the client closed stdin

        reader = asyncio.ensure_future(pump_in())
        await asyncio.gather(forward(proc.stdout, 1), forward(proc.stderr, 2))
        record.exit_code = await proc.wait()
        await ws.send_bytes(b"\x03" + _exit_status(record.exit_code))
        await ws.close()
        reader.cancel()
        return ws


class FakeKubeThread:
    """The async fake API server on its own loop thread, for tests that drive the CLI synchronously."""

    def __init__(self, root: Path) -> None:
        self.api = FakeKubeAPI(root)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.api.start(), self.loop).result(30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.api.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
