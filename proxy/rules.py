"""The injection rule table, the placeholders containers hold, and the environment a container gets.

A rule says: for requests to `host`, set `header` to `template` filled with the real value of
`credential`. Rules for one host are alternatives in priority order: the first whose credential is in
the session's set and available on the host wins, and the auth headers of the others are removed so the
placeholder never travels upstream.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxy.credentials import CODEX_OAUTH
from proxy.hosts import host_matches
from proxy.traffic import AgentTraffic, ModelCredential

if TYPE_CHECKING:
    from proxy.credentials import CredentialStore

CA_MOUNT_PATH = "/etc/clauderon/proxy-ca.pem"
HOOKS_HOST = "clauderon.internal"

# Fixed, clearly fake strings. The Anthropic key keeps the `sk-ant-api03-` shape because Claude Code
# checks the prefix before it will send a key; the OpenAI key keeps `sk-` for the same reason.
PLACEHOLDERS: dict[str, str] = {
    "anthropic_api_key": "sk-ant-api03-clauderon-placeholder-0000000000000000000000000000000000000000-AA",
    "anthropic_oauth_token": "sk-ant-oat01-clauderon-placeholder-000000000000000000000000000000000000-AA",
    "openai_api_key": "sk-clauderon-placeholder-openai-api-key",
    "gemini_api_key": "clauderon-placeholder-gemini-api-key",
    "github_token": "clauderon-placeholder-github-token",
    "codex_access_token": "clauderon-placeholder-codex-access-token",
    "codex_refresh_token": "clauderon-placeholder-codex-refresh-token",
}
for _name in ("pagerduty_token", "sentry_auth_token", "grafana_api_key", "npm_token", "docker_token",
              "k8s_token", "talos_token"):
    PLACEHOLDERS[_name] = f"clauderon-placeholder-{_name.replace('_', '-')}"

# Environment variable carrying each credential's placeholder inside the container.
PLACEHOLDER_ENV: dict[str, str] = {
    "github_token": "GITHUB_TOKEN",
    "openai_api_key": "OPENAI_API_KEY",
    "gemini_api_key": "GEMINI_API_KEY",
    "pagerduty_token": "PAGERDUTY_TOKEN",
    "sentry_auth_token": "SENTRY_AUTH_TOKEN",
    "grafana_api_key": "GRAFANA_API_KEY",
    "npm_token": "NPM_TOKEN",
}

# The token endpoint of the `codex_oauth` credential (the ChatGPT sign-in Codex stores): a refresh through it
# goes up with the real refresh token and comes back with placeholders, for any session holding the credential.
TOKEN_ENDPOINTS: frozenset[tuple[str, str]] = frozenset({("auth.openai.com", "/oauth/token")})


@dataclass(frozen=True)
class InjectionRule:
    """Set `header` to `template` for requests to `host` (exact, or `*.suffix` for subdomains)."""

    host: str
    header: str
    template: str
    """`{token}` is the credential value, `{basic}` is base64(`x-access-token:<token>`), `{account_id}` Codex's."""
    credential: str
    remove: tuple[str, ...] = ()
    """Headers dropped when this rule applies (the other alternative's auth header)."""
    extra: tuple[tuple[str, str], ...] = ()
    """More (header, template) pairs set together with this one."""

    def matches(self, host: str) -> bool:
        """Whether this rule applies to `host` (the shared pattern rule of `proxy.hosts`)."""
        return host_matches(host, self.host)


def _bearer(host: str, credential: str) -> InjectionRule:
    return InjectionRule(host, "Authorization", "Bearer {token}", credential)


def _openai_oauth(host: str) -> InjectionRule:
    return InjectionRule(host, "Authorization", "Bearer {token}", CODEX_OAUTH,
                         extra=(("ChatGPT-Account-ID", "{account_id}"),))


def _openai_key(host: str) -> InjectionRule:
    return InjectionRule(host, "Authorization", "Bearer {token}", "openai_api_key", remove=("ChatGPT-Account-ID",))


DEFAULT_RULES: tuple[InjectionRule, ...] = (
    InjectionRule("api.anthropic.com", "Authorization", "Bearer {token}", "anthropic_oauth_token",
                  remove=("x-api-key",)),
    InjectionRule("api.anthropic.com", "x-api-key", "{token}", "anthropic_api_key", remove=("Authorization",)),
    _bearer("api.github.com", "github_token"),
    InjectionRule("github.com", "Authorization", "Basic {basic}", "github_token"),
    *(_openai_oauth(h) for h in ("api.openai.com", "chatgpt.com", "*.chatgpt.com")),
    *(_openai_key(h) for h in ("api.openai.com", "chatgpt.com", "*.chatgpt.com")),
    # The Gemini API takes its key in `x-goog-api-key` (the `?key=` form only on its websocket APIs).
    InjectionRule("generativelanguage.googleapis.com", "x-goog-api-key", "{token}", "gemini_api_key",
                  remove=("Authorization",)),
    InjectionRule("api.pagerduty.com", "Authorization", "Token token={token}", "pagerduty_token"),
    _bearer("sentry.io", "sentry_auth_token"),
    _bearer("registry.npmjs.org", "npm_token"),
    _bearer("registry-1.docker.io", "docker_token"),
    _bearer("auth.docker.io", "docker_token"),
)


