"""The small pieces on their own: passwords, address checks, policy matching, error typing, audit rotation."""

from __future__ import annotations

import base64

import pytest

from proxy import SessionProxyConfig, new_proxy_password, read_audit
from proxy.audit import AuditLog
from proxy.policy import Blocked, classify_error, egress_allowed, is_public, read_only_allows, resolve_public
from proxy.rules import build_rules
from proxy.sessions import SessionRegistry
from proxy.target import canonical_host, clean_text, same_target
from runtime.agents.registry import agent_named
from runtime.home import Home


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_passwords_stored_as_hashes_and_checked():
    password, digest = new_proxy_password()
    assert password not in digest and digest.startswith("sha256:")
    reg = SessionRegistry()
    reg.register(SessionProxyConfig("sid", "name", digest))
    assert reg.authenticate(basic("sid", password)).session_id == "sid"
    assert reg.authenticate(basic("sid", password + "x")) is None
    assert reg.authenticate(basic("other", password)) is None
    assert reg.authenticate("Bearer x") is None and reg.authenticate("Basic !!!") is None
    original = SessionProxyConfig("sid", "n", digest, credential_names={"b", "a"})
    restored = SessionProxyConfig.from_dict(original.to_dict())
    assert restored.credential_names == {"a", "b"}


@pytest.mark.parametrize("ip,public", [("8.8.8.8", True), ("127.0.0.1", False), ("10.0.0.1", False),
                                       ("169.254.169.254", False), ("192.168.1.1", False), ("100.64.0.1", False),
                                       ("::1", False), ("fe80::1", False), ("::ffff:127.0.0.1", False),
                                       ("2606:4700::1", True), ("0.0.0.0", False),
                                       # IPv6 forms that reach IPv4 space: NAT64, 6to4, Teredo, compatible
                                       ("64:ff9b::a00:1", False), ("64:ff9b::808:808", False),
                                       ("64:ff9b:1::1", False), ("2002:a00:1::1", False), ("2001::1", False),
                                       ("::10.0.0.1", False), ("::8.8.8.8", False), ("fec0::1", False),
                                       ("::ffff:10.0.0.1", False)])
def test_is_public(ip, public):
    assert is_public(ip) is public


async def test_resolve_checks_without_dns_for_literals_and_reserved_names():
    assert await resolve_public("8.8.8.8", 443) == "8.8.8.8"
    for host in ("127.0.0.1", "localhost", "[::1]", "10.9.9.9"):
        with pytest.raises(Blocked):
            await resolve_public(host, 80)


def test_egress_and_read_only_rules():
    assert egress_allowed("a.b.example.com", agent_named("shell").traffic.model_hosts, ["*.example.com"])
    assert not egress_allowed("example.org", agent_named("shell").traffic.model_hosts, ["*.example.com"])
    assert egress_allowed("api.anthropic.com", agent_named("claude").traffic.model_hosts, [])
    assert not egress_allowed("api.anthropic.com", agent_named("codex").traffic.model_hosts, [])
    assert read_only_allows("POST", "api.openai.com", "/v1/responses", agent_named("codex").traffic.model_calls)
    assert not read_only_allows("POST", "api.openai.com", "/v1/responses", agent_named("claude").traffic.model_calls)
    assert not read_only_allows("DELETE", "api.github.com", "/repos/x", agent_named("claude").traffic.model_calls)


@pytest.mark.parametrize("message,kind", [
    ("[Errno -2] Name or service not known", "DNS_RESOLUTION_FAILURE"),
    ("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 1)", "CONNECTION_REFUSED"),
    ("TimeoutError: connection timed out", "CONNECTION_TIMEOUT"),
    ("TLS handshake failed: certificate verify failed", "TLS_CERTIFICATE_ERROR"),
    ("something odd", "UNKNOWN_ERROR"),
])
def test_error_classification(message, kind):
    assert classify_error(message) == kind


def test_configured_rules_come_first():
    rules = build_rules([{"host": "api.github.com", "header": "X-Token", "template": "{token}",
                          "credential": "github_token"}], grafana_host="g.example")
    assert rules[0].header == "X-Token" and rules[1].host == "g.example"


def test_audit_rotates_and_reads_across_files(short_tmp):
    home = Home.open(short_tmp / "h")
    log = AuditLog(home.root / "audit.jsonl", max_bytes=400, keep=3)
    for i in range(80):
        log.write({"session": "a" if i % 2 else "b", "i": i})
    log.close()
    files = sorted(p.name for p in home.root.glob("audit.jsonl*"))
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    recs = read_audit(home, "a", limit=5)
    assert [r["i"] for r in recs] == [71, 73, 75, 77, 79]
    kept = read_audit(home, "a", limit=None)
    assert all(r["session"] == "a" for r in kept) and 0 < len(kept) < 40  # the oldest rotated away


@pytest.mark.parametrize("spelling,canonical", [
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
    ("[::1]", "::1"), ("0:0:0:0:0:0:0:1", "::1"), ("[0::1]", "::1"), ("API.Anthropic.COM", "api.anthropic.com"),
    ("api.anthropic.com.", "api.anthropic.com"), ("bücher.example", "xn--bcher-kva.example"),
])
def test_hosts_compare_in_one_canonical_form(spelling, canonical):
    assert canonical_host(spelling) == canonical


@pytest.mark.parametrize("authority,scheme,same", [
    ("api.github.com", "https", True), ("api.github.com:443", "https", True), ("API.GITHUB.COM.", "https", True),
    ("api.github.com:80", "https", False), ("api.github.com:8443", "https", False), ("evil.example", "https", False),
    ("api.github.com:", "https", False), ("[::1]:443", "https", False), ("api.github.com:x", "https", False),
])
def test_same_target(authority, scheme, same):
    assert same_target(("api.github.com", 443), authority, scheme) is same


def test_audit_text_loses_control_characters():
    assert (clean_text("evil\x1b]52;c;Y3VybCBldmlsfHNo\x07\x1b[2J.example\x9b")
            == "evil]52;c;Y3VybCBldmlsfHNo[2J.example")
