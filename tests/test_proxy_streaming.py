"""Request bodies stream: the tripwire searches them on the way, whatever the chunk split, and a 1 GB upload
leaves the engine's memory flat. The settled criterion: the upstream never receives any encoding of any
secret, so each test looks at the bytes the upstream actually got."""

from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import quote_plus

import pytest

from proxy import read_audit
from proxy.tripwire import BodyScanner, Refused, base64_forms, carries_secret, compile_needles
from tests.test_proxy_flows import SECRETS, World, world  # noqa: F401 - `world` is a fixture

SHORT_SECRET = "sk-short-0123456789abcd"


def encodings(secret: str) -> dict[str, bytes]:
    """Each form the tripwire knows, as a body would carry it."""
    raw = secret.encode()
    return {
        "raw": raw,
        "percent": "".join(f"%{b:02X}" for b in raw).encode(),
        "form": ("t=" + quote_plus(secret + " &=") + "+z").encode(),
        "json-escapes": "".join(f"\\u{ord(c):04x}" for c in secret).encode(),
        "percent-of-json": "".join(f"%{b:02X}" for b in "".join(f"\\u{ord(c):04x}" for c in secret).encode()).encode(),
        **{f"base64-shift{k}": base64.b64encode(b"x" * k + raw + b"tail") for k in range(3)},
        **{f"base64url-shift{k}": base64.urlsafe_b64encode(b"y" * k + raw + b"tail") for k in range(3)},
    }


def stream_through(scanner: BodyScanner, chunks: list[bytes]) -> tuple[bytes, Refused | None]:
    """What the scanner passes on for `chunks` (then the end of the body), and its refusal if any."""
    out = []
    try:
        for chunk in [*chunks, b""]:
            out.append(scanner(chunk))
    except Refused as refusal:
        return b"".join(out), refusal
    return b"".join(out), None


@pytest.mark.parametrize("name", list(encodings(SHORT_SECRET)))
def test_no_split_lets_any_byte_of_an_encoded_secret_through(name: str) -> None:
    pattern = compile_needles([SHORT_SECRET])
    body = b"a=1&pad=" + b"z" * 300 + encodings(SHORT_SECRET)[name] + b"&after=" + b"q" * 300
    start = body.index(encodings(SHORT_SECRET)[name])
    for split in range(start - 2, start + len(encodings(SHORT_SECRET)[name]) + 2):
        for pieces in ([body[:split], body[split:]], [body[:split], body[split:split + 1], body[split + 1:]]):
            passed, refusal = stream_through(BodyScanner(pattern, len(SHORT_SECRET), 1 << 30), pieces)
            assert refusal is not None and refusal.status == 403, (name, split)
            assert not carries_secret(pattern, [passed]) and len(passed) <= start, (name, split)
    one_byte_chunks = [body[i:i + 1] for i in range(len(body))]
    passed, refusal = stream_through(BodyScanner(pattern, len(SHORT_SECRET), 1 << 30), one_byte_chunks)
    assert refusal is not None and not carries_secret(pattern, [passed])


def test_an_honest_stream_arrives_whole_and_unchanged() -> None:
    pattern = compile_needles([SHORT_SECRET])
    body = os.urandom(200_000)
    pieces = [body[i:i + 7919] for i in range(0, len(body), 7919)]
    passed, refusal = stream_through(BodyScanner(pattern, len(SHORT_SECRET), 1 << 30), pieces)
    assert refusal is None and passed == body
    _, refusal = stream_through(BodyScanner(pattern, len(SHORT_SECRET), 100_000), pieces)
    assert refusal is not None and refusal.status == 413


SECRET = SECRETS["ANTHROPIC_API_KEY"]


@pytest.mark.parametrize("name", ["raw", "percent", "json-escapes", "base64-shift1"])
def test_a_secret_deep_in_a_streamed_upload_never_reaches_the_upstream(world, tmp_path, name):  # noqa: F811
    """3 MB, chunked, the secret 2 MB in: the upstream gets the request cut short before any form of it."""
    sid = f"st-{name}"
    curl = world.session(sid, creds={"github_token"})
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"p" * 2_000_003 + encodings(SECRET)[name] + b"s" * 1_000_000)
    status, _, body = curl(f"https://api.github.com/st-{name}", "-X", "POST", "-T", str(upload),
                           "-H", "Transfer-Encoding: chunked", "-H", "Expect:")
    assert status == 403 and "real credential" in body, (status, body)
    [line] = [r for r in read_audit(world.home, sid)]
    assert line["blocked"] == "tripwire" and line["path"] == "(withheld)" and line["status"] == 403
    [request] = wait_for_seen(world, f"/st-{name}")  # streamed: the upstream had the start of it
    assert not request.complete and not carries_secret(compile_needles([SECRET]), [request.body])
    assert request.body == b"p" * len(request.body)
    audit = json.dumps(read_audit(world.home, sid))
    assert SECRET not in audit and not any(f.decode() in audit for f in base64_forms(SECRET.encode()))


def wait_for_seen(proxy_world: World, path: str, timeout: float = 5.0) -> list:
    """The upstream's record of `path` (written once its read of the cut stream ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = [s for s in proxy_world.upstream.seen if s.path == path]
        if seen:
            return seen
        time.sleep(0.05)
    return []
