"""Session names: the rule they follow and suggestions from a prompt."""

from __future__ import annotations

import re

from runtime.errors import ClauderonError

# Full-match only: `$` would accept a trailing newline, and such a name breaks `list` and `delete`.
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_STOPWORDS = {
    "a", "an", "the", "and", "or", "to", "of", "in", "on", "for", "with", "please", "it", "this", "that", "is", "be",
}


def validate_name(name: str) -> str:
    """Return the name if it is valid, else raise with what to change."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ClauderonError(
            f"invalid session name {name!r}: use 1 to 63 lowercase letters, digits and '-', "
            "starting with a letter or digit"
        )
    return name


def suggest_name(prompt: str, taken: set[str] | frozenset[str] = frozenset(), fallback: str = "session") -> str:
    """A short name from the prompt's first meaningful words, made unique against `taken`."""
    words = [w for w in re.findall(r"[a-z0-9]+", (prompt or "").lower()) if w not in _STOPWORDS]
    base = "-".join(words[:4])[:40].strip("-") or fallback
    if not NAME_RE.fullmatch(base):
        base = fallback
    name, n = base, 2
    while name in taken:
        name = f"{base}-{n}"
        n += 1
    return name
