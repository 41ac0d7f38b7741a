"""The one host-pattern rule, used by injection rules and the egress allowlist alike."""

from __future__ import annotations

import pytest

from proxy.hosts import host_matches
from proxy.policy import egress_allowed
from proxy.rules import DEFAULT_RULES, InjectionRule


@pytest.mark.parametrize(("host", "pattern", "expected"), [
    ("a.example.com", "*.example.com", True),
    ("a.b.example.com", "*.example.com", True),
    ("example.com", "*.example.com", False),  # the bare domain is not its own subdomain
    ("badexample.com", "*.example.com", False),
    (".example.com", "*.example.com", False),
    ("example.com", "example.com", True),
    ("a.example.com", "example.com", False),
    ("A.Example.COM", "*.example.com", True),
    ("api.example.com", "API.EXAMPLE.COM", True),
    ("a.example.com.", "*.example.com", True),
    ("example.com.", "example.com", True),
    ("example.com", "*.example.com.", False),
])
def test_host_matches(host: str, pattern: str, expected: bool) -> None:
    assert host_matches(host, pattern) is expected


@pytest.mark.parametrize(("host", "expected"), [
    ("a.example.com", True), ("EXAMPLE.com", False), ("x.example.com.", True), ("example.org", False)])
def test_injection_rules_and_allowlist_agree(host: str, expected: bool) -> None:
    rule = InjectionRule("*.example.com", "Authorization", "Bearer {token}", "github_token")
    assert rule.matches(host) is expected
    assert egress_allowed(host, "shell", ["*.example.com"]) is expected


def test_chatgpt_bare_domain_is_covered_by_its_own_rule() -> None:
    """The OpenAI rules list `chatgpt.com` beside `*.chatgpt.com`; the bare domain matches the exact rule."""
    hosts = [r.host for r in DEFAULT_RULES if r.matches("chatgpt.com")]
    assert hosts and set(hosts) == {"chatgpt.com"}
