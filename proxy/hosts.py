"""Host-name patterns, the one rule shared by injection rules and the egress allowlist.

`*.example.com` matches the subdomains of example.com, never example.com itself: a rule or an allowlist
that means the bare domain too lists it beside the wildcard (as the OpenAI rules do for `chatgpt.com`), so
a credential is never sent to a host its rule does not name. Comparison ignores case and a trailing dot
(`API.Example.COM.` is `api.example.com`), because DNS does.
"""

from __future__ import annotations


def normalize_host(host: str) -> str:
    """The host name lower-cased and without its trailing root dot."""
    return host.lower().removesuffix(".")


def host_matches(host: str, pattern: str) -> bool:
    """Whether `host` is `pattern` exactly, or a subdomain of `example.com` when `pattern` is `*.example.com`."""
    host, pattern = normalize_host(host), normalize_host(pattern)
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return len(host) > len(suffix) and host.endswith(suffix)
    return host == pattern
