"""Typed 502s: mitmproxy builds the error page for a failed upstream itself, with no hook to add a
header, so while a proxy runs its HTTP/1 error-page builder is wrapped to add `X-Proxy-Error-Type`
(classified from the same message the `error` hook sees). Clients speak HTTP/1.1 to the proxy
(`http2=False`), so this is the only path. Pinned to mitmproxy 11.0.2."""

from __future__ import annotations

from mitmproxy import http, version
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import format_error
from mitmproxy.net.http import http1

from .policy import classify_error

_original = _http1.make_error_response


def typed_error_response(status_code: int, message: str = "") -> bytes:
    """mitmproxy's error page, plus `X-Proxy-Error-Type` on 502s."""
    headers = http.Headers(Server=version.MITMPROXY, Connection="close", Content_Type="text/html")
    if status_code == 502:
        headers["X-Proxy-Error-Type"] = classify_error(message)
    return http1.assemble_response(http.Response.make(status_code, format_error(status_code, message), headers))


def install_error_typing() -> None:
    _http1.make_error_response = typed_error_response


def uninstall_error_typing() -> None:
    _http1.make_error_response = _original
