"""The Kubernetes objects a session is made of, as plain API dicts (pure functions, no client).

A session is a pod `clauderon-<name>` and a PVC of the same name holding `/workspace` and the agent's
home (so archiving a session keeps its work and conversation), plus one ConfigMap per namespace with
the proxy's CA certificate. Nothing here carries a real credential: the environment comes from the
engine's `LaunchSpec`, which only ever holds placeholders and the session's own proxy password.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

from runtime.backends.base import LABEL_HOME, LABEL_NAME, LABEL_RECORD, LABEL_SESSION, LaunchSpec
from runtime.errors import ClauderonError
from runtime.settings import KubernetesSettings

PREFIX = "clauderon-"
CONTAINER = "agent"
WORKSPACE = "/workspace"
AGENT_HOME = "/home/agent"
# Where the proxy's CA lands; the same path as `proxy.CA_MOUNT_PATH`, which the agent's environment
# (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, ...) already points at.
CA_PATH = "/etc/clauderon/proxy-ca.pem"
CA_CONFIGMAP = "clauderon-proxy-ca"
CA_KEY = "proxy-ca.pem"
# The agent waits for this file before it starts, so it never sees an empty /workspace: the backend
# streams the git bundle (and the agent home) in through exec, then creates it. It lives on a per-pod
# emptyDir, so a restarted pod waits again and the agent's git status never shows it.
RUN_DIR = "/run/clauderon"
READY_FILE = f"{RUN_DIR}/ready"

# Kubernetes label values: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric.
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$")
_MEMORY_UNITS = {"b": "", "k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}


def pod_name(name: str) -> str:
    """The pod (and PVC) name of session `name`."""
    return f"{PREFIX}{name}"


def labels_of(spec: LaunchSpec) -> dict[str, str]:
    """The session's labels without the record, which is too long for a label (it is an annotation)."""
    labels = {LABEL_SESSION: spec.session_id, LABEL_HOME: spec.home_id, LABEL_NAME: spec.name}
    for key, value in labels.items():
        if not _LABEL_VALUE.match(value):
            raise ClauderonError(f"{key}={value!r} is not a valid Kubernetes label value: "
                                 "use at most 63 letters, digits, '.', '_' or '-'")
    return labels


def annotations_of(spec: LaunchSpec) -> dict[str, str]:
    return {LABEL_RECORD: spec.record} if spec.record else {}


def metadata(name: str, spec: LaunchSpec) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels_of(spec)}
    if spec.record:
        meta["annotations"] = annotations_of(spec)
    return meta


def namespace_object(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}


def ca_configmap(ca_pem: bytes, home_id: str) -> dict[str, Any]:
    """The proxy CA (a public certificate, not a secret) for every session pod of the namespace."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": CA_CONFIGMAP, "labels": {LABEL_HOME: home_id}},
        "data": {CA_KEY: ca_pem.decode("ascii")},
    }


def pvc_object(spec: LaunchSpec, settings: KubernetesSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": metadata(pod_name(spec.name), spec),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": settings.storage_size}}},
    }
    if settings.storage_class:
        body["spec"]["storageClassName"] = settings.storage_class
    return body


def memory_quantity(value: str) -> str:
    """Docker-style memory (`4g`, `512m`, `1024`) as a Kubernetes quantity (`4Gi`, `512Mi`, `1024`)."""
    text = value.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmgtBKMGT])?", text)
    if match is None:
        return text  # already a quantity like `4Gi`; the API server validates it
    number, unit = match.groups()
    return number + _MEMORY_UNITS[(unit or "b").lower()]


def _quantity_value(quantity: str) -> float:
    """A Kubernetes quantity as a number (cores or bytes), to keep requests at or below limits."""
    suffixes = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", quantity.strip())
    if match is None or match.group(2) not in ("", *suffixes):
        raise ClauderonError(f"{quantity!r} is not a Kubernetes quantity: use forms like 500m, 2, 1Gi")
    return float(match.group(1)) * suffixes.get(match.group(2), 1)


def resources(spec: LaunchSpec, settings: KubernetesSettings) -> dict[str, dict[str, str]]:
    """Limits from the session (`spec.cpu`/`spec.memory`), else the settings; requests never above limits."""
    limits: dict[str, str] = {}
    cpu_limit = f"{spec.cpu:g}" if spec.cpu else settings.cpu_limit
    memory_limit = memory_quantity(spec.memory) if spec.memory else settings.memory_limit
    if cpu_limit:
        limits["cpu"] = cpu_limit
    if memory_limit:
        limits["memory"] = memory_limit
    requests = {"cpu": settings.cpu_request, "memory": settings.memory_request}
    for key, limit in limits.items():
        if _quantity_value(requests[key]) > _quantity_value(limit):
            requests[key] = limit  # the API server rejects a request above its limit
    return {"requests": requests, "limits": limits}


PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
"""Variables holding the session's proxy URL, whose userinfo is the session's proxy password."""
SECCOMP = {"type": "RuntimeDefault"}


def security_context(spec: LaunchSpec, settings: KubernetesSettings) -> dict[str, Any]:
    """A fixed non-root uid whatever the host user is (the kubelet enforces `runAsNonRoot`, so an image
    cannot flip it back to root), the runtime's default seccomp filter (clusters without `SeccompDefault`
    otherwise run pods unconfined), no privilege escalation, and no capabilities at all: a non-root
    process has none in effect anyway, and nothing an agent does (git, package managers in its own home,
    running tests) needs one. A session may still name extra ones (`spec.extra_capabilities`)."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsUser": settings.run_as_user,
        "runAsGroup": settings.run_as_user,
        "runAsNonRoot": True,
        "seccompProfile": SECCOMP,
    }
    if spec.extra_capabilities:
        context["capabilities"]["add"] = sorted({c.upper() for c in spec.extra_capabilities})
    return context


