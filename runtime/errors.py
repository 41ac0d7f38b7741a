"""One exception type for the runtime layer, carrying a message a person can act on."""

from __future__ import annotations


class ClauderonError(Exception):
    """A failure with one clear line saying what is wrong and how to fix it.

    `status` is the HTTP status the engine API answers with when this escapes a route.
    """

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self)


class NotFound(ClauderonError):
    status = 404


class Conflict(ClauderonError):
    status = 409


class EngineUnavailable(ClauderonError):
    status = 503
