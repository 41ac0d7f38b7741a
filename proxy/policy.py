"""Where a container may go: address checks with DNS pinning, access modes, egress allowlists, and the
classification of upstream failures."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from proxy.hosts import host_matches
from proxy.traffic import ModelCall

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ERROR_TYPES = ("DNS_RESOLUTION_FAILURE", "CONNECTION_REFUSED", "CONNECTION_TIMEOUT",
               "TLS_CERTIFICATE_ERROR", "UNKNOWN_ERROR")


class Blocked(Exception):
    """The target resolves to an address a container must not reach through the proxy."""


class Unresolvable(Exception):
    """The target host does not resolve."""


# IPv6 ranges that reach IPv4 (or old local) space by translation or tunnelling, which Python's
# `is_global` calls global: NAT64 (well-known and local-use), 6to4, Teredo, IPv4-compatible `::a.b.c.d`,
# and the deprecated site-local range. A container could reach a private IPv4 address through any of them.
_NOT_PUBLIC_V6 = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96", "fec0::/10"))


def is_public(ip: str) -> bool:
    """False for loopback, link-local (cloud metadata), private, CGNAT, multicast and reserved addresses,
    and for IPv6 forms that tunnel or translate to IPv4 (see `_NOT_PUBLIC_V6`)."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        elif any(addr in net for net in _NOT_PUBLIC_V6):
            return False
    return addr.is_global and not addr.is_multicast


async def resolve_public(host: str, port: int) -> str:
    """Resolve `host` and return one address to connect to, after checking that *every* address it
    resolves to is public (a name with one private address among public ones is refused too). The caller
    connects to the returned address, not the name, so a second lookup cannot rebind it."""
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        lowered = host.lower().rstrip(".")
        # RFC 6761: `.invalid` never resolves and `localhost` is always loopback; answer without asking DNS.
        if lowered.endswith(".invalid") or lowered == "invalid":
            raise Unresolvable(f"{host} does not resolve (.invalid)") from None
        if lowered == "localhost" or lowered.endswith(".localhost"):
            raise Blocked(f"{host} is loopback") from None
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Unresolvable(f"{host} does not resolve ({exc})") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise Unresolvable(f"{host} resolved to no address") from None
    for ip in addresses:
        if not is_public(ip):
            raise Blocked(f"{host} resolves to non-public address {ip}")
    return addresses[0]


def egress_allowed(host: str, model_hosts: tuple[str, ...], allowlist: list[str] | tuple[str, ...]) -> bool:
    """Whether an allowlist-policy session may reach `host`; its agent's own `model_hosts` always are."""
    return any(host_matches(host, p) for p in (*allowlist, *model_hosts))


def read_only_allows(method: str, host: str, path: str, calls: tuple[ModelCall, ...]) -> bool:
    """Read-only sessions may read anything, make their agent's model `calls` (`AgentTraffic.model_calls`),
    and fetch over git (upload-pack is a POST that only reads); every other write is refused."""
    method = method.upper()
    if method in READ_METHODS:
        return True
    if host == "github.com" and path.split("?", 1)[0].endswith("/git-upload-pack"):
        return True
    return any(method == m and host == h and path.startswith(p) for m, h, p in calls)


def classify_error(message: str) -> str:
    """Map a mitmproxy/OS error message for a failed upstream to an `X-Proxy-Error-Type` value."""
    m = message.lower()
    if any(s in m for s in ("does not resolve", "name or service not known", "nodename nor servname",
                            "temporary failure in name resolution", "no address associated",
                            "name does not resolve", "gaierror", "getaddrinfo")):
        return "DNS_RESOLUTION_FAILURE"
    if "refused" in m or "connect call failed" in m or "errno 111" in m:
        return "CONNECTION_REFUSED"
    if "timed out" in m or "timeout" in m:
        return "CONNECTION_TIMEOUT"
    if "certificate" in m or "tls" in m or "ssl" in m:
        return "TLS_CERTIFICATE_ERROR"
    return "UNKNOWN_ERROR"