def proxy_secret_name(name: str) -> str:
    return f"{PREFIX}{name}-proxy"


def proxy_secret(spec: LaunchSpec) -> dict[str, Any]:
    """The session's proxy URLs (they carry its proxy password) as a Secret the pod reads with
    `secretKeyRef`: a literal value in the pod spec is readable by anyone allowed to `get pods`."""
    data = {key: base64.b64encode(spec.env[key].encode()).decode() for key in PROXY_ENV if key in spec.env}
    meta = {"name": proxy_secret_name(spec.name), "labels": labels_of(spec)}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta, "data": data}


def network_policy_name(name: str) -> str:
    return f"{PREFIX}{name}-egress"


def network_policy(spec: LaunchSpec, proxy_url: str) -> dict[str, Any]:
    """The session pod's NetworkPolicy: no ingress, and egress to the proxy only. An IP in `proxy_url` is
    allowed as that one address and port; a host name cannot be named in a policy, so then egress is
    allowed to the proxy's port (any address) plus cluster DNS to find it. It is a wall only where the
    cluster's network plugin enforces NetworkPolicy (docs/kubernetes.md says how to check)."""
    url = urlsplit(proxy_url)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy_port = [{"protocol": "TCP", "port": port}]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
               "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
        egress = [{"ports": proxy_port}, dns]
    else:
        egress = [{"to": [{"ipBlock": {"cidr": f"{address}/{address.max_prefixlen}"}}], "ports": proxy_port}]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": network_policy_name(spec.name), "labels": labels_of(spec)},
        "spec": {"podSelector": {"matchLabels": {LABEL_SESSION: spec.session_id}},
                 "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": egress},
    }


def env_entries(spec: LaunchSpec) -> list[dict[str, Any]]:
    """The pod's environment: placeholders as values, the proxy URLs by reference to the Secret."""
    secret = proxy_secret_name(spec.name)
    return [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}} if key in PROXY_ENV
            else {"name": key, "value": value} for key, value in spec.env.items()]


def wrapped_command(spec: LaunchSpec) -> list[str]:
    """The agent's command behind a gate: wait for the workspace to be filled, enter the workdir, exec.

    The loop prints nothing, so the pod log (the replay source) starts with the agent's own output."""
    script = (f"while [ ! -e {shlex.quote(READY_FILE)} ]; do sleep 0.2; done; "
              f"cd {shlex.quote(spec.workdir)} || exit 1; exec \"$@\"")
    return ["sh", "-c", script, "clauderon-start", *spec.command]


def pod_object(spec: LaunchSpec, settings: KubernetesSettings, *, with_ca: bool) -> dict[str, Any]:
    name = pod_name(spec.name)
    mounts: list[dict[str, Any]] = [
        {"name": "session", "mountPath": WORKSPACE, "subPath": "workspace"},
        {"name": "session", "mountPath": AGENT_HOME, "subPath": "home"},
        {"name": "run", "mountPath": RUN_DIR},
    ]
    volumes: list[dict[str, Any]] = [{"name": "session", "persistentVolumeClaim": {"claimName": name}},
                                     {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]
    if with_ca:
        mounts.append({"name": "proxy-ca", "mountPath": CA_PATH, "subPath": CA_KEY, "readOnly": True})
        volumes.append({"name": "proxy-ca", "configMap": {"name": CA_CONFIGMAP}})
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image or settings.image,
        "imagePullPolicy": settings.pull_policy,
        "command": wrapped_command(spec),
        "workingDir": WORKSPACE,
        "env": env_entries(spec),
        "tty": True,
        "stdin": True,
        "volumeMounts": mounts,
        "resources": resources(spec, settings),
        "securityContext": security_context(spec, settings),
    }
    pod_spec: dict[str, Any] = {
        "containers": [container],
        "volumes": volumes,
        # An agent session is finished when its program exits; the engine decides about restarts.
        "restartPolicy": "Never",
        # The pause container becomes pid 1 and reaps the zombies agents' tool runs leave behind (tini's job
        # in the docker backend).
        "shareProcessNamespace": True,
        # No API token inside the sandbox: an agent has no business talking to the cluster.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
    }
    # The fresh volume becomes writable for the agent's group; the pod-level seccomp covers every container.
    pod_spec["securityContext"] = {"fsGroup": settings.run_as_user, "runAsNonRoot": True, "seccompProfile": SECCOMP}
    if settings.service_account:
        pod_spec["serviceAccountName"] = settings.service_account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata(name, spec), "spec": pod_spec}
