"""Two patches of mitmproxy, in place only while a proxy runs (pinned to mitmproxy 11.0.2):

- Typed 502s: mitmproxy builds the error page for a failed upstream itself, with no hook to add a header,
  so its HTTP/1 error-page builder is wrapped to add `X-Proxy-Error-Type` (classified from the same
  message the `error` hook sees), and to say which setting a 413 comes from. Clients speak HTTP/1.1 to
  the proxy (`http2=False`), so this is the only path.
- `body_size_limit` for requests only: it refuses an oversized request with 413 before reading its body
  (by its Content-Length, or as a buffered body grows), but mitmproxy applies the same limit to responses
  (502 for any large download); responses are streamed here, so the check is kept for requests alone.
- Refusing a streamed request body part-way: mitmproxy has no way for a body's stream callable to stop
  a request, so the request-body state is wrapped: a `tripwire.Refused` raised by the callable cuts the
  upstream connection (the request never completes there), answers the client with the refusal and
  closes it, the way mitmproxy itself refuses an oversized body."""

from __future__ import annotations

from mitmproxy import flow, http, version
from mitmproxy.net.http import http1
from mitmproxy.proxy.layer import CommandGenerator
from mitmproxy.proxy.layers.http import HttpStream, SendHttp, _http1
from mitmproxy.proxy.layers.http._base import format_error
from mitmproxy.proxy.layers.http._events import (
    RequestData,
    RequestEndOfMessage,
    RequestProtocolError,
    ResponseProtocolError,
)
from mitmproxy.proxy.layers.http._hooks import HttpErrorHook

from proxy.policy import classify_error
from proxy.tripwire import Refused

_original = _http1.make_error_response
_original_check_body_size = HttpStream.check_body_size
_original_stream_request_body = HttpStream.state_stream_request_body
REFUSED = "clauderon.refused"
"""Flow metadata: the `tripwire.Refused` that stopped a streamed request body."""
OWN_PAGE = "clauderon proxy: "
TOO_LARGE = ("the request body is over [proxy] max_body_bytes; raise it in proxy.toml if this upload is meant "
             "(the body was not read)")


def _assemble(response: http.Response) -> bytes:
    wire: bytes = http1.assemble_response(response)  # untyped in mitmproxy
    return wire


def typed_error_response(status_code: int, message: str = "") -> bytes:
    """mitmproxy's error page, plus `X-Proxy-Error-Type` on 502s, and a 413 that names the setting."""
    headers = http.Headers(Server=version.MITMPROXY, Connection="close", Content_Type="text/html")
    if message.startswith(OWN_PAGE):  # a refusal of ours: the same plain text as every other one
        headers["Content-Type"] = "text/plain"
        return _assemble(http.Response.make(status_code, f"{message}\n", headers))
    if status_code == 502:
        headers["X-Proxy-Error-Type"] = classify_error(message)
    if status_code == 413:
        message = TOO_LARGE
    return _assemble(http.Response.make(status_code, format_error(status_code, message), headers))


def _request_bodies_only(self: HttpStream, request: bool) -> CommandGenerator[bool]:
    if not request:
        return False
    return (yield from _original_check_body_size(self, request))


def _refusable_request_body(self: HttpStream, event: RequestData | RequestEndOfMessage) -> CommandGenerator[None]:
    try:
        yield from _original_stream_request_body(self, event)
    except Refused as refusal:
        self.flow.metadata[REFUSED] = refusal
        self.flow.error = flow.Error(f"{OWN_PAGE}{refusal.message}")
        yield HttpErrorHook(self.flow)
        yield SendHttp(RequestProtocolError(self.stream_id, "refused"), self.context.server)  # closes it
        yield SendHttp(ResponseProtocolError(self.stream_id, self.flow.error.msg, refusal.status), self.context.client)
        self.client_state = self.server_state = self.state_errored
        self.flow.live = False


def install_error_typing() -> None:
    """Patch mitmproxy's HTTP layer: typed 502s, a 413 that names the setting, refusals of streamed bodies."""
    _http1.make_error_response = typed_error_response
    # Patching the class is the point (mitmproxy has no hook for these); mypy forbids assigning to methods.
    HttpStream.check_body_size = _request_bodies_only  # type: ignore[method-assign]
    HttpStream.state_stream_request_body = _refusable_request_body  # type: ignore[method-assign]


def uninstall_error_typing() -> None:
    """Put back what `install_error_typing` replaced."""
    _http1.make_error_response = _original
    HttpStream.check_body_size = _original_check_body_size  # type: ignore[method-assign]
    HttpStream.state_stream_request_body = _original_stream_request_body  # type: ignore[method-assign]
