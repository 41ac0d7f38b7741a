"""The checks about this machine that `clauderon doctor` runs and the engine's health repeats, so that the
app's header shows the ones that are off until they are fixed (apart from the engine, so it can ask them)."""

from __future__ import annotations

import os
import shutil
import stat
from typing import Any

from runtime.home import Home


def check(name: str, status: str, detail: str, fix: str = "") -> dict[str, Any]:
    """One check's row: `status` is "ok", "warn" or "fail"; `fix` says what to do when it is not ok."""
    return {"name": name, "status": status, "detail": detail, "fix": fix}


async def header_warnings(home: Home, image: str, docker: Any | None) -> list[dict[str, Any]]:
    """The doctor checks that are off and that the app's header shows until they are fixed: the ones about
    this machine, not about which backends it has (the header marks those already). `docker` is the engine's
    Docker backend when it is reachable."""
    checks = [home_check(home), git_check(), audit_check(home)]
    if docker is not None:
        checks += [await relay_check(docker), await image_check(docker, image)]
    return [found for found in checks if found["status"] != "ok"]


def home_check(home: Home) -> dict[str, Any]:
    mode = stat.S_IMODE(os.stat(home.root).st_mode)
    return check("home", "ok" if mode == 0o700 else "fail", f"{home.root} (mode {mode:o})", f"chmod 700 {home.root}")


def git_check() -> dict[str, Any]:
    git = shutil.which("git")
    return check("git", "ok" if git else "fail", git or "git not found", "apt-get install git")


async def image_check(docker: Any, image: str) -> dict[str, Any]:
    present = await docker.image_present(image)
    return check("agent image", "ok" if present else "warn", f"{image} {'present' if present else 'missing'}",
                  "`clauderon image build`, or \"build it now\" in the app's create dialog (n)")


def audit_check(home: Home) -> dict[str, Any]:
    """The proxy refuses every request it cannot audit (fail closed): say so before a session finds out."""
    from proxy import AUDIT_FILE, AuditLog

    path = home.root / AUDIT_FILE
    problem = AuditLog(path).problem()
    if problem is None and path.exists() and not os.access(path, os.W_OK):
        problem = f"{path} is not writable"
    if problem:
        return check("audit", "fail", f"{problem}; the proxy refuses requests meanwhile",
                      f"free space in {home.root} or fix the permissions of {path}")
    return check("audit", "ok", f"{path} writable")


async def relay_check(docker: Any) -> dict[str, Any]:
    """Sealed sessions need the relay image, built once from source with gcc."""
    from runtime.relay import relay_image

    image = relay_image()
    if await docker.image_present(image):
        return check("relay", "ok", f"{image} present (sealed networking)")
    if shutil.which("gcc"):
        return check("relay", "ok", f"{image} is built at the first sealed create (gcc found)")
    return check("relay", "warn", "sealed sessions need the relay image and there is no gcc to build it",
                  "apt-get install gcc libc6-dev, or run `clauderon image build` where they are")
