"""`clauderon doctor`: each check says what it found and, when something is off, the fix to apply."""

from __future__ import annotations

import os
import shutil
import stat
from typing import Any

from runtime.engine.host import engine_running
from runtime.home import Home, disk_report
from runtime.settings import LoadedSettings


def _check(name: str, status: str, detail: str, fix: str = "") -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail, "fix": fix}


async def run_checks(home: Home, loaded: LoadedSettings) -> list[dict[str, Any]]:
    from runtime.backends.docker import DockerBackend

    settings = loaded.settings
    checks = [_home_check(home), _git_check()]
    docker = DockerBackend(base_url=settings.docker.base_url)
    ok, reason = await docker.available()
    checks.append(_check(docker.name, "ok" if ok else "fail", reason,
                         "install docker.io and start dockerd (or set DOCKER_HOST / [docker] base_url)"))
    if ok:
        checks.append(_check("network", "ok", await docker.network_report()))
        checks.append(await _relay_check(docker))
        checks.append(await _image_check(docker, settings.docker.image))
    checks.append(_check("local backend", "ok",
                         "available, unsandboxed: agents run on this host with your permissions"))
    from runtime.backends.kubernetes import KubernetesBackend

    kube = KubernetesBackend(settings.kubernetes, home.home_id)
    ok, reason = await kube.available()
    checks.append(_check(kube.name, "ok" if ok else "warn", reason,
                         "set [kubernetes] kubeconfig, context and proxy_url to run sessions as pods"))
    if ok:
        enforced, detail = await kube.network_policy_report()
        checks.append(_check("pod egress", "ok" if enforced else "warn", detail,
                             "install a network plugin that enforces NetworkPolicy (docs/kubernetes.md)"))
    await kube.close()
    disk = disk_report(home.root, settings.engine.min_free_space)
    checks.append(_check("disk", "ok" if disk["ok"] else "fail", disk["detail"],
                         f"free space on the disk holding {home.root}"))
    checks.append(_audit_check(home))
    checks.append(_check("worktrees", "ok", f"{home.worktrees}/<name> is agent territory: git or tools run there on "
                         "this host run what the agent planted (a hook, an fsmonitor in its .git/config). Look through "
                         "the Diff tab, `clauderon pull NAME` and the branch clauderon/<name> in your repository"))
    running = engine_running(home)
    state = "running" if running else "not running (starts on demand)"
    checks.append(_check("engine", "ok", f"{state}; socket {home.socket_path}"))
    return checks


async def header_warnings(home: Home, image: str, docker: Any | None) -> list[dict[str, Any]]:
    """The doctor checks that are off and that the app's header shows until they are fixed: the ones about
    this machine, not about which backends it has (the header marks those already). `docker` is the engine's
    Docker backend when it is reachable."""
    checks = [_home_check(home), _git_check(), _audit_check(home)]
    if docker is not None:
        checks += [await _relay_check(docker), await _image_check(docker, image)]
    return [check for check in checks if check["status"] != "ok"]


def _home_check(home: Home) -> dict[str, Any]:
    mode = stat.S_IMODE(os.stat(home.root).st_mode)
    return _check("home", "ok" if mode == 0o700 else "fail", f"{home.root} (mode {mode:o})", f"chmod 700 {home.root}")


def _git_check() -> dict[str, Any]:
    git = shutil.which("git")
    return _check("git", "ok" if git else "fail", git or "git not found", "apt-get install git")


async def _image_check(docker: Any, image: str) -> dict[str, Any]:
    present = await docker.image_present(image)
    return _check("agent image", "ok" if present else "warn", f"{image} {'present' if present else 'missing'}",
                  "`clauderon image build`, or \"build it now\" in the app's create dialog (n)")


def _audit_check(home: Home) -> dict[str, Any]:
    """The proxy refuses every request it cannot audit (fail closed): say so before a session finds out."""
    from proxy import AUDIT_FILE, AuditLog

    path = home.root / AUDIT_FILE
    problem = AuditLog(path).problem()
    if problem is None and path.exists() and not os.access(path, os.W_OK):
        problem = f"{path} is not writable"
    if problem:
        return _check("audit", "fail", f"{problem}; the proxy refuses requests meanwhile",
                      f"free space in {home.root} or fix the permissions of {path}")
    return _check("audit", "ok", f"{path} writable")


async def _relay_check(docker: Any) -> dict[str, Any]:
    """Sealed sessions need the relay image, built once from source with gcc."""
    from runtime.relay import relay_image

    image = relay_image()
    if await docker.image_present(image):
        return _check("relay", "ok", f"{image} present (sealed networking)")
    if shutil.which("gcc"):
        return _check("relay", "ok", f"{image} is built at the first sealed create (gcc found)")
    return _check("relay", "warn", "sealed sessions need the relay image and there is no gcc to build it",
                  "apt-get install gcc libc6-dev, or run `clauderon image build` where they are")
