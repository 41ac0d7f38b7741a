"""Credential lookup order, 1Password through a fake resolver, 0600 enforcement, masking, reports,
and the container side: environment and the dummy Codex auth.json."""

from __future__ import annotations

import json
import os

import pytest

from proxy import (
    CA_MOUNT_PATH,
    PLACEHOLDERS,
    CredentialStore,
    DictResolver,
    ProxyError,
    container_env,
    credentials_report,
    masked,
)
from proxy.credentials import CODEX_OAUTH
from proxy.rules import default_credential_names, placeholder_jwt
from proxy.secrets_1p import OnePasswordResolver, validate_reference
from runtime.agents.codex import dummy_codex_auth_json
from runtime.agents.registry import agent_named
from runtime.home import Home
from runtime.settings import Settings
from tests.test_proxy_fixtures import random_secret


@pytest.fixture
def home(short_tmp) -> Home:
    return Home.open(short_tmp / "h")


def write_secret(home: Home, name: str, value: str, mode: int = 0o600) -> None:
    path = home.secrets / name
    path.write_text(value + "\n")
    os.chmod(path, mode)


def test_lookup_order_env_then_onepassword_then_file(home):
    env_v, op_v, file_v = random_secret(), random_secret(), random_secret()
    for name in ("github_token", "npm_token", "sentry_auth_token"):
        write_secret(home, name, file_v)
    resolver = DictResolver({"op://vault/github/token": op_v, "op://vault/npm/token": op_v})
    store = CredentialStore(home.secrets, environ={"GITHUB_TOKEN": env_v},
                            onepassword_refs={"github_token": "op://vault/github/token",
                                              "npm_token": "op://vault/npm/token"}, resolver=resolver)
    assert store.get("github_token") == env_v
    assert store.get("npm_token") == op_v
    assert store.get("sentry_auth_token") == file_v
    assert resolver.calls == ["op://vault/npm/token"]  # env won for github: 1Password never asked
    rows = {r["name"]: r for r in store.report()}
    assert rows["github_token"]["source"] == "env GITHUB_TOKEN"
    assert rows["npm_token"]["source"] == "1password"
    assert rows["sentry_auth_token"]["source"].startswith("file ")
    assert not rows["pagerduty_token"]["available"]


def test_env_value_that_is_a_reference_and_onepassword_failure_falls_through(home, caplog):
    value = random_secret()
    write_secret(home, "openai_api_key", value)
    store = CredentialStore(home.secrets, environ={"ANTHROPIC_API_KEY": "op://v/anthropic/key",
                                                   "OPENAI_API_KEY": "op://v/openai/key"},
                            resolver=DictResolver({"op://v/anthropic/key": "from-1password-abc"}))
    assert store.get("anthropic_api_key") == "from-1password-abc"
    assert store.get("openai_api_key") == value  # unresolvable reference: logged, then the file
    assert "1Password could not resolve op://v/openai/key" in caplog.text
    down = CredentialStore(home.secrets, onepassword_refs={"openai_api_key": "op://v/openai/key"},
                           environ={}, resolver=DictResolver({}, fail=True))
    assert down.get("openai_api_key") == value


def test_reference_syntax_checked_offline_by_the_sdk():
    validate_reference("op://vault/item/field")
    with pytest.raises(ProxyError, match="invalid 1Password reference"):
        validate_reference("op://vault-only")
    with pytest.raises(ProxyError, match="OP_SERVICE_ACCOUNT_TOKEN"):
        OnePasswordResolver(token="").resolve("op://vault/item/field")


def test_loose_secret_file_refused_with_the_chmod_to_run(home):
    write_secret(home, "pagerduty_token", random_secret(), 0o644)
    store = CredentialStore(home.secrets, environ={})
    assert store.get("pagerduty_token") is None
    row = {r["name"]: r for r in store.report()}["pagerduty_token"]
    path = home.secrets / "pagerduty_token"
    assert not row["available"] and row["error"].endswith(f"run `chmod 600 {path}`")


@pytest.mark.parametrize("value,shown", [
    ("sk-ant-api03-abcdefghijklmnop", "sk-a…mnop"), ("abcdefghij", "ab…ij"), ("abc", "…"), ("", "")])
def test_masked_shows_at_most_four_and_four(value, shown):
    assert masked(value) == shown


def test_report_and_real_value_checks_never_leak(home):
    values = {"GITHUB_TOKEN": random_secret("ghp_"), "CODEX_ACCESS_TOKEN": random_secret(),
              "CODEX_REFRESH_TOKEN": random_secret()}
    store = CredentialStore(home.secrets, environ=values)
    report = json.dumps(store.report())
    for v in values.values():
        assert v not in report
        assert store.is_real_credential_value(v)
        assert store.is_real_credential_value(f"prefix-{v}")
    assert not store.is_real_credential_value("harmless")
    assert {r["name"] for r in store.report()} >= {"github_token", CODEX_OAUTH, "talos_token", "k8s_token"}
    assert credentials_report(home, Settings(), environ={})[0]["available"] is False


