"""The relay of sealed sessions: clauderon's own static program, in an image made of nothing else.

A sealed session's agent container has no network but `lo`. A relay container joins its namespace and
carries `127.0.0.1:RELAY_PORT` to a unix socket of the engine's (mounted read-only), which leads to the
proxy. The relay is compiled here from `relay.c` (`gcc -static`) and imported as a one-file image
(`docker import`), so it depends on no tool inside any agent image and on no registry. The tag carries a
hash of the source: a changed relay is a new image.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from runtime.errors import ClauderonError

log = logging.getLogger(__name__)

RELAY_SOURCE = Path(__file__).with_name("relay.c")
RELAY_PORT = 3128
"""Where the agent finds the proxy inside its own namespace (`HTTPS_PROXY=http://...@127.0.0.1:3128`)."""
RELAY_SOCKET_DIR = "/run/clauderon"
"""Where the relay container sees the engine's per-session socket directory."""
RELAY_USER = "65534:65534"


def relay_image() -> str:
    """`clauderon-relay:<hash of relay.c>`."""
    digest = hashlib.sha256(RELAY_SOURCE.read_bytes()).hexdigest()[:12]
    return f"clauderon-relay:{digest}"


def compile_relay(out_dir: Path) -> Path:
    """`gcc -static` the relay into `out_dir`; one clear error when that cannot be done here."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ClauderonError("sealed networking needs its relay built once: install gcc and libc6-dev "
                             "(apt-get install gcc libc6-dev), or run `clauderon image build` where they are")
    binary = out_dir / "clauderon-relay"
    proc = subprocess.run([gcc, "-static", "-O2", "-s", "-o", str(binary), str(RELAY_SOURCE)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClauderonError(f"building the sealed-network relay failed ({last}); "
                             "install libc6-dev for a static C library")
    return binary


def ensure_relay_image(client: Any) -> str:
    """The relay image's tag, built and imported into the Docker engine `client` if it is missing.
    Blocking: call it from a thread."""
    import docker.errors

    tag = relay_image()
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="clauderon-relay-") as tmp:
        binary = compile_relay(Path(tmp))
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            info = tar.gettarinfo(str(binary), arcname="clauderon-relay")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o755
            with open(binary, "rb") as fh:
                tar.addfile(info, fh)
    repository, _, version = tag.partition(":")
    client.api.import_image_from_data(
        data.getvalue(), repository=repository, tag=version,
        changes=[f"USER {RELAY_USER}", 'ENTRYPOINT ["/clauderon-relay"]', "LABEL clauderon.image=relay"])
    log.info("built the relay image %s", tag)
    return tag
