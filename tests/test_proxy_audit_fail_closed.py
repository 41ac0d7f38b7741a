"""No audit, no request: when the audit line cannot be written (a full disk), the proxy refuses with 503,
the engine's health and `clauderon doctor` say why, and requests flow again once there is room."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from proxy import ProxyService, SessionProxyConfig, new_proxy_password
from proxy.audit import AuditLog
from runtime.home import Home
from runtime.settings import Settings
from tests.test_proxy_fixtures import Curl, FakeUpstream, closed_port, make_ca, make_leaf


def tmpfs(mount: Path, size: str):
    """A tmpfs of `size` at `mount` for as long as the generator runs: a home that can really fill up
    (needs root, as CI and the image are)."""
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def small_disk(short_tmp: Path):
    yield from tmpfs(short_tmp / "disk", "1m")


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_refuses_requests_until_there_is_room(small_disk: Path, short_tmp: Path) -> None:
    certs = short_tmp / "certs"
    certs.mkdir()
    ca_path, ca_key, ca_cert = make_ca(certs, "up-ca")
    upstream = FakeUpstream(*make_leaf(certs, ca_key, ca_cert, "up"))
    up = upstream.start()
    home = Home.open(small_disk / "h")
    settings = Settings.model_validate({"routes": {"api.github.com": f"https://127.0.0.1:{up}"},
                                        "proxy": {"upstream_ca_bundle": str(ca_path)}})
    service = ProxyService(home, settings, port=closed_port())
    port = service.start()
    try:
        password, digest = new_proxy_password()
        service.register_session(SessionProxyConfig("s-disk", "disk", digest, "shell", set()))
        curl = Curl(port, service.ca_cert_path, "s-disk", password)
        assert curl("https://api.github.com/before")[0] == 200
        filler = fill(small_disk)
        status, _, body = curl("https://api.github.com/while-full")
        assert status == 503 and "audit" in body
        assert not [s for s in upstream.seen if s.path == "/while-full"]
        assert service.audit.problem() is not None
        filler.unlink()
        assert curl("https://api.github.com/after")[0] == 200
        assert service.audit.problem() is None
    finally:
        service.stop()
        upstream.stop()


def test_a_failed_write_is_remembered_until_a_line_goes_in(short_tmp: Path) -> None:
    log = AuditLog(short_tmp / "audit.jsonl")
    log.write({"ok": 1})
    (short_tmp / "audit.jsonl").unlink()
    (short_tmp / "audit.jsonl").mkdir()  # the path can no longer be opened as a file
    log.close()
    log.write({"lost": 1})
    assert log.problem() and "cannot write the audit log" in log.problem()
    (short_tmp / "audit.jsonl").rmdir()
    log._last_retry = 0.0  # the once-a-second retry is due
    assert log.problem() is None  # the retry's own line went in
    assert '"event":"audit_resumed"' in (short_tmp / "audit.jsonl").read_text()
