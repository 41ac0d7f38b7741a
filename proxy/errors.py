"""The proxy layer's one exception type."""

from __future__ import annotations


class ProxyError(Exception):
    """A proxy failure with one clear line saying what is wrong and how to fix it."""
