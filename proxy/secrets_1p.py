"""1Password secret references behind a small resolver interface.

The engine resolves references once when the proxy starts; tests use `DictResolver` so no network or
service account is needed. Reference syntax is checked with the SDK's own offline validator.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Protocol

from proxy.errors import ProxyError

if TYPE_CHECKING:  # imported when first used: the SDK loads a native library
    from onepassword.client import Client

logger = logging.getLogger(__name__)

INTEGRATION_NAME = "clauderon"
INTEGRATION_VERSION = "0.1.0"


class SecretResolver(Protocol):
    """Turns an `op://vault/item/field` reference into its secret value."""

    def resolve(self, reference: str) -> str:
        """Return the secret; raise `ProxyError` when it cannot be resolved."""
        ...


def validate_reference(reference: str) -> None:
    """Raise `ProxyError` when `reference` is not a syntactically valid 1Password secret reference."""
    try:
        from onepassword import Secrets

        Secrets.validate_secret_reference(reference)
    except ImportError as exc:  # the SDK is a declared dependency; this only guards broken installs
        raise ProxyError("onepassword-sdk is not installed; `pip install onepassword-sdk`") from exc
    except Exception as exc:  # the SDK raises a bare Exception carrying the parser's message
        raise ProxyError(f"invalid 1Password reference {reference!r}: {exc}") from exc


class DictResolver:
    """A resolver backed by a dict, for tests and for callers that already hold the values."""

    def __init__(self, values: dict[str, str], *, fail: bool = False) -> None:
        self.values = dict(values)
        self.fail = fail
        self.calls: list[str] = []

    def resolve(self, reference: str) -> str:
        """Look the reference up; unknown references (or `fail=True`) raise like the real SDK would."""
        validate_reference(reference)
        self.calls.append(reference)
        if self.fail or reference not in self.values:
            raise ProxyError(f"1Password could not resolve {reference}")
        return self.values[reference]


class OnePasswordResolver:
    """Resolves references with the 1Password SDK and a service account token.

    The SDK is async; each call runs it on a private event loop so the resolver can be used from any
    thread (the engine resolves credentials off the UI loop). The client is created lazily, once.
    """

    def __init__(self, token: str | None = None) -> None:
        self._token = token if token is not None else os.environ.get("OP_SERVICE_ACCOUNT_TOKEN", "")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Client | None = None

    @property
    def configured(self) -> bool:
        """Whether a service account token is available at all."""
        return bool(self._token)

    def resolve(self, reference: str) -> str:
        """Resolve one reference; any SDK failure becomes a `ProxyError`."""
        validate_reference(reference)
        if not self._token:
            raise ProxyError("OP_SERVICE_ACCOUNT_TOKEN is not set; cannot resolve 1Password references")
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            return self._loop.run_until_complete(self._resolve(reference))
        except ProxyError:
            raise
        except Exception as exc:  # SDK errors are plain Exceptions with a readable message
            raise ProxyError(f"1Password could not resolve {reference}: {exc}") from exc

    async def _resolve(self, reference: str) -> str:
        from onepassword.client import Client

        if self._client is None:
            self._client = await Client.authenticate(
                auth=self._token, integration_name=INTEGRATION_NAME, integration_version=INTEGRATION_VERSION
            )
        secret: str = await self._client.secrets.resolve(reference)
        return secret

    def close(self) -> None:
        """Release the private event loop."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None
