"""The credential-injecting HTTPS proxy. Talk to it through this package's exports only."""

from proxy.audit import AUDIT_FILE, AuditLog, read_audit
from proxy.credentials import CREDENTIAL_NAMES, CredentialStore, credential_store_for, credentials_report, masked
from proxy.errors import ProxyError
from proxy.rules import (
    CA_MOUNT_PATH,
    HOOKS_HOST,
    PLACEHOLDERS,
    container_env,
    default_credential_names,
    dummy_codex_auth_json,
)
from proxy.secrets_1p import DictResolver, OnePasswordResolver, SecretResolver
from proxy.service import ProxyService, choose_port
from proxy.sessions import SessionProxyConfig, new_proxy_password

__all__ = [
    "AUDIT_FILE", "AuditLog", "CA_MOUNT_PATH", "CREDENTIAL_NAMES", "CredentialStore", "DictResolver", "HOOKS_HOST",
    "OnePasswordResolver",
    "PLACEHOLDERS", "ProxyError", "ProxyService", "SecretResolver", "SessionProxyConfig", "choose_port",
    "container_env", "credential_store_for", "credentials_report", "default_credential_names",
    "dummy_codex_auth_json", "masked", "new_proxy_password", "read_audit",
]
