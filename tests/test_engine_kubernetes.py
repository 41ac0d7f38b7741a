"""Pod sessions through the real CLI and engine, against the protocol-faithful fake Kubernetes API.

The fake runs each pod's command under a real pty on this host (its volumes are host directories), so
create, screen, send, commits in the pod, `clauderon pull`, archive and delete are exercised for real.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.cli_harness import Cli
from tests.conftest import run_git
from tests.fakes.kube_api import FakeKubeThread

pytestmark = pytest.mark.timeout(240)
NAMESPACE = "clauderon-e2e"


def test_pod_session_life_cycle(kube: FakeKubeThread, short_tmp: Path, git_repo: Path) -> None:
    kubeconfig = kube.api.write_kubeconfig(short_tmp / "kubeconfig")
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text(
        '[engine]\non_exit = "stop"\n'
        f'[kubernetes]\nkubeconfig = "{kubeconfig}"\nnamespace = "{NAMESPACE}"\nimage = "agent:test"\n'
        'proxy_url = "http://127.0.0.1:18100"\nstart_timeout = 60\n'
    )
    try:
        created = cli("create", "--repo", str(git_repo), "--name", "podded", "--backend", "kubernetes",
                      "--agent", "shell", "--json").json()
        assert created["status"] == "running" and created["backend_id"] == "clauderon-podded"
        [pod] = kube.api.objects(NAMESPACE, "pods").values()
        assert pod["metadata"]["labels"]["clauderon.name"] == "podded"
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        ref = env["HTTPS_PROXY"]["valueFrom"]["secretKeyRef"]
        [secret] = [s for s in kube.api.objects(NAMESPACE, "secrets").values() if s["metadata"]["name"] == ref["name"]]
        proxy_url = base64.b64decode(secret["data"][ref["key"]]).decode()
        assert proxy_url.startswith("http://") and proxy_url.endswith("@127.0.0.1:18100")
        assert proxy_url not in json.dumps(pod)
        # The process really got it from the Secret (as a kubelet resolves secretKeyRef).
        cli("send", "podded", "--enter", 'echo "proxy-at-${HTTPS_PROXY##*@}"')
        cli.wait_screen("podded", "proxy-at-127.0.0.1:18100")
        assert json.loads(pod["metadata"]["annotations"]["clauderon.record"])["name"] == "podded"

        cli("send", "podded", "--enter", "git status --short --branch && echo pod-ok-$((6*7))")
        screen = cli.wait_screen("podded", "pod-ok-42")
        assert "clauderon/podded" in screen  # the branch arrived through the bundle, with no git remote

        cli("send", "podded", "--enter",
            "echo from-pod > pod.txt && git add pod.txt && "
            "git -c user.name=p -c user.email=p@p commit -qm pod-commit && echo committed-$((1+1))")
        cli.wait_screen("podded", "committed-2")
        pulled = cli("pull", "podded")
        assert "clauderon/podded is now" in pulled.out
        assert "pod-commit" in run_git(git_repo, "log", "--oneline", "clauderon/podded")

        cli("archive", "podded")
        assert kube.api.objects(NAMESPACE, "pods") == {}
        assert list(kube.api.objects(NAMESPACE, "persistentvolumeclaims")) == ["clauderon-podded"]  # the work is kept
        cli("unarchive", "podded")
        cli("send", "podded", "--enter", "cat pod.txt")
        cli.wait_screen("podded", "from-pod")  # the same volume, the pod's own commit still there

        # A restart keeps the volume too: work not yet pulled (here not even committed) survives it.
        cli("send", "podded", "--enter", "echo kept-over-restart-$((3*3)) > unpulled.txt && echo wrote-$((2+2))")
        cli.wait_screen("podded", "wrote-4")
        cli("restart", "podded")
        assert list(kube.api.objects(NAMESPACE, "persistentvolumeclaims")) == ["clauderon-podded"]
        cli("send", "podded", "--enter", "cat unpulled.txt")
        cli.wait_screen("podded", "kept-over-restart-9")  # printed only by cat: the command line says $((3*3))

        cli("delete", "podded", "--force")
        assert kube.api.objects(NAMESPACE, "pods") == {}
        assert kube.api.objects(NAMESPACE, "persistentvolumeclaims") == {}
    finally:
        cli("delete", "podded", "--force", check=False)
        cli.cleanup()


def test_pod_session_needs_a_proxy_url(kube: FakeKubeThread, short_tmp: Path, git_repo: Path) -> None:
    kubeconfig = kube.api.write_kubeconfig(short_tmp / "kubeconfig")
    cli = Cli(short_tmp / "home", image="unused")
    (cli.home / "config.toml").write_text(f'[engine]\non_exit = "stop"\n[kubernetes]\nkubeconfig = "{kubeconfig}"\n')
    try:
        result = cli("create", "--repo", str(git_repo), "--name", "nourl", "--backend", "kubernetes", check=False)
        assert result.code == 1 and "proxy_url" in result.err
        assert kube.api.objects("clauderon", "pods") == {}
    finally:
        cli.cleanup()
