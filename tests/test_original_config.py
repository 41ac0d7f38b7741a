"""The original clauderon's files work here: its documented examples load as they are (tests/samples/
original-config/ holds them verbatim), each key maps or warns, anything else still fails, and `op://`
references resolve through the 1Password SDK (a fake SDK client: no account exists here)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from proxy import CREDENTIAL_NAMES, credential_store_for
from proxy.rules import build_rules
from runtime.config_report import environment_report
from runtime.errors import ClauderonError
from runtime.home import Home
from runtime.settings import load_settings, save_setting

SAMPLES = Path(__file__).parent / "samples" / "original-config"
FILES = ("config.toml", "proxy.toml", "docker-config.toml")


@pytest.fixture
def home(short_tmp: Path) -> Home:
    return Home.open(short_tmp / "h")


def bring_original_files(home: Home) -> None:
    for name in FILES:
        shutil.copyfile(SAMPLES / name, home.root / name)


class FakeSecrets:
    def __init__(self, client: FakeClient) -> None:
        self.client = client

    async def resolve(self, reference: str) -> str:
        if reference not in self.client.vault:
            raise Exception(f"secret reference {reference} not found")  # the SDK's plain Exception
        self.client.resolved.append(reference)
        return self.client.vault[reference]


class FakeClient:
    """Stands in for `onepassword.client.Client`: what `authenticate` returns, `secrets.resolve` included."""

    vault: dict[str, str] = {}
    tokens: list[str] = []
    resolved: list[str] = []

    def __init__(self) -> None:
        self.secrets = FakeSecrets(self)

    @classmethod
    async def authenticate(cls, auth: str, integration_name: str, integration_version: str) -> FakeClient:
        cls.tokens.append(auth)
        return cls()


@pytest.fixture
def fake_1password(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    import onepassword.client

    monkeypatch.setattr(FakeClient, "vault", {}, raising=False)
    monkeypatch.setattr(FakeClient, "tokens", [], raising=False)
    monkeypatch.setattr(FakeClient, "resolved", [], raising=False)
    monkeypatch.setattr(onepassword.client, "Client", FakeClient)
    return FakeClient


def test_the_originals_documented_files_load_as_they_are(home: Home) -> None:
    bring_original_files(home)
    loaded = load_settings(home, environ={})
    s, sources = loaded.settings, loaded.sources
    assert (s.serve.host, sources["serve.host"]) == ("127.0.0.1", "config.toml [server] bind_addr")
    assert (s.serve.public_url, sources["serve.public_url"]) == ("http://localhost:3030", "config.toml [server] origin")
    assert s.serve.auth == "token"  # enable_webauthn_auth = false: the token login
    assert sources["engine.recreate_missing"] == "config.toml [feature_flags] enable_auto_reconcile"
    assert s.engine.recreate_missing is True
    assert s.titles.enabled is True and sources["titles.enabled"] == "config.toml [feature_flags] enable_ai_metadata"
    assert (s.docker.image, s.docker.pull_policy, s.docker.cpu, s.docker.memory) == (
        "ghcr.io/example/agent-image:latest", "missing", 2.0, "4g")
    assert sources["docker.memory"] == "docker-config.toml [resources] memory"
    assert s.onepassword.enabled is True
    assert s.onepassword.credentials["k8s_token"] == "op://Production/Kubernetes/token"
    assert set(s.onepassword.credentials) <= set(CREDENTIAL_NAMES) and len(s.onepassword.credentials) == 10
    assert loaded.warnings == [
        "ignored: config.toml [feature_flags] enable_proxy_port_reuse, enable_kubernetes_backend, "
        "enable_readonly_mode (from the original clauderon; none has a meaning here; docs/config.md says why)",
        "ignored: proxy.toml [onepassword] op_path (from the original clauderon; the 1Password SDK needs no `op` CLI)",
        "ignored: docker-config.toml extra_flags (from the original clauderon; sandboxes are made through the Docker "
        "API, not `docker run` flags; `[docker] extra_capabilities` adds capabilities)",
    ]
    assert sum("op_path" in w for w in loaded.warnings) == 1


def test_this_clauderons_keys_win_over_the_originals_and_the_environment_over_both(home: Home) -> None:
    bring_original_files(home)
    home.config_file.write_text(home.config_file.read_text() + '\n[docker]\nimage = "mine:1"\n[serve]\nhost = "::1"\n')
    loaded = load_settings(home, environ={"CLAUDERON_ORIGIN": "https://box.example:8443",
                                          "CLAUDERON_FEATURE_ENABLE_WEBAUTHN_AUTH": "true",
                                          "CLAUDERON_FEATURE_ENABLE_AUTO_RECONCILE": "false",
                                          "CLAUDERON_BIND_ADDR": "0.0.0.0", "CLAUDERON_SERVE_HOST": "127.0.0.2",
                                          "CLAUDERON_DEV": "1", "CLAUDERON_DISABLE_AUTH": "false"})
    s, sources = loaded.settings, loaded.sources
    assert (s.docker.image, sources["docker.image"]) == ("mine:1", "config.toml")
    assert (s.docker.pull_policy, sources["docker.pull_policy"]) == (
        "missing", "docker-config.toml [image] pull_policy")
    assert (s.serve.host, sources["serve.host"]) == ("127.0.0.2", "env CLAUDERON_SERVE_HOST")
    assert (s.serve.public_url, sources["serve.public_url"]) == ("https://box.example:8443", "env CLAUDERON_ORIGIN")
    assert s.serve.auth == "passkey" and s.engine.recreate_missing is False
    # CLAUDERON_DISABLE_AUTH=false asks for what happens anyway: no warning; CLAUDERON_DEV has no meaning here.
    dev = "ignored: environment CLAUDERON_DEV (from the original clauderon; no development mode here)"
    assert dev in loaded.warnings
    assert not any("DISABLE_AUTH" in w for w in loaded.warnings)
    # Off in the environment outranks on in the file: the token login again.
    home.config_file.write_text("[feature_flags]\nenable_webauthn_auth = true\n")
    assert load_settings(home, environ={}).settings.serve.auth == "passkey"
    off = load_settings(home, environ={"CLAUDERON_FEATURE_ENABLE_WEBAUTHN_AUTH": "0"}).settings
    assert off.serve.auth == "token"


@pytest.mark.parametrize("file, text, match", [
    ("config.toml", "[feature_flags]\nenable_webauthn = true\n", r"unknown key enable_webauthn in \[feature_flags\]"),
    ("config.toml", '[server]\nbind_address = "0.0.0.0"\n', r"unknown key bind_address in \[server\]"),
    ("config.toml", "[feature_flags]\nenable_auto_reconcile = \"maybe\"\n", "enable_auto_reconcile.*not true or false"),
    ("proxy.toml", '[proxy]\negress = "allowlist"\nallowlst = ["*"]\n', r"proxy\.allowlst"),
    ("proxy.toml", '[onepassword]\nop_pth = "/usr/bin/op"\n', r"onepassword\.op_pth"),
    ("proxy.toml", '[onepassword]\nenabled = "perhaps"\n', r"onepassword\.enabled"),
    ("docker-config.toml", '[image]\nimg = "x"\n', r"unknown key img in \[image\]"),
    ("docker-config.toml", '[resourcs]\ncpu = "2"\n', "unknown key or section resourcs"),
    ("docker-config.toml", '[image]\npull_policy = "sometimes"\n', "pull_policy.*if-not-present, always, never"),
    ("docker-config.toml", '[resources]\nmemory = "lots"\n', "memory.*not a memory size"),
])
def test_anything_the_original_does_not_document_still_fails(home: Home, file: str, text: str, match: str) -> None:
    """A typo is never taken for an original key: in `[proxy]` it could otherwise widen egress unnoticed."""
    (home.root / file).write_text(text)
    with pytest.raises(ClauderonError, match=match) as err:
        load_settings(home, environ={})
    assert "\n" not in str(err.value)


def test_saving_a_setting_keeps_the_originals_keys(home: Home) -> None:
    bring_original_files(home)
    save_setting(home, "tui", "theme", "clauderon-light")
    save_setting(home, "onepassword", "enabled", False)
    assert "[feature_flags]" in home.config_file.read_text() and "op_path" in home.proxy_config_file.read_text()
    loaded = load_settings(home, environ={})
    assert loaded.settings.tui.theme == "clauderon-light" and loaded.settings.onepassword.enabled is False


def test_op_references_resolve_through_the_1password_sdk(home: Home, fake_1password: type[FakeClient]) -> None:
    bring_original_files(home)
    settings = load_settings(home, environ={}).settings
    references = settings.onepassword.credentials
    fake_1password.vault = {ref: f"real-{name}-value-0123456789" for name, ref in references.items()}
    fake_1password.vault["op://Vault/Item/field"] = "from-the-env-reference-0123456789"
    environ = {"GITHUB_TOKEN": "op://Vault/Item/field", "OP_SERVICE_ACCOUNT_TOKEN": "ops_fake_service_account"}
    store = credential_store_for(home, settings, environ=environ)
    rows = {r["name"]: r for r in store.report()}
    assert store.get("github_token") == "from-the-env-reference-0123456789"
    assert rows["github_token"]["source"] == "1password (env GITHUB_TOKEN)"
    for name in ("anthropic_oauth_token", "openai_api_key", "pagerduty_token", "sentry_auth_token", "grafana_api_key",
                 "npm_token", "docker_token", "k8s_token", "talos_token"):
        assert (store.get(name), rows[name]["source"]) == (f"real-{name}-value-0123456789", "1password")
    assert "op://Production/GitHub/token" not in fake_1password.resolved  # the environment came first
    assert fake_1password.tokens == ["ops_fake_service_account"]  # one SDK client for every reference


def test_onepassword_enabled_false_turns_1password_off(home: Home, fake_1password: type[FakeClient]) -> None:
    home.proxy_config_file.write_text('[onepassword]\nenabled = false\nop_path = "/usr/local/bin/op"\n'
                                      '[onepassword.credentials]\nnpm_token = "op://Production/NPM/token"\n')
    fake_1password.vault = {"op://Production/NPM/token": "npm-secret-0123456789",
                            "op://Vault/GitHub/token": "gh-secret-0123456789"}
    loaded = load_settings(home, environ={})
    assert loaded.warnings == [
        "ignored: proxy.toml [onepassword] op_path (from the original clauderon; the 1Password SDK needs no `op` CLI)"]
    environ = {"GITHUB_TOKEN": "op://Vault/GitHub/token", "OP_SERVICE_ACCOUNT_TOKEN": "ops_fake"}
    store = credential_store_for(home, loaded.settings, environ=environ)
    rows = {r["name"]: r for r in store.report()}
    assert not store.has("npm_token") and not store.has("github_token")
    assert rows["github_token"]["error"] == (
        "env GITHUB_TOKEN is a 1Password reference, and [onepassword] enabled = false")
    assert fake_1password.tokens == [] and fake_1password.resolved == []


def _readme_names(pattern: str) -> set[str]:
    return set(re.findall(pattern, (SAMPLES / "README.md").read_text()))


def test_every_variable_and_credential_the_originals_readme_lists_is_known_here() -> None:
    variables = _readme_names(r"`([A-Z][A-Z0-9_]+)`")
    secrets = _readme_names(r"`([a-z0-9]+_[a-z0-9_]+)`") - {"op_path", "feature_flags"}
    assert {"CODEX_API_KEY", "OP_SERVICE_ACCOUNT_TOKEN", "CLAUDERON_RP_ID"} <= variables and "k8s_token" in secrets
    known = {row["name"] for row in environment_report({})}
    assert variables - known == set()
    assert secrets - set(CREDENTIAL_NAMES) == set()
    hosts = {rule.credential for rule in build_rules(grafana_host="grafana.example.com")}
    # A host is known for every one but the cluster tokens, whose API servers are yours: add an injection rule.
    assert secrets - hosts == {"k8s_token", "talos_token"}


@pytest.mark.parametrize("variable, credential", [
    ("CODEX_API_KEY", "openai_api_key"), ("PAGERDUTY_API_KEY", "pagerduty_token"), ("GH_TOKEN", "github_token")])
def test_the_originals_environment_aliases_are_read(home: Home, variable: str, credential: str) -> None:
    store = credential_store_for(home, load_settings(home, environ={}).settings,
                                 environ={variable: "alias-value-0123456789"})
    assert store.get(credential) == "alias-value-0123456789"


def test_a_cluster_token_is_injected_by_a_rule_of_your_own(home: Home) -> None:
    home.proxy_config_file.write_text('[[proxy.injection_rules]]\nhost = "k8s.example.com"\nheader = "Authorization"\n'
                                      'template = "Bearer {token}"\ncredential = "k8s_token"\n')
    settings = load_settings(home, environ={}).settings
    rules: list[dict[str, Any]] = [r.model_dump() for r in settings.proxy.injection_rules]
    assert [r for r in build_rules(rules) if r.credential == "k8s_token"][0].matches("k8s.example.com")


@pytest.mark.parametrize("size, docker_size", [
    ("4Gi", "4g"), ("512Mi", "512m"), ("1Ti", "1024g"), ("4GiB", "4g"), ("4g", "4g"), ("2G", "2g"),
    ("1048576", "1048576")])
def test_the_originals_memory_sizes_become_dockers(home: Home, size: str, docker_size: str) -> None:
    home.docker_config_file.write_text(f'[resources]\nmemory = "{size}"\n')
    assert load_settings(home, environ={}).settings.docker.memory == docker_size