def build_rules(extra: list[dict[str, str]] | None = None,
                grafana_host: str | None = None) -> tuple[InjectionRule, ...]:
    """The rule table: rules from proxy.toml first (they take priority), then the built-in ones."""
    rules = [InjectionRule(r["host"], r["header"], r["template"], r["credential"]) for r in (extra or [])]
    if grafana_host:
        rules.append(_bearer(grafana_host, "grafana_api_key"))
    return (*rules, *DEFAULT_RULES)


def render(template: str, token: str, account_id: str = "") -> str:
    """Fill a rule template."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return template.format(token=token, basic=basic, account_id=account_id)


@dataclass(frozen=True)
class Injection:
    """What one rule does to a request: the credential it uses, the headers it sets and those it drops."""

    credential: str
    headers: dict[str, str]
    remove: tuple[str, ...]


def injection_for(rules: tuple[InjectionRule, ...], credentials: CredentialStore, host: str,
                  allowed: Collection[str]) -> Injection | None:
    """The first rule for `host` whose credential is `allowed` and available on the host, filled in; None when no
    rule applies. The one place that knows how a credential goes on a request (the proxy's injector, the
    engine's own model calls)."""
    for rule in rules:
        if rule.matches(host) and rule.credential in allowed and credentials.has(rule.credential):
            token = credentials.get(rule.credential) or ""
            codex = credentials.codex if rule.credential == CODEX_OAUTH else None
            account_id = codex.account_id if codex else ""
            headers = {rule.header: render(rule.template, token, account_id)}
            headers.update({name: render(template, token, account_id) for name, template in rule.extra})
            return Injection(rule.credential, headers, rule.remove)
    return None


def model_credentials_for(rules: tuple[InjectionRule, ...], traffic: AgentTraffic, host: str) -> list[str]:
    """The agent's model credentials that a rule puts on requests to `host`, one of its model hosts (none for
    another host, or for one such as a sign-in's token endpoint that takes no credential)."""
    if not any(host_matches(host, pattern) for pattern in traffic.model_hosts):
        return []
    takers = {rule.credential for rule in rules if rule.matches(host)}
    return [c.name for c in traffic.model_credentials if c.name in takers]


def model_credential(traffic: AgentTraffic, credentials: CredentialStore,
                     names: set[str] | None = None) -> ModelCredential | None:
    """The model credential a session's agent uses: the first of `traffic.model_credentials` that is in
    `names` (all of them when None) and available on the host, else the last one (the fallback)."""
    for candidate in traffic.model_credentials:
        if (names is None or candidate.name in names) and credentials.has(candidate.name):
            return candidate
    return traffic.model_credentials[-1] if traffic.model_credentials else None


def model_credential_names(traffic: AgentTraffic, credentials: CredentialStore) -> set[str]:
    """The model credential an agent's session gets: the first its agent prefers that the host has
    (OAuth before an API key), else the fallback."""
    chosen = model_credential(traffic, credentials)
    return {chosen.name} if chosen else set()


def default_credential_names(traffic: AgentTraffic, credentials: CredentialStore,
                             extra: list[str] | tuple[str, ...] = ()) -> set[str]:
    """A session's default credential set: its agent's model credential, `github_token`, and `extra`
    (`settings.proxy.credential_set`)."""
    return model_credential_names(traffic, credentials) | {"github_token", *extra}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def placeholder_jwt(real_jwt: str = "", claims: dict[str, Any] | None = None) -> str:
    """A JWT-shaped placeholder carrying the (non-secret) claims of `real_jwt` but no valid signature:
    Codex reads account and plan from the id token's claims, and the signature is what makes it a credential."""
    payload = claims or {}
    if real_jwt.count(".") == 2 and not claims:
        part = real_jwt.split(".")[1]
        try:
            payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except ValueError:
            payload = {}
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(payload, separators=(',', ':')).encode())}.clauderon-placeholder"


def container_env(session_id: str, password: str, proxy_host: str, port: int, traffic: AgentTraffic,
                  credentials: CredentialStore, credential_names: set[str] | None = None) -> dict[str, str]:
    """Everything a session's container needs in its environment: proxy URLs with the session's
    credentials, NO_PROXY, the CA variables, and placeholder credentials for its agent and set."""
    url = f"http://{session_id}:{password}@{proxy_host}:{port}"
    env = {
        "HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url,
        "NO_PROXY": "localhost,127.0.0.1,::1", "no_proxy": "localhost,127.0.0.1,::1",
    }
    for var in ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"):
        env[var] = CA_MOUNT_PATH
    names = credential_names if credential_names is not None else default_credential_names(traffic, credentials)
    # The agent's model credential: the one it prefers that is in the set and on the host, else its fallback,
    # whose placeholder it always gets (an agent without one would stop at a sign-in screen).
    chosen = model_credential(traffic, credentials, names)
    if chosen is not None and chosen.env:
        env[chosen.env] = PLACEHOLDERS[chosen.name]
    for name in names:
        placeholder_var = PLACEHOLDER_ENV.get(name)
        if placeholder_var and placeholder_var not in env:
            env[placeholder_var] = PLACEHOLDERS[name]
    return env
