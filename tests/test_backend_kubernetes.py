"""The Kubernetes backend against a fake API server that speaks the real REST paths and channel protocol.

The fake (`tests/fakes/kube_api.py`) runs each pod's command for real under a pty, so attach, resize
and exec are end to end through the official client. `CLAUDERON_TEST_KUBECONFIG` adds a run against a
real cluster (see docs/kubernetes.md).
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import json
import os
import subprocess
from pathlib import Path

import pytest

from runtime.backends.base import LABEL_HOME, LABEL_NAME, LABEL_RECORD, LABEL_SESSION, Attachment, LaunchSpec
from runtime.backends.kube_objects import CA_PATH, memory_quantity
from runtime.backends.kubernetes import KubernetesBackend, WorkspaceBundle, push_script
from runtime.errors import ClauderonError, Conflict
from runtime.models import Mount, Status
from runtime.settings import KubernetesSettings
from tests.conftest import run_git
from tests.fakes.kube_api import TOKEN, FakeKubeAPI
from tests.secret_scan import scan_bytes, scan_tree

NAMESPACE = "clauderon-test"
HOME = "a1b2c3d4e5f6"
CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfakeproxyca\n-----END CERTIFICATE-----\n"
# Real-looking credentials present on the host: none may reach anything the backend sends.
REAL = {"anthropic": "sk-ant-api03-REALsecretVALUE-0123456789abcdef",
        "github": "ghp_REALgithubTOKEN0123456789abcdefABCD",
        "cluster token": TOKEN}
PLACEHOLDER_ENV = {
    "TERM": "xterm-256color", "LANG": "C.UTF-8", "HOME": "/home/agent", "PS1": "$ ",
    "ANTHROPIC_API_KEY": "clauderon-placeholder-anthropic",
    "HTTPS_PROXY": "http://sess1:proxy-password-1@proxy.clauderon.svc:18100",
    "NODE_EXTRA_CA_CERTS": CA_PATH,
}


_OPEN: list[KubernetesBackend] = []


def backend_for(settings: KubernetesSettings, home_id: str, ca_cert_pem: bytes | None = None) -> KubernetesBackend:
    """A backend whose client connections are closed after the test."""
    backend = KubernetesBackend(settings, home_id, ca_cert_pem=ca_cert_pem)
    _OPEN.append(backend)
    return backend


@pytest.fixture(autouse=True)
async def close_backends():
    yield
    while _OPEN:
        await _OPEN.pop().close()


@pytest.fixture
async def fake(short_tmp: Path):
    api = FakeKubeAPI(short_tmp / "kube")
    await api.start()
    yield api
    await api.stop()


def kube_settings(fake: FakeKubeAPI, tmp: Path, **overrides) -> KubernetesSettings:
    kubeconfig = fake.write_kubeconfig(tmp / "kubeconfig")
    values = {"kubeconfig": str(kubeconfig), "namespace": NAMESPACE, "image": "agent:test", "start_timeout": 30}
    return KubernetesSettings(**{**values, **overrides})


def make_spec(name: str = "s1", *, home_id: str = HOME, **overrides) -> LaunchSpec:
    values = dict(session_id=f"id-{name}", name=name, home_id=home_id, command=["bash", "--norc", "--noprofile"],
                  workdir="/workspace", env=dict(PLACEHOLDER_ENV), user=f"{os.getuid()}:{os.getgid()}",
                  record=json.dumps({"id": f"id-{name}", "name": name, "note": "x" * 100}))
    return LaunchSpec(**{**values, **overrides})


def host_repo(tmp: Path) -> tuple[Path, bytes]:
    """A repo with one commit on `work`, and a bundle of that branch."""
    repo = tmp / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "work")
    (repo / "README.md").write_text("hello from the host\n")
    run_git(repo, "add", "README.md")
    run_git(repo, "commit", "-q", "-m", "host commit")
    bundle = subprocess.run(["git", "bundle", "create", "-", "work"], cwd=repo, check=True, capture_output=True).stdout
    return repo, bundle


async def read_until(att: Attachment, needle: bytes, seen: bytearray, limit: float = 20) -> None:
    """Read into `seen` until `needle` appears (the limit only bounds a hang; it is not an assertion)."""
    async def loop() -> None:
        while needle not in seen:
            chunk = await att.read()
            if not chunk:
                raise AssertionError(f"stream ended before {needle!r}; got {bytes(seen)[-300:]!r}")
            seen.extend(chunk)
    await asyncio.wait_for(loop(), limit)


async def read_to_end(att: Attachment, seen: bytearray, limit: float = 20) -> None:
    async def loop() -> None:
        while chunk := await att.read():
            seen.extend(chunk)
    await asyncio.wait_for(loop(), limit)


# -- availability ----------------------------------------------------------------------------------


async def test_available_names_the_cluster_or_says_what_is_wrong(fake: FakeKubeAPI, short_tmp: Path) -> None:
    ok, reason = await backend_for(kube_settings(fake, short_tmp), HOME).available()
    assert ok and "v1.31.0-fake" in reason and fake.url in reason

    missing = KubernetesSettings(kubeconfig=str(short_tmp / "nope.yaml"))
    ok, reason = await backend_for(missing, HOME).available()
    assert not ok and "nope.yaml" in reason and "\n" not in reason

    dead = FakeKubeAPI(short_tmp / "dead")
    dead.url = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings = KubernetesSettings(kubeconfig=str(dead.write_kubeconfig(short_tmp / "dead.json")))
    ok, reason = await backend_for(settings, HOME).available()
    assert not ok and "127.0.0.1:9" in reason and "\n" not in reason


# -- the objects -----------------------------------------------------------------------------------


async def test_create_sends_exactly_these_objects_and_no_real_secret(
        fake: FakeKubeAPI, short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", REAL["anthropic"])
    monkeypatch.setenv("GITHUB_TOKEN", REAL["github"])
    agent_home = short_tmp / "agent-home"
    agent_home.mkdir()
    (agent_home / ".claude.json").write_text('{"hasCompletedOnboarding": true}')
    _, bundle = host_repo(short_tmp)
    spec = make_spec(mounts=[Mount(host=str(agent_home), path="/home/agent"),
                             Mount(host="/host/ca.pem", path=CA_PATH, readonly=True)],
                     cpu=1.5, memory="2g", extra_capabilities=["net_bind_service"])
    backend = backend_for(kube_settings(fake, short_tmp, storage_class="fast", proxy_url="http://10.0.0.7:18100"),
                          HOME, ca_cert_pem=CA_PEM)
    progress: list[str] = []
    backend_id = await backend.create(spec, progress.append, bundle=WorkspaceBundle(bundle, "work"))
    try:
        assert backend_id == "clauderon-s1"
        assert fake.sent("Namespace") == [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
        assert fake.sent("ConfigMap") == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "clauderon-proxy-ca", "labels": {LABEL_HOME: HOME}}, "data": {"proxy-ca.pem": CA_PEM.decode()}}]
        labels = {LABEL_SESSION: "id-s1", LABEL_HOME: HOME, LABEL_NAME: "s1"}
        meta = {"name": "clauderon-s1", "labels": labels, "annotations": {LABEL_RECORD: spec.record}}
        assert fake.sent("PersistentVolumeClaim") == [{
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                     "storageClassName": "fast"}}]
        [pod] = fake.sent("Pod")
        assert pod["metadata"] == meta
        assert len(spec.record) > 63  # why it is an annotation: too long for a label value
        [container] = pod["spec"]["containers"]
        assert container["image"] == "agent:test" and container["tty"] is True and container["stdin"] is True
        assert container["command"][:2] == ["sh", "-c"] and container["command"][-3:] == spec.command
        # The proxy URL holds the session's proxy password: it comes from a Secret, never as a literal.
        proxy_ref = {"secretKeyRef": {"name": "clauderon-s1-proxy", "key": "HTTPS_PROXY"}}
        assert container["env"] == [{"name": k, "valueFrom": proxy_ref} if k == "HTTPS_PROXY"
                                    else {"name": k, "value": v} for k, v in PLACEHOLDER_ENV.items()]
        assert "proxy-password-1" not in json.dumps(pod)
        [secret] = fake.sent("Secret")
        assert secret["metadata"] == {"name": "clauderon-s1-proxy", "labels": labels}
        assert base64.b64decode(secret["data"]["HTTPS_PROXY"]).decode() == PLACEHOLDER_ENV["HTTPS_PROXY"]
        assert set(secret["data"]) == {"HTTPS_PROXY"}
        # No ingress at all, and egress to the proxy's one address and port only; made before the pod.
        [policy] = fake.sent("NetworkPolicy")
        assert policy["metadata"] == {"name": "clauderon-s1-egress", "labels": labels}
        assert policy["spec"] == {
            "podSelector": {"matchLabels": {LABEL_SESSION: "id-s1"}}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [], "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.7/32"}}],
                                       "ports": [{"protocol": "TCP", "port": 18100}]}]}
        kinds = [body["kind"] for body in fake.received]
        assert kinds.index("NetworkPolicy") < kinds.index("Pod")
        assert container["volumeMounts"] == [
            {"name": "session", "mountPath": "/workspace", "subPath": "workspace"},
            {"name": "session", "mountPath": "/home/agent", "subPath": "home"},
            {"name": "run", "mountPath": "/run/clauderon"},
            {"name": "proxy-ca", "mountPath": CA_PATH, "subPath": "proxy-ca.pem", "readOnly": True}]
        assert pod["spec"]["volumes"] == [
            {"name": "session", "persistentVolumeClaim": {"claimName": "clauderon-s1"}},
            {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            {"name": "proxy-ca", "configMap": {"name": "clauderon-proxy-ca"}}]
        assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                          "limits": {"cpu": "1.5", "memory": "2Gi"}}
        # A fixed non-root uid whatever user runs the engine (root here), the runtime's seccomp filter, and
        # no capability but one the session asked for by name.
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False, "runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
        assert pod["spec"]["securityContext"] == {"fsGroup": 1000, "runAsNonRoot": True,
                                                  "seccompProfile": {"type": "RuntimeDefault"}}
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["spec"]["restartPolicy"] == "Never"
        assert any("creating volume clauderon-s1" in p for p in progress)
        # The engine-written agent home was seeded into the volume.
        home_on_volume = fake.volume_dir(NAMESPACE, "clauderon-s1") / "home"
        assert (home_on_volume / ".claude.json").read_text() == '{"hasCompletedOnboarding": true}'
        # Nothing the backend sent, streamed, or left on the volume holds a real credential.
        hits = [hit for body in fake.received for hit in scan_bytes(json.dumps(body).encode(), REAL, body["kind"])]
        hits += [hit for rec in fake.execs for hit in scan_bytes(bytes(rec.stdin), REAL, f"exec {rec.argv[:2]}")]
        hits += [hit for _, path in fake.requests for hit in scan_bytes(path.encode(), REAL, "request path")]
        hits += scan_tree(fake.volume_dir(NAMESPACE, "clauderon-s1"), REAL)
        assert hits == []
    finally:
        await backend.remove(backend_id)
    assert fake.store.get((NAMESPACE, "secrets"), {}) == {}  # the proxy credentials went with the session
    assert fake.store.get((NAMESPACE, "networkpolicies"), {}) == {}  # and its egress policy


def test_a_proxy_host_name_allows_only_its_port_and_cluster_dns() -> None:
    from runtime.backends.kube_objects import network_policy

    egress = network_policy(make_spec(), "https://proxy.clauderon.svc:8443")["spec"]["egress"]
    assert egress == [
        {"ports": [{"protocol": "TCP", "port": 8443}]},
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]
    v6 = network_policy(make_spec(), "http://[fd00::7]:18100")["spec"]["egress"]
    assert v6[0]["to"] == [{"ipBlock": {"cidr": "fd00::7/128"}}]


def test_resources_follow_settings_and_keep_requests_under_limits() -> None:
    from runtime.backends.kube_objects import resources

    settings = KubernetesSettings(cpu_request="1", memory_request="8Gi", cpu_limit=None, memory_limit="16Gi")
    assert resources(make_spec(), settings) == {"requests": {"cpu": "1", "memory": "8Gi"}, "limits": {"memory": "16Gi"}}
    low = resources(make_spec(cpu=0.25, memory="512m"), settings)
    assert low == {"requests": {"cpu": "0.25", "memory": "512Mi"}, "limits": {"cpu": "0.25", "memory": "512Mi"}}
    assert memory_quantity("4g") == "4Gi" and memory_quantity("1024") == "1024" and memory_quantity("3Gi") == "3Gi"


def test_invalid_label_value_is_one_clear_line() -> None:
    from runtime.backends.kube_objects import pod_object

    with pytest.raises(ClauderonError, match="not a valid Kubernetes label value") as err:
        pod_object(make_spec(name="bad name!"), KubernetesSettings(), with_ca=False)
    assert "\n" not in str(err.value)


# -- the work in and out ---------------------------------------------------------------------------


async def test_bundle_in_through_exec_and_back_out(fake: FakeKubeAPI, short_tmp: Path) -> None:
    repo, bundle = host_repo(short_tmp)
    backend = backend_for(kube_settings(fake, short_tmp), HOME)
    backend_id = await backend.create(make_spec(), bundle=WorkspaceBundle(bundle, "work"))
    try:
        [push] = [rec for rec in fake.execs if rec.argv[:2] == ["sh", "-c"] and "git clone" in rec.argv[2]]
        assert bytes(push.stdin) == bundle
        assert push.argv == ["sh", "-c", push_script(len(bundle), "work")] and push.exit_code == 0
        assert await backend.exec_read(backend_id, ["cat", "/workspace/README.md"]) == b"hello from the host\n"
        status = await backend.exec_read(backend_id, ["git", "-C", "/workspace", "status", "--porcelain", "--branch"])
        assert status == b"## work\n"  # on the session branch, nothing untracked (the start gate is elsewhere)
        # The agent commits inside the pod; `clauderon pull` brings it home through a bundle.
        script = ("cd /workspace && echo from-the-pod > pod.txt && git add pod.txt && "
                  "git -c user.name=Agent -c user.email=a@example.test commit -q -m 'pod commit'")
        await backend.exec_read(backend_id, ["sh", "-c", script])
        out = await backend.fetch_bundle(backend_id, "work")
        (short_tmp / "back.bundle").write_bytes(out)
        run_git(repo, "fetch", "-q", str(short_tmp / "back.bundle"), "work:refs/remotes/pod/work")
        assert run_git(repo, "log", "-1", "--format=%s", "pod/work").strip() == "pod commit"
        with pytest.raises(ClauderonError, match=r"exit 1\).*missing.txt") as err:
            await backend.exec_read(backend_id, ["cat", "/workspace/missing.txt"])
        assert "\n" not in str(err.value)
        with pytest.raises(ClauderonError, match=r"exit 127"):
            await backend.exec_read(backend_id, ["no-such-program-here"])
    finally:
        await backend.remove(backend_id)


async def test_a_bundle_that_cannot_be_cloned_fails_create_and_leaves_nothing(fake: FakeKubeAPI,
                                                                               short_tmp: Path) -> None:
    _, bundle = host_repo(short_tmp)
    backend = backend_for(kube_settings(fake, short_tmp), HOME)
    with pytest.raises(ClauderonError, match=r"copying branch nope into the workspace failed .*exit 128") as err:
        await backend.create(make_spec(), bundle=WorkspaceBundle(bundle, "nope"))
    assert "\n" not in str(err.value)
    assert fake.objects(NAMESPACE, "pods") == {} and fake.objects(NAMESPACE, "persistentvolumeclaims") == {}


# -- the terminal ----------------------------------------------------------------------------------


async def test_attach_utf8_resize_and_exit_code(fake: FakeKubeAPI, short_tmp: Path) -> None:
    backend = backend_for(kube_settings(fake, short_tmp), HOME)
    backend_id = await backend.create(make_spec())
    att = await backend.attach(backend_id, replay=True)
    seen = bytearray()
    try:
        # Input: a two-byte character split across two writes arrives whole.
        await att.write(b"echo caf\xc3")
        await att.write(b"\xa9-in\n")
        await read_until(att, "café-in\r\n".encode(), seen)
        # Output: a three-byte character printed in two pieces, in separate frames, decodes whole.
        await att.write(b"printf '\\342\\202'; sleep 0.3; printf '\\254-out\\n'\n")
        await read_until(att, "€-out".encode(), seen)
        text = codecs.getincrementaldecoder("utf-8")().decode(bytes(seen))
        assert "\ufffd" not in text and "€-out" in text
        await att.resize(101, 33)
        await att.write(b"stty size\n")
        await read_until(att, b"33 101", seen)
        await att.write(b"exit 3\n")
        await read_to_end(att, seen)
        assert att.exit_code == 3
        assert await backend.status(backend_id) == Status.STOPPED
    finally:
        await att.close()
        await backend.remove(backend_id)


async def test_exit_code_from_pod_status_when_the_stream_has_none(fake: FakeKubeAPI, short_tmp: Path) -> None:
    fake.attach_sends_status = False
    backend = backend_for(kube_settings(fake, short_tmp), HOME)
    backend_id = await backend.create(make_spec())
    att = await backend.attach(backend_id)
    try:
        await att.write(b"exit 5\n")
        await read_to_end(att, bytearray())
        assert att.exit_code == 5
    finally:
        await att.close()
        await backend.remove(backend_id)


async def test_replay_delivers_early_output_once(fake: FakeKubeAPI, short_tmp: Path) -> None:
    backend = backend_for(kube_settings(fake, short_tmp), HOME)
    spec = make_spec(command=["sh", "-c", "echo early-bird-output; exec bash --norc --noprofile"])
    backend_id = await backend.create(spec)
    runtime = fake.runtimes[(NAMESPACE, backend_id)]
    while b"early-bird-output" not in runtime.log:  # printed before anyone attached
        await asyncio.sleep(0.05)
    att = await backend.attach(backend_id, replay=True)
    seen = bytearray()
    try:
        await att.write(b"echo after-attach\n")
        await read_until(att, b"after-attach\r\n", seen)
        assert seen.count(b"early-bird-output") == 1
        assert b"early-bird-output" in await backend.recent_output(backend_id, 4096)
        plain = await backend.attach(backend_id)  # without replay: live output only
        try:
            await att.write(b"echo second-viewer\n")
            await read_until(plain, b"second-viewer\r\n", bytearray())
        finally:
            await plain.close()
        await backend.remove(backend_id)  # deleting the pod ends the stream
        await read_to_end(att, seen)
    finally:
        await att.close()
        await backend.remove(backend_id)


# -- lifecycle -------------------------------------------------------------------------------------


async def test_archive_keeps_volume_restart_reuses_it_remove_deletes_both(fake: FakeKubeAPI, short_tmp: Path) -> None:
    backend = backend_for(kube_settings(fake, short_tmp), HOME)
    _, bundle = host_repo(short_tmp)
    backend_id = await backend.create(make_spec(), bundle=WorkspaceBundle(bundle, "work"))
    await backend.exec_read(backend_id, ["sh", "-c", "echo conversation > /home/agent/transcript.jsonl"])
    await backend.archive(backend_id)
    assert backend_id not in fake.objects(NAMESPACE, "pods")
    assert backend_id in fake.objects(NAMESPACE, "persistentvolumeclaims")
    assert await backend.status(backend_id) == Status.FAILED
    assert await backend.owner_of("s1") == HOME  # the kept volume still names its home

    progress: list[str] = []
    again = await backend.create(make_spec(), progress.append, bundle=WorkspaceBundle(bundle, "work"))
    assert any("reusing volume clauderon-s1" in p for p in progress)
    assert len(fake.sent("PersistentVolumeClaim")) == 1
    assert await backend.exec_read(again, ["cat", "/home/agent/transcript.jsonl"]) == b"conversation\n"
    assert await backend.exec_read(again, ["cat", "/workspace/README.md"]) == b"hello from the host\n"

    await backend.remove(again)
    assert fake.objects(NAMESPACE, "pods") == {} and fake.objects(NAMESPACE, "persistentvolumeclaims") == {}
    assert not fake.volume_dir(NAMESPACE, "clauderon-s1").exists()
    await backend.remove(again)  # removing what is gone is fine
    with pytest.raises(ClauderonError, match=r"cannot attach into pod clauderon-s1 .*not found") as err:
        await backend.attach(again)
    assert "\n" not in str(err.value)


async def test_list_owned_and_owner_by_labels(fake: FakeKubeAPI, short_tmp: Path) -> None:
    settings = kube_settings(fake, short_tmp)
    mine, theirs = backend_for(settings, HOME), backend_for(settings, "ffffeeeedddd")
    ids = [await mine.create(make_spec("a")), await mine.create(make_spec("b")),
           await theirs.create(make_spec("c", home_id="ffffeeeedddd"))]
    try:
        found = sorted(await mine.list_owned(HOME), key=lambda f: f.backend_id)
        assert [(f.session_id, f.backend_id, f.status) for f in found] == [
            ("id-a", "clauderon-a", Status.RUNNING), ("id-b", "clauderon-b", Status.RUNNING)]
        assert json.loads(found[0].labels[LABEL_RECORD])["name"] == "a"
        assert ("GET", f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector={LABEL_HOME}%3D{HOME}") in fake.requests
        assert await mine.owner_of("c") == "ffffeeeedddd" and await mine.owner_of("zzz") is None
        with pytest.raises(Conflict, match="already exists"):
            await mine.create(make_spec("c"))
    finally:
        for backend, backend_id in ((mine, ids[0]), (mine, ids[1]), (theirs, ids[2])):
            await backend.remove(backend_id)


async def test_image_pull_error_becomes_progress_then_one_clear_error(fake: FakeKubeAPI, short_tmp: Path) -> None:
    fake.failing_images.add("registry.example/missing:1")
    backend = backend_for(kube_settings(fake, short_tmp, image="registry.example/missing:1", start_timeout=2), HOME)
    progress: list[str] = []
    with pytest.raises(ClauderonError) as err:
        await backend.create(make_spec(), progress.append)
    message = str(err.value)
    assert "ImagePullBackOff" in message or "ErrImagePull" in message
    assert 'Failed to pull image "registry.example/missing:1": not found' in message
    assert "registry.example/missing:1" in message and "image" in message and "\n" not in message
    assert any("ErrImagePull" in p for p in progress)
    assert any('Failed to pull image "registry.example/missing:1"' in p for p in progress)
    assert fake.objects(NAMESPACE, "pods") == {} and fake.objects(NAMESPACE, "persistentvolumeclaims") == {}


async def test_unschedulable_pod_reports_why(fake: FakeKubeAPI, short_tmp: Path) -> None:
    fake.unschedulable = True
    backend = backend_for(kube_settings(fake, short_tmp, start_timeout=1.5), HOME)
    progress: list[str] = []
    with pytest.raises(ClauderonError, match="Insufficient memory") as err:
        await backend.create(make_spec(), progress.append)
    assert "resources" in str(err.value)
    assert any("FailedScheduling" in p for p in progress)


async def test_v4_only_server_still_streams_bundles_and_terminals(short_tmp: Path) -> None:
    fake = FakeKubeAPI(short_tmp / "kube", protocols=("v4.channel.k8s.io",))
    await fake.start()
    try:
        _, bundle = host_repo(short_tmp)
        backend = backend_for(kube_settings(fake, short_tmp), HOME)
        backend_id = await backend.create(make_spec(), bundle=WorkspaceBundle(bundle, "work"))
        assert {rec.protocol for rec in fake.execs} == {"v4.channel.k8s.io"}
        assert await backend.exec_read(backend_id, ["cat", "/workspace/README.md"]) == b"hello from the host\n"
        att = await backend.attach(backend_id)
        try:
            await att.write(b"echo v4-ok\n")
            await read_until(att, b"v4-ok\r\n", bytearray())
        finally:
            await att.close()
        await backend.remove(backend_id)
    finally:
        await fake.stop()


# -- a real cluster (opt-in) -----------------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("CLAUDERON_TEST_KUBECONFIG"),
                    reason="set CLAUDERON_TEST_KUBECONFIG (and optionally CLAUDERON_TEST_KUBE_IMAGE) "
                           "to run against a real cluster")
async def test_real_cluster_round_trip(short_tmp: Path) -> None:
    settings = KubernetesSettings(kubeconfig=os.environ["CLAUDERON_TEST_KUBECONFIG"],
                                  context=os.environ.get("CLAUDERON_TEST_KUBE_CONTEXT") or None,
                                  namespace=os.environ.get("CLAUDERON_TEST_KUBE_NAMESPACE", "clauderon-test"),
                                  image=os.environ.get("CLAUDERON_TEST_KUBE_IMAGE", "alpine/git:latest"),
                                  cpu_request="50m", memory_request="64Mi", storage_size="1Gi", start_timeout=300)
    backend = backend_for(settings, HOME, ca_cert_pem=CA_PEM)
    ok, reason = await backend.available()
    assert ok, reason
    _, bundle = host_repo(short_tmp)
    spec = make_spec(f"t{os.getpid()}", command=["sh"], user="1000:1000")
    backend_id = await backend.create(spec, bundle=WorkspaceBundle(bundle, "work"))
    try:
        assert await backend.exec_read(backend_id, ["cat", "/workspace/README.md"]) == b"hello from the host\n"
        assert await backend.exec_read(backend_id, ["cat", CA_PATH]) == CA_PEM
        att = await backend.attach(backend_id, replay=True)
        seen = bytearray()
        await att.resize(97, 31)
        await att.write(b"echo caf\xc3")
        await att.write(b"\xa9; stty size\n")
        await read_until(att, b"31 97", seen, limit=60)
        assert "café".encode() in seen
        await att.write(b"exit 4\n")
        await read_to_end(att, seen, limit=60)
        await att.close()
        assert att.exit_code in (4, None)  # attach streams may end without a status on some runtimes
    finally:
        await backend.remove(backend_id)


async def test_doctor_says_whether_network_policy_is_enforced(fake: FakeKubeAPI, short_tmp: Path) -> None:
    backend = backend_for(kube_settings(fake, short_tmp), HOME)
    try:
        enforced, detail = await backend.network_policy_report()
        assert not enforced and "no NetworkPolicy-enforcing network plugin" in detail
        fake.store.setdefault(("kube-system", "pods"), {})["calico-node-x1"] = {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "calico-node-x1", "namespace": "kube-system"}}
        enforced, detail = await backend.network_policy_report()
        assert enforced and "calico" in detail
    finally:
        await backend.close()
