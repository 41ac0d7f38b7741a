"""Names chosen from a registry (agents, backends) as pydantic field types."""

from __future__ import annotations

from collections.abc import Callable, Collection

from pydantic_core import PydanticCustomError


def one_of(names: Collection[str]) -> Callable[[str], str]:
    """A validator accepting only `names`, refusing others with the message pydantic gives a `Literal` of them
    (the wording settings and requests showed before the names came from a registry)."""

    def known(name: str) -> str:
        if name not in names:
            choices = [repr(n) for n in names]
            expected = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return name

    return known
