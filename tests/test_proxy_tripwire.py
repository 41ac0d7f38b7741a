"""The tripwire against the encodings an exfiltrating agent would try, through the real proxy: each request
carries a real credential value in one form, is refused with 403 before anything is forwarded, and the
audit never holds the value in any form (not even the path that carried it)."""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import quote_plus

import pytest

from proxy import read_audit
from proxy.tripwire import base64_forms, carries_secret, compile_needles, header_haystacks
from tests.test_proxy_flows import SECRETS, world  # noqa: F401 - `world` is a fixture

SECRET = SECRETS["ANTHROPIC_API_KEY"]
URL = "https://api.github.com/tw-{}"


def every_byte_escaped(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


def json_escaped(text: str) -> str:
    return '{"k": "' + "".join(f"\\u{ord(c):04x}" for c in text) + '"}'


def b64(prefix: str, url_safe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if url_safe else base64.b64encode
    return encode((prefix + SECRET + "tail").encode()).decode()


# (name, extra curl arguments, path suffix)
FORMS = [
    ("header-name", ["-H", f"{SECRET}: 1"], ""),
    ("split-header", ["-H", f"X-Part: {SECRET[:12]}", "-H", f"X-Part: {SECRET[12:]}"], ""),
    ("path-percent", [], "/" + every_byte_escaped(SECRET)),
    ("query-percent", [], "?q=" + every_byte_escaped(SECRET)),
    ("path-double-percent", [], "/" + every_byte_escaped(every_byte_escaped(SECRET))),
    ("form-body", ["-H", "Content-Type: application/x-www-form-urlencoded",
                   "--data-binary", "a=1&t=" + quote_plus(SECRET + " +/")], ""),
    ("json-unicode-escapes", ["-H", "Content-Type: application/json", "--data-binary", json_escaped(SECRET)], ""),
    *((f"base64-shift{k}", ["--data-binary", b64("x" * k)], "") for k in range(3)),
    *((f"base64url-path-shift{k}", [], "/" + b64("y" * k, url_safe=True)) for k in range(3)),
]


@pytest.mark.parametrize("name,args,suffix", FORMS, ids=[f[0] for f in FORMS])
def test_each_encoding_of_a_real_value_is_refused(world, name, args, suffix):  # noqa: F811
    sid = f"tw-{name}"
    curl = world.session(sid, creds={"github_token"})
    status, _, body = curl(URL.format(name) + suffix, *args)
    assert status == 403 and "real credential" in body, (status, body)
    assert not [s for s in world.upstream.seen if s.path.startswith(f"/tw-{name}")]
    [line] = [r for r in read_audit(world.home, sid) if r["blocked"] == "tripwire"]
    assert line["path"] == "(withheld)"
    audit = json.dumps(read_audit(world.home, sid))
    for form in [SECRET, every_byte_escaped(SECRET), *(f.decode() for f in base64_forms(SECRET.encode()))]:
        assert form not in audit


def test_a_stack_of_content_encodings_is_undone(world):  # noqa: F811
    curl = world.session("tw-gzip2", creds={"github_token"})
    body = gzip.compress(gzip.compress(json.dumps({"k": SECRET}).encode()))
    path = world.home.root / "double.gz"
    path.write_bytes(body)
    status, _, _ = curl(URL.format("gzip2"), "-H", "Content-Encoding: gzip, gzip", "--data-binary", f"@{path}")
    assert status == 403
    status, _, body = curl(URL.format("unknown"), "-H", "Content-Encoding: rot13", "--data-binary", "x")
    assert status == 415 and "rot13" in body
    assert not [s for s in world.upstream.seen if s.path.startswith(("/tw-gzip2", "/tw-unknown"))]


def test_honest_requests_still_pass(world):  # noqa: F811
    curl = world.session("tw-honest", creds={"github_token"})
    lookalike = SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B")
    status, _, _ = curl(URL.format("honest") + "/" + every_byte_escaped(lookalike),
                        "-H", "Content-Type: application/json", "--data-binary", json_escaped(lookalike))
    assert status == 200


def test_base64_forms_are_found_wherever_the_value_starts() -> None:
    value = b"sk-ant-api03-abcdefghijklmnop"
    pattern = compile_needles([value.decode()])
    for prefix in range(6):
        for suffix in range(4):
            encoded = base64.b64encode(b"p" * prefix + value + b"s" * suffix)
            assert carries_secret(pattern, [encoded]), (prefix, suffix)
            assert carries_secret(pattern, [encoded.replace(b"+", b"-").replace(b"/", b"_")])
    assert not carries_secret(pattern, [base64.b64encode(b"sk-ant-api03-abcdefghijklmnoX")])
    assert carries_secret(pattern, header_haystacks([(b"a", value[:10]), (b"A", value[10:])]))


def test_a_body_over_max_body_bytes_is_refused_before_it_is_read(world, tmp_path):  # noqa: F811
    curl = world.session("tw-big", creds={"github_token"})
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        out.truncate(64 * 1024 * 1024 + 1)  # one byte over the default limit
    status, _, body = curl(URL.format("big"), "--data-binary", f"@{big}", "-H", "Expect:")
    assert status == 413 and "max_body_bytes" in body, (status, body)
    assert not [s for s in world.upstream.seen if s.path.startswith("/tw-big")]
    assert [r["blocked"] for r in read_audit(world.home, "tw-big")] == ["body_too_large"]


def test_a_chunked_body_is_cut_at_max_body_bytes(world, tmp_path):  # noqa: F811
    """No Content-Length to refuse by: the body streams up to the limit, then the request is cut (the
    upstream never gets a whole request) and refused."""
    curl = world.session("tw-chunked", creds={"github_token"})
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        out.truncate(80 * 1024 * 1024)
    status, _, body = curl(URL.format("chunked"), "--data-binary", f"@{big}", "-H", "Transfer-Encoding: chunked",
                           "-H", "Expect:")
    assert status == 413 and "max_body_bytes" in body, (status, body)
    assert [s.complete for s in world.upstream.seen if s.path.startswith("/tw-chunked")] in ([], [False])
    assert [r["blocked"] for r in read_audit(world.home, "tw-chunked")] == ["body_too_large"]


def test_a_response_larger_than_the_request_limit_streams_through(world, tmp_path):  # noqa: F811
    """The body limit is for what a sandbox sends; downloads (packages, models) stream through whole."""
    import subprocess

    curl = world.session("tw-download", creds={"github_token"})
    out = tmp_path / "download.bin"
    done = subprocess.run(
        ["curl", "-sS", "-o", str(out), "-w", "%{http_code}", "--noproxy", "", "--cacert", str(curl.ca),
         "--proxy", f"http://{curl.user}:{curl.password}@127.0.0.1:{curl.port}", "--max-time", "60",
         "https://api.github.com/big-download"], capture_output=True, text=True, timeout=90)
    assert done.stdout == "200" and out.stat().st_size == 80 * 1024 * 1024, (done.stdout, done.stderr)