def test_codex_tokens_from_auth_json_written_back_on_refresh(home, short_tmp):
    auth = short_tmp / "auth.json"
    auth.write_text(json.dumps({"OPENAI_API_KEY": None, "tokens": {
        "access_token": "old-access-token", "refresh_token": "old-refresh-token",
        "id_token": placeholder_jwt(claims={"email": "a@b.c"}), "account_id": "acct-9"}}))
    store = CredentialStore(home.secrets, environ={"CODEX_AUTH_JSON_PATH": str(auth)})
    assert store.codex.account_id == "acct-9" and store.get(CODEX_OAUTH) == "old-access-token"
    store.update_codex_tokens("new-access-token", "new-refresh-token", None)
    tokens = json.loads(auth.read_text())["tokens"]
    assert (tokens["access_token"], tokens["refresh_token"]) == ("new-access-token", "new-refresh-token")
    assert os.stat(auth).st_mode & 0o077 == 0
    assert store.is_real_credential_value("new-refresh-token")
    dummy = json.loads(dummy_codex_auth_json(store))
    assert dummy["tokens"]["access_token"] == PLACEHOLDERS["codex_access_token"]
    assert dummy["tokens"]["account_id"] == "acct-9"
    assert "new-" not in json.dumps(dummy)


def test_load_missing_finds_new_credentials_and_never_replaces_held_ones(home, short_tmp):
    """The create preflight looks again for what is missing (a `secrets/` file, a `codex login` made since the
    engine started); a held credential stays as it is (Codex's env tokens may have been refreshed since)."""
    auth = short_tmp / "auth.json"
    env = {"CODEX_ACCESS_TOKEN": "env-access-token-0", "CODEX_REFRESH_TOKEN": "env-refresh-token-0",
           "CODEX_AUTH_JSON_PATH": str(auth)}
    store = CredentialStore(home.secrets, environ=env, tokens_file=short_tmp / "codex-tokens.json")
    assert not store.has("anthropic_api_key")
    store.update_codex_tokens("refreshed-access-1", "refreshed-refresh-1", None)
    key = random_secret()
    write_secret(home, "anthropic_api_key", key)
    assert not store.has("anthropic_api_key")  # read once; nothing looks again by itself
    store.load_missing()
    assert store.get("anthropic_api_key") == key and store.is_real_credential_value(key)
    assert store.get(CODEX_OAUTH) == "refreshed-access-1"  # not the environment's used-up pair again

    signed_out = CredentialStore(home.secrets, environ={"CODEX_AUTH_JSON_PATH": str(auth)})
    assert signed_out.codex is None
    auth.write_text(json.dumps({"tokens": {"access_token": "login-access", "refresh_token": "login-refresh"}}))
    signed_out.load_missing()  # `codex login` since
    assert signed_out.get(CODEX_OAUTH) == "login-access"


def test_container_env_for_claude_follows_the_host_credential(home):
    oauth = CredentialStore(home.secrets, environ={"CLAUDE_CODE_OAUTH_TOKEN": random_secret(),
                                                   "GITHUB_TOKEN": random_secret()})
    env = container_env("sid1", "pw", "127.0.0.1", 18100, agent_named("claude").traffic, oauth)
    assert env["HTTPS_PROXY"] == "http://sid1:pw@127.0.0.1:18100"
    assert env["NO_PROXY"] == "localhost,127.0.0.1,::1"
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == PLACEHOLDERS["anthropic_oauth_token"] and "ANTHROPIC_API_KEY" not in env
    assert env["GITHUB_TOKEN"] == PLACEHOLDERS["github_token"]
    assert all(env[v] == CA_MOUNT_PATH for v in ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                                                  "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"))
    key = CredentialStore(home.secrets, environ={"ANTHROPIC_API_KEY": random_secret()})
    env = container_env("sid1", "pw", "127.0.0.1", 18100, agent_named("claude").traffic, key)
    assert env["ANTHROPIC_API_KEY"].startswith("sk-ant-api03-") and "CLAUDE_CODE_OAUTH_TOKEN" not in env
    names = default_credential_names(agent_named("claude").traffic, key, ["npm_token"])
    assert names == {"anthropic_api_key", "github_token", "npm_token"}


def test_container_env_for_codex(home):
    oauth = CredentialStore(home.secrets, environ={"CODEX_ACCESS_TOKEN": "a" * 20, "CODEX_REFRESH_TOKEN": "r" * 20})
    assert "OPENAI_API_KEY" not in container_env("s", "p", "h", 1, agent_named("codex").traffic, oauth)
    key = CredentialStore(home.secrets, environ={"OPENAI_API_KEY": random_secret()})
    env = container_env("s", "p", "h", 1, agent_named("codex").traffic, key)
    assert env["OPENAI_API_KEY"] == PLACEHOLDERS["openai_api_key"]
    with pytest.raises(ValueError):
        dummy_codex_auth_json(key)
