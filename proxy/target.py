"""The one target of a flow: the host and port the proxy will really connect to, in one canonical form.

Every decision (routing, egress policy, access mode, injection, hooks, audit) reads this target and
nothing else. A request that names another host in its `Host` header, `:authority` or TLS SNI is refused:
were those trusted, a request for `http://attacker.example/` carrying `Host: api.anthropic.com` would be
sent the real key on its way to the attacker.
"""

from __future__ import annotations

import ipaddress
import socket

DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTROLS = dict.fromkeys([*range(0x20), 0x7f, *range(0x80, 0xa0)])


def clean_text(text: str, limit: int = 2000) -> str:
    """A container-chosen string made safe to store, log and print: control characters (C0, DEL, C1,
    so no escape sequence) removed, length capped."""
    return text.translate(_CONTROLS)[:limit]


def canonical_host(host: str) -> str:
    """Lower-case, one trailing dot dropped, brackets off, IP literals in one form (IPv4 in any numeric
    notation: `2130706433`, `0x7f.1` and `127.1` are all `127.0.0.1`; IPv6 compressed), names IDNA-encoded.
    Raises ValueError for a name that cannot be a host."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.lower()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ValueError("empty host")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).compressed
    except ValueError:
        pass
    if all(c in "0123456789abcdefx." for c in text) and text[0].isdigit():
        try:  # the numeric IPv4 forms inet_aton accepts (decimal, octal, hex, 1 to 4 parts)
            return socket.inet_ntoa(socket.inet_aton(text))
        except OSError:
            pass
    try:
        encoded = text.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{host!r} is not a valid host name") from exc
    if any(c.isspace() or c in "/\\@?#" for c in encoded):
        raise ValueError(f"{host!r} is not a valid host name")
    return encoded


def split_authority(authority: str, scheme: str) -> tuple[str, int]:
    """`host[:port]` (IPv6 in brackets) -> (canonical host, port with the scheme's default filled in)."""
    text = authority.strip()
    port: int | None = None
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValueError(f"bad authority {authority!r}")
        host, rest = text[:close + 1], text[close + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad authority {authority!r}")
            port = _port(rest[1:], authority)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, authority)
    else:
        host = text
    return canonical_host(host), port if port is not None else DEFAULT_PORTS.get(scheme, 80)


def _port(text: str, authority: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in {authority!r}")
    return int(text)


def same_target(target: tuple[str, int], authority: str, scheme: str) -> bool:
    """Whether `authority` (a Host header or `:authority`) names `target` (canonical host, port)."""
    try:
        return split_authority(authority, scheme) == target
    except ValueError:
        return False
