"""The credential-injecting HTTPS proxy. Talk to it through this package's exports only."""

from typing import TYPE_CHECKING, Any

from proxy.atomicfile import atomic_write
from proxy.audit import AUDIT_FILE, AuditLog, read_audit
from proxy.credentials import CREDENTIAL_NAMES, CredentialStore, credential_store_for, credentials_report, masked
from proxy.errors import ProxyError
from proxy.rules import CA_MOUNT_PATH, HOOKS_HOST, PLACEHOLDERS, container_env, default_credential_names, dummy_codex_auth_json
from proxy.secrets_1p import DictResolver, OnePasswordResolver, SecretResolver
from proxy.sessions import SessionProxyConfig, new_proxy_password

__all__ = [
    "AUDIT_FILE", "AuditLog", "CA_MOUNT_PATH", "CREDENTIAL_NAMES", "CredentialStore", "DictResolver", "HOOKS_HOST", "OnePasswordResolver",
    "PLACEHOLDERS", "ProxyError", "ProxyService", "SecretResolver", "SessionProxyConfig", "atomic_write", "choose_port",
    "container_env", "credential_store_for", "credentials_report", "default_credential_names",
    "dummy_codex_auth_json", "masked", "new_proxy_password", "read_audit",
]

if TYPE_CHECKING:
    from proxy.service import ProxyService, choose_port


def __getattr__(name: str) -> Any:
    """`ProxyService` and `choose_port` load mitmproxy (a quarter second and 30 MB): only when asked for, so
    that importing this package for its small exports (`atomic_write` in a session holder, the CLI) stays cheap."""
    if name in ("ProxyService", "choose_port"):
        from proxy import service

        return getattr(service, name)
    raise AttributeError(f"module 'proxy' has no attribute {name!r}")
