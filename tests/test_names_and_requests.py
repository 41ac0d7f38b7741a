"""Session names, suggestions, and create-request validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from runtime.errors import ClauderonError
from runtime.names import NAME_RE, suggest_name, validate_name
from runtime.requests import CreateRequest


@pytest.mark.parametrize("name", ["a", "fix-login", "0abc", "a" * 63])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "A", "a_b", "a" * 64, "a b", "../x", "é", "abc\n", "abc\r\n", "abc\x00"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ClauderonError, match="invalid session name"):
        validate_name(name)


def test_suggestion_from_prompt_is_unique() -> None:
    assert suggest_name("Please fix the login bug in the API") == "fix-login-bug-api"
    assert suggest_name("Fix the login bug", taken={"fix-login-bug"}) == "fix-login-bug-2"
    assert suggest_name("!!!", fallback="myrepo") == "myrepo"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_prompt_gives_a_valid_name(prompt: str) -> None:
    assert NAME_RE.fullmatch(suggest_name(prompt))


@pytest.mark.parametrize(
    "body",
    [{"repo": "/r", "memory": "lots"}, {"repo": "/r", "cpu": -1}, {"repo": "/r", "env": {"1X": "y"}},
     {"repo": "/r", "agent": "gpt"}, {"repo": "/r", "surprise": 1}, {}],
)
def test_bad_create_requests_are_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        CreateRequest.model_validate(body)
