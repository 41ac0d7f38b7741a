"""Reading a pod's state: why it is not running yet, and when to give up starting it.

Kubelets report trouble in two places: the container's waiting reason (`ErrImagePull`,
`ImagePullBackOff`, ...) or the `PodScheduled` condition (`Unschedulable`), and events that say why
(`Failed to pull image "x": not found`, `0/3 nodes are available: 3 Insufficient memory`). Both become
progress lines while a session starts, and the most telling of them the one-line error when it gives up.
"""

from __future__ import annotations

import time
from typing import Any

from runtime.errors import ClauderonError
from runtime.models import Status

# Waiting reasons that mean the image will not come without someone fixing something.
IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
# Of those, the ones no retry can fix.
PERMANENT_ERRORS = ("InvalidImageName", "ErrImageNeverPull")


class StartWatch:
    """Follows one starting pod through successive (pod, events) observations."""

    def __init__(self, name: str, namespace: str, timeout: float) -> None:
        self.name = name
        self.namespace = namespace
        self.timeout = timeout
        self.error: ClauderonError | None = None
        """Set when starting failed or timed out; report the messages first, then raise it."""
        self._deadline = time.monotonic() + timeout
        self._messages: list[str] = []
        self._seen: set[tuple[str, str]] = set()
        self._cause = ""  # the last warning that says why (not the bare "Error: <reason>" echo)
        self._state = ""  # the container's waiting reason, or the unschedulable condition

    def take_messages(self) -> list[str]:
        messages, self._messages = self._messages, []
        return messages

    def observe(self, pod: dict[str, Any] | None, events: list[dict[str, Any]]) -> bool:
        """True once the pod runs; new events and states queue progress messages; failures set `error`."""
        name = self.name
        if pod is None:
            self.error = ClauderonError(f"pod {name} disappeared while starting: "
                                        f"see `kubectl -n {self.namespace} get events`")
            return False
        uid = pod["metadata"].get("uid")
        for event in events:
            if uid and event.get("involvedObject", {}).get("uid", uid) != uid:
                continue  # about an earlier pod of the same name (before an archive)
            key = (event.get("reason", ""), event.get("message", ""))
            if key in self._seen:
                continue
            self._seen.add(key)
            if event.get("type") == "Warning" and not key[1].startswith("Error: "):
                self._cause = key[1]
            self._messages.append(f"pod {name}: {key[0]} {key[1]}".rstrip())
        phase, reason = pod_state(pod)
        if phase == "Running":
            return True
        if phase in ("Succeeded", "Failed"):
            self.error = ClauderonError(f"pod {name} ended before it ran ({reason or phase}): "
                                        f"see `kubectl -n {self.namespace} logs {name}`")
            return False
        if reason and reason != self._state:
            self._state = reason
            self._messages.append(f"pod {name}: {reason}")
            if reason.split(":")[0] in PERMANENT_ERRORS:  # retrying cannot help: give up now
                self.error = ClauderonError(f"pod {name} cannot start ({reason}): "
                                            "check [kubernetes] image and pull_policy")
                return False
        if time.monotonic() >= self._deadline:
            self.error = ClauderonError(start_failure(name, self.timeout, self._state, self._cause), status=504)
        return False


def start_failure(name: str, timeout: float, state: str, cause: str) -> str:
    """One line: what the pod was waiting for, the warning that explains it, and what to change."""
    if state.split(":")[0] in IMAGE_ERRORS:
        hint = "check the image name and that the nodes can pull it ([kubernetes] image, pull_policy)"
    elif "Unschedulable" in state or "nodes are available" in cause:
        hint = "check the cluster's free resources or lower [kubernetes] cpu_request/memory_request"
    else:
        hint = "see `kubectl describe pod` for the cluster's view"
    why = "; ".join(part for part in (state.split(":")[0] if cause else state, cause) if part) or "still pending"
    return f"pod {name} did not start within {timeout:g}s ({why}): {hint}"


def pod_state(pod: dict[str, Any]) -> tuple[str, str]:
    """(phase, why it is not running yet): a container's waiting reason or an unschedulable condition."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        waiting = state.get("waiting") or state.get("terminated")
        if waiting and waiting.get("reason"):
            return status.get("phase", ""), f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            why = f"{condition.get('reason', 'Unschedulable')}: {condition.get('message', '')}"
            return status.get("phase", ""), why.rstrip(": ")
    return status.get("phase", ""), ""


def status_of(pod: dict[str, Any]) -> Status:
    phase = (pod.get("status") or {}).get("phase", "")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return Status.FAILED
    return {"Running": Status.RUNNING, "Pending": Status.CREATING, "Succeeded": Status.STOPPED,
            "Failed": Status.STOPPED}.get(phase, Status.FAILED)
