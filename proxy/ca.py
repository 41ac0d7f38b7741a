"""The proxy's CA, generated once per home under `proxy-ca/`.

Containers get only our CA certificate, not a bundle with the system CAs: every HTTPS connection a
container makes goes through the proxy, which re-signs it, so nothing in a container needs another root.
A tool that ignores HTTPS_PROXY then fails its TLS check loudly instead of quietly going around the proxy.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CA_DIR = "proxy-ca"
"""The CA's directory in the home."""
BASENAME = "mitmproxy"  # mitmproxy's confdir expects this basename
PUBLIC_CERT = "proxy-ca.pem"


@dataclass(frozen=True)
class CaFiles:
    confdir: Path
    """The directory handed to mitmproxy as `confdir` (holds the private key, 0600, never mounted)."""
    public_cert: Path
    """The CA certificate alone, for containers."""


def ensure_ca(ca_dir: Path) -> CaFiles:
    """Create the CA on first use; afterwards only re-assert the private key's 0600."""
    from mitmproxy.certs import CertStore

    ca_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = ca_dir / f"{BASENAME}-ca.pem"
    public = ca_dir / PUBLIC_CERT
    if not key_file.exists():
        CertStore.create_store(ca_dir, BASENAME, 2048, organization="clauderon", cn="clauderon proxy CA")
    for private in (key_file, ca_dir / f"{BASENAME}-ca.p12"):
        if private.exists():
            os.chmod(private, 0o600)
    if not public.exists():
        shutil.copyfile(ca_dir / f"{BASENAME}-ca-cert.pem", public)
        # Read-only bind mounts keep the host mode; agents may run as a non-root user in the container.
        os.chmod(public, 0o644)
    return CaFiles(ca_dir, public)


def upstream_trust_bundle(ca_dir: Path, extra_ca: str | None) -> Path | None:
    """With an extra CA (a company gateway's), write certifi's roots plus it; None means certifi alone."""
    if not extra_ca:
        return None
    import certifi

    bundle = ca_dir / "upstream-trust.pem"
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + Path(extra_ca).expanduser().read_text())
    return bundle
