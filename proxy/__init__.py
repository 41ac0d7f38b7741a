"""The credential-injecting HTTPS proxy. Talk to it through this package's exports only.

The exports are loaded on first use (PEP 562): the records an agent hands the proxy (`AgentTraffic`) are
needed wherever agents are listed, the Textual app included, which must not pay for importing mitmproxy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from proxy.atomicfile import atomic_write
from proxy.traffic import AgentTraffic, ModelCall, ModelCredential

if TYPE_CHECKING:
    from proxy.audit import AUDIT_FILE, AuditLog, read_audit
    from proxy.ca import CA_DIR, PUBLIC_CERT
    from proxy.credentials import (
        CODEX_ENV,
        CODEX_TOKENS_FILE,
        CREDENTIAL_NAMES,
        ENV_NAMES,
        CredentialStore,
        credential_store_for,
        credentials_report,
        how_to_provide,
        masked,
    )
    from proxy.errors import ProxyError
    from proxy.rules import (
        CA_MOUNT_PATH,
        HOOKS_HOST,
        PLACEHOLDERS,
        Injection,
        InjectionRule,
        build_rules,
        container_env,
        default_credential_names,
        injection_for,
        placeholder_jwt,
    )
    from proxy.secrets_1p import DictResolver, OnePasswordResolver, SecretResolver
    from proxy.service import ProxyService, choose_port
    from proxy.sessions import SessionProxyConfig, new_proxy_password

_LAZY: dict[str, str] = {
    **dict.fromkeys(("AUDIT_FILE", "AuditLog", "read_audit"), "proxy.audit"),
    **dict.fromkeys(("CA_DIR", "PUBLIC_CERT"), "proxy.ca"),
    **dict.fromkeys(("CODEX_ENV", "CODEX_TOKENS_FILE", "CREDENTIAL_NAMES", "ENV_NAMES", "CredentialStore",
                     "credential_store_for", "credentials_report", "how_to_provide", "masked"), "proxy.credentials"),
    "ProxyError": "proxy.errors",
    **dict.fromkeys(("CA_MOUNT_PATH", "HOOKS_HOST", "PLACEHOLDERS", "Injection", "InjectionRule", "build_rules",
                     "container_env", "default_credential_names", "injection_for", "placeholder_jwt"), "proxy.rules"),
    **dict.fromkeys(("DictResolver", "OnePasswordResolver", "SecretResolver"), "proxy.secrets_1p"),
    **dict.fromkeys(("ProxyService", "choose_port"), "proxy.service"),
    **dict.fromkeys(("SessionProxyConfig", "new_proxy_password"), "proxy.sessions"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'proxy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AUDIT_FILE", "AgentTraffic", "AuditLog", "CA_DIR", "CA_MOUNT_PATH", "CODEX_ENV", "CODEX_TOKENS_FILE",
    "CREDENTIAL_NAMES", "CredentialStore", "DictResolver", "ENV_NAMES", "HOOKS_HOST", "Injection", "InjectionRule",
    "ModelCall", "ModelCredential", "OnePasswordResolver", "PLACEHOLDERS", "PUBLIC_CERT", "ProxyError", "ProxyService",
    "SecretResolver", "SessionProxyConfig", "atomic_write", "build_rules", "choose_port", "container_env",
    "credential_store_for", "credentials_report", "default_credential_names", "how_to_provide", "injection_for",
    "masked",
    "new_proxy_password", "placeholder_jwt", "read_audit",
]
