"""Build the test images offline, cached by tag: `python -m tests.images` (run by `make test`).

1. `clauderon-test-base:bookworm`: a debootstrapped Debian bookworm (minbase plus bash, curl, git,
   ca-certificates, procps) imported with `docker import`, because no registry is reachable.
2. `clauderon-test-agent:latest`: the agent image (`runtime.images.build_agent_image`) on that base,
   with the real Claude Code and Codex CLIs.
3. `clauderon-test-gemini:latest`: the same with the real Gemini CLI (and the Node 20 its packages bring).

Without a reachable Docker engine it prints one line and exits 0 (the docker tests skip), except under
`CI=true`, where that is an error.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

from runtime.errors import ClauderonError
from runtime.images import build_agent_image

from .conftest import TEST_AGENT_IMAGE, TEST_BASE_IMAGE, TEST_GEMINI_IMAGE

log = logging.getLogger("tests.images")

DEBOOTSTRAP_PACKAGES = "bash,curl,git,ca-certificates,procps"


def _docker():
    """A pinged docker client, or None with the reason."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
        return client, ""
    except Exception as exc:
        return None, f"{exc.__class__.__name__}: {exc}"


def _has_image(client, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_base(tag: str = TEST_BASE_IMAGE) -> None:
    """debootstrap bookworm into a temp dir and `docker import` it as `tag`."""
    if os.geteuid() != 0:
        raise ClauderonError("building the test base image needs root (debootstrap): run `sudo make images`")
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None)
    if debootstrap is None:
        raise ClauderonError("debootstrap not found: `apt-get install debootstrap` to build the test base image")
    mirror = os.environ.get("CLAUDERON_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    root = tempfile.mkdtemp(prefix="clauderon-rootfs-")
    try:
        result = subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={DEBOOTSTRAP_PACKAGES}", "bookworm", root, mirror],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["(no output)"]
            raise ClauderonError(f"debootstrap failed: {last[0]}")
        # `tar | docker import -` keeps ownership and device nodes exactly as debootstrap made them.
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True)
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise ClauderonError(f"docker import of the rootfs failed: {imported.stderr.strip()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    client, reason = _docker()
    if client is None:
        if os.environ.get("CI") == "true":
            log.error("CI=true but no Docker engine is reachable (%s): cannot build the test images", reason)
            return 1
        log.warning("no Docker engine reachable (%s): the docker tests will skip", reason)
        return 0
    try:
        if _has_image(client, TEST_BASE_IMAGE):
            log.info("%s: present", TEST_BASE_IMAGE)
        else:
            started = time.monotonic()
            log.info("%s: debootstrap + docker import ...", TEST_BASE_IMAGE)
            build_base()
            log.info("%s: built in %.0f s", TEST_BASE_IMAGE, time.monotonic() - started)
        for tag, agents in ((TEST_AGENT_IMAGE, ("claude", "codex")), (TEST_GEMINI_IMAGE, ("gemini",))):
            if _has_image(client, tag):
                log.info("%s: present", tag)
            else:
                started = time.monotonic()
                build_agent_image(base=TEST_BASE_IMAGE, tag=tag, agents=agents)
                log.info("%s: built in %.0f s", tag, time.monotonic() - started)
    except ClauderonError as exc:
        log.error("test images: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
