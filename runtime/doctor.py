"""`clauderon doctor`: each check says what it found and, when something is off, the fix to apply."""

from __future__ import annotations

from typing import Any

from runtime.engine.host import engine_running
from runtime.home import Home, disk_report
from runtime.machine_checks import audit_check, check, git_check, home_check, image_check, relay_check
from runtime.settings import LoadedSettings


async def run_checks(home: Home, loaded: LoadedSettings) -> list[dict[str, Any]]:
    from runtime.backends.docker import DockerBackend

    settings = loaded.settings
    checks = [home_check(home), git_check()]
    docker = DockerBackend(base_url=settings.docker.base_url)
    ok, reason = await docker.available()
    checks.append(check(docker.name, "ok" if ok else "fail", reason,
                        "install docker.io and start dockerd (or set DOCKER_HOST / [docker] base_url)"))
    if ok:
        checks.append(check("network", "ok", await docker.network_report()))
        checks.append(await relay_check(docker))
        checks.append(await image_check(docker, settings.docker.image))
    checks.append(check("local backend", "ok",
                        "available, unsandboxed: agents run on this host with your permissions"))
    from runtime.backends.kubernetes import KubernetesBackend

    kube = KubernetesBackend(settings.kubernetes, home.home_id)
    ok, reason = await kube.available()
    checks.append(check(kube.name, "ok" if ok else "warn", reason,
                        "set [kubernetes] kubeconfig, context and proxy_url to run sessions as pods"))
    if ok:
        enforced, detail = await kube.network_policy_report()
        checks.append(check("pod egress", "ok" if enforced else "warn", detail,
                            "install a network plugin that enforces NetworkPolicy (docs/kubernetes.md)"))
    await kube.close()
    disk = disk_report(home.root, settings.engine.min_free_space)
    checks.append(check("disk", "ok" if disk["ok"] else "fail", disk["detail"],
                        f"free space on the disk holding {home.root}"))
    checks.append(audit_check(home))
    checks.append(check("worktrees", "ok", f"{home.worktrees}/<name> is agent territory: git or tools run there on "
                        "this host run what the agent planted (a hook, an fsmonitor in its .git/config). Look through "
                        "the Diff tab, `clauderon pull NAME` and the branch clauderon/<name> in your repository"))
    running = engine_running(home)
    state = "running" if running else "not running (starts on demand)"
    checks.append(check("engine", "ok", f"{state}; socket {home.socket_path}"))
    return checks


