"""Hypothesis strategies for hostile Swift requests, as raw bytes.

Each part of a request is drawn from a mix of the values Swift gives a
meaning to (so that requests reach deep into the features: a listing
marker, a manifest, a copy source that exists) and values that break a
rule (bytes that are no UTF-8, NUL, ``%2F``, ``..``, names and values past
every limit, numbers past every integer type, nested JSON).
"""

from __future__ import annotations

import io
import json
import tarfile
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from tests.fuzz.raw_http import RawRequest

# What the suite's fixture creates (tests/fuzz/test_fuzz_api.py), so that
# requests find real things to read, copy, list and overwrite.
CONTAINERS = ("fuzz", "fuzz-acl", "fuzz-versions", "fuzz-segments")
OBJECTS = ("plain", "slo", "dlo", "seg/1", "seg/2", "nested/deep/name")
ACCOUNTS = ("AUTH_test", "AUTH_test2", "AUTH_", "AUTH_nobody", "SERVICE_test", "test")
VERBS = (b"GET", b"HEAD", b"PUT", b"POST", b"DELETE", b"COPY", b"OPTIONS")
ODD_VERBS = (b"PATCH", b"TRACE", b"CONNECT", b"get", b"UPDATE", b"REPLICATE", b"SSYNC", b"X" * 300)

# A header value may be any bytes but CR, LF and NUL (which end or break a
# line); those are tried through the names and the request line instead.
HEADER_BYTES = st.binary(max_size=40).map(lambda b: b.translate(None, b"\r\n\x00"))
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
HUGE_NUMBERS = st.sampled_from([
    "99999999999999999999", "9" * 30, "-1", "0", "1e400", "inf", "-inf", "nan", "1.5", "0x10", " 5",
    "+5", "²", "١٢", "00000000001", "18446744073709551616", "9223372036854775808", "",
])
NUMBERS = st.one_of(st.integers(0, 5000).map(str), st.integers(-(10**12), 10**12).map(str), HUGE_NUMBERS)


def text_bytes(strategy: st.SearchStrategy[str] = TEXT) -> st.SearchStrategy[bytes]:
    return strategy.map(lambda s: s.encode("utf-8"))


VALUES = st.one_of(HEADER_BYTES, text_bytes(), NUMBERS.map(str.encode),
                   st.integers(0, 9000).map(lambda n: b"v" * n))


# --- paths ---------------------------------------------------------------

def _escaped(raw: bytes) -> bytes:
    return quote_from_bytes(raw, safe="").encode("ascii")


NAME_BYTES = st.one_of(
    text_bytes(),
    st.binary(min_size=1, max_size=12),  # mostly not UTF-8
    st.sampled_from([b"..", b".", b"/", b"\x00", b"a\x00b", b"\xff\xfe", b"\xc0\xaf", b"%", b"a%2Fb",
                     b"x" * 257, b"x" * 1025, b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]),
)


@st.composite
def name(draw: st.DrawFn, known: tuple[str, ...]) -> bytes:
    """One path name as it goes on the wire: a known one (mostly), or
    fuzz, percent-escaped (mostly) or raw (bytes no client library would
    send)."""
    if draw(st.integers(0, 2)):
        return draw(st.sampled_from(known)).encode()
    raw = draw(NAME_BYTES)
    if draw(st.integers(0, 4)) == 0:
        return raw.translate(None, b" \r\n?#")  # raw bytes on the request line
    return _escaped(raw)


@st.composite
def swift_target(draw: st.DrawFn, depth: int) -> bytes:
    """``/v1/<account>[/<container>[/<object>]]`` (``depth`` names), with a
    query string, or sometimes any other path."""
    if draw(st.integers(0, 19)) == 0:
        path = draw(st.sampled_from([b"/", b"/v1", b"/v1/", b"//v1/AUTH_test", b"/v2/AUTH_test", b"/info",
                                     b"/auth/v1.0", b"/healthcheck", b"/v1.0/AUTH_test", b"*", b"/v1/%00"]))
    else:
        version = draw(st.sampled_from([b"v1"] * 8 + [b"v1.0", b"V1"]))
        parts = [draw(name(ACCOUNTS))]
        if depth >= 2:
            parts.append(draw(name(CONTAINERS)))
        if depth >= 3 and draw(st.booleans()):
            parts.append(draw(st.sampled_from(OBJECTS)).encode())
        elif depth >= 3:
            parts.append(b"/".join(draw(st.lists(name(OBJECTS), min_size=1, max_size=3))))
        trailing = draw(st.sampled_from([b""] * 6 + [b"/", b"//"]))
        path = b"/" + version + b"/" + b"/".join(parts) + trailing
    return path + draw(query())


# --- query strings -------------------------------------------------------

QUERY_VALUES: dict[str, st.SearchStrategy[bytes]] = {
    "limit": NUMBERS.map(str.encode),
    "marker": VALUES, "end_marker": VALUES, "prefix": VALUES, "path": VALUES,
    "delimiter": st.one_of(st.sampled_from([b"/", b"-", b"", b"//", b"\xff"]), VALUES),
    "format": st.sampled_from([b"json", b"xml", b"plain", b"JSON", b"", b"html"]),
    "reverse": st.sampled_from([b"true", b"on", b"1", b"no", b"", b"\xff"]),
    "multipart-manifest": st.sampled_from([b"put", b"get", b"delete", b"PUT", b"", b"x"]),
    "heartbeat": st.sampled_from([b"on", b"true", b"off"]),
    "bulk-delete": st.sampled_from([b"", b"true"]),
    "extract-archive": st.sampled_from([b"tar", b"tar.gz", b"tar.bz2", b"zip", b""]),
    "versions": st.sampled_from([b"", b"true", b"x"]),
    "version-id": st.one_of(st.sampled_from([b"null", b"", b"0", b"1234567890.12345"]), VALUES),
    "symlink": st.sampled_from([b"get", b"", b"x"]),
    "temp_url_sig": VALUES, "temp_url_expires": NUMBERS.map(str.encode), "temp_url_prefix": VALUES,
    "filename": VALUES, "inline": st.just(b""),
    "states": st.sampled_from([b"listing", b"updating", b"auditing", b""]),
    "includes": VALUES,
}


@st.composite
def query(draw: st.DrawFn) -> bytes:
    keys = st.one_of(st.sampled_from(sorted(QUERY_VALUES)), st.sampled_from(sorted(QUERY_VALUES)), TEXT)
    pairs = draw(st.lists(keys, max_size=3))
    if not pairs:
        return b""
    items = []
    for key in pairs:
        value = draw(QUERY_VALUES.get(key, VALUES))
        encoded_key = _escaped(key.encode())
        if draw(st.integers(0, 5)) == 0:
            items.append(encoded_key)  # a key with no '='
        else:
            items.append(encoded_key + b"=" + _escaped(value))
    return b"?" + b"&".join(items)


# --- headers -------------------------------------------------------------

def _copy_targets() -> st.SearchStrategy[bytes]:
    known = [f"{c}/{o}".encode() for c in CONTAINERS for o in OBJECTS[:3]]
    return st.one_of(st.sampled_from(known + [b"/fuzz/plain", b"fuzz", b"/", b"", b"fuzz/../fuzz/plain",
                                              b"fuzz%2Fplain", b"%ff/x", b"fuzz/%00"]),
                     st.tuples(name(CONTAINERS), name(OBJECTS)).map(lambda t: t[0] + b"/" + t[1]))


RANGE_SPECS = st.one_of(
    st.tuples(st.integers(-5, 70).map(str), st.integers(-5, 70).map(str)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.integers(0, 70).map(lambda n: f"-{n}"), st.integers(0, 70).map(lambda n: f"{n}-"),
    st.sampled_from(["", "-", "a-b", "0-99999999999999999999999", "--1", " 1 - 2 "]),
)
RANGES = st.one_of(
    st.lists(RANGE_SPECS, min_size=1, max_size=5).map(lambda r: ("bytes=" + ",".join(r)).encode()),
    st.integers(0, 120).map(lambda n: ("bytes=" + ",".join(["0-"] * n)).encode()),
    VALUES,
)
ETAGS = st.one_of(st.sampled_from([b"*", b'"x"', b"W/\"x\"", b"d41d8cd98f00b204e9800998ecf8427e", b'"a", "b"',
                                   b"", b","]), VALUES)
DATES = st.one_of(st.sampled_from([b"Thu, 01 Jan 1970 00:00:00 GMT", b"Fri, 31 Dec 9999 23:59:59 GMT",
                                   b"Sun, 06 Nov 1994 08:49:37 GMT", b"-1", b"0", b"yesterday"]), VALUES)
ACLS = st.one_of(st.sampled_from([b".r:*", b".r:*,.rlistings", b"test:tester2", b"test2:*", b".r:-bad.com",
                                  b".r:", b"*:*", b".rlistings", b"AUTH_test2", b",,,"]), VALUES)
ACCOUNT_ACLS = st.one_of(
    st.sampled_from([b'{"admin": ["test:tester2"]}', b'{"read-only": ["*"]}', b"{}", b"[]", b"{",
                     b'{"admin": "x"}', b'{"other": []}', b"null"]),
    st.recursive(st.none() | st.booleans() | st.integers() | TEXT, lambda c: st.lists(c) | st.dictionaries(TEXT, c),
                 max_leaves=6).map(lambda v: json.dumps(v).encode()),
)
META_NAMES = st.one_of(st.sampled_from([b"Color", b"A", b"Quota-Bytes", b"Quota-Count", b"Temp-URL-Key",
                                        b"Web-Index", b"Access-Control-Allow-Origin", b"x" * 200]),
                       st.binary(max_size=12).map(lambda b: b.translate(None, b"\r\n\x00: ")), text_bytes())


GOOD_META = st.tuples(st.sampled_from([b"X-Object-Meta-", b"X-Container-Meta-", b"X-Account-Meta-"]),
                      st.sampled_from([b"Color", b"Temp-URL-Key", b"Web-Index", b"Quota-Bytes"]),
                      st.one_of(st.sampled_from([b"1", b"red", b"index.html"]), text_bytes())
                      ).map(lambda t: (t[0] + t[1], t[2]))


@st.composite
def meta_header(draw: st.DrawFn) -> tuple[bytes, bytes]:
    kind = draw(st.sampled_from([b"X-Object-Meta-", b"X-Container-Meta-", b"X-Account-Meta-",
                                 b"X-Remove-Container-Meta-", b"X-Remove-Account-Meta-", b"X-Object-Sysmeta-",
                                 b"X-Container-Sysmeta-", b"X-Backend-"]))
    return kind + draw(META_NAMES), draw(VALUES)


HEADERS: dict[bytes, st.SearchStrategy[bytes]] = {
    b"Range": RANGES,
    b"If-Match": ETAGS, b"If-None-Match": ETAGS, b"ETag": ETAGS,
    b"If-Modified-Since": DATES, b"If-Unmodified-Since": DATES,
    b"X-Delete-At": NUMBERS.map(str.encode), b"X-Delete-After": NUMBERS.map(str.encode),
    b"X-Copy-From": _copy_targets(), b"Destination": _copy_targets(),
    b"X-Copy-From-Account": st.sampled_from([b"AUTH_test", b"AUTH_test2", b"%ff", b""]),
    b"Destination-Account": st.sampled_from([b"AUTH_test", b"AUTH_test2", b"%ff", b""]),
    b"X-Container-Read": ACLS, b"X-Container-Write": ACLS, b"X-Account-Access-Control": ACCOUNT_ACLS,
    b"X-Container-Sync-Key": VALUES, b"X-Container-Sync-To": VALUES,
    b"X-Object-Manifest": _copy_targets(),
    b"X-Static-Large-Object": st.sampled_from([b"true", b"false", b"x"]),
    b"X-Versions-Location": st.one_of(st.sampled_from([b"fuzz-versions", b"fuzz", b""]), VALUES),
    b"X-History-Location": st.one_of(st.sampled_from([b"fuzz-versions", b""]), VALUES),
    b"X-Versions-Enabled": st.sampled_from([b"true", b"false", b"x", b""]),
    b"X-Symlink-Target": _copy_targets(), b"X-Symlink-Target-Account": st.sampled_from([b"AUTH_test2", b"x"]),
    b"X-Symlink-Target-Etag": ETAGS,
    b"X-Account-Quota-Bytes": NUMBERS.map(str.encode), b"X-Account-Quota-Count": NUMBERS.map(str.encode),
    b"X-Container-Meta-Quota-Bytes": NUMBERS.map(str.encode),
    b"X-Container-Meta-Quota-Count": NUMBERS.map(str.encode),
    b"X-Storage-Policy": st.sampled_from([b"gold", b"silver", b"Policy-0", b"", b"\xff"]),
    b"X-Timestamp": NUMBERS.map(str.encode), b"X-Backend-Storage-Policy-Index": NUMBERS.map(str.encode),
    b"X-Newest": st.sampled_from([b"true", b"x"]), b"X-Fresh-Metadata": st.sampled_from([b"true", b"x"]),
    b"X-Detect-Content-Type": st.sampled_from([b"true", b"x"]),
    b"Content-Type": st.one_of(st.sampled_from([b"application/json", b"text/plain;swift_bytes=5",
                                                b"application/directory", b"a/b;x=\xff"]), VALUES),
    b"Content-Encoding": VALUES, b"Content-Disposition": VALUES,
    b"Accept": st.sampled_from([b"application/json", b"application/xml", b"text/xml", b"*/*", b"\xff"]),
    b"Origin": st.sampled_from([b"http://example.com", b"null", b"", b"\xff"]),
    b"Access-Control-Request-Method": st.sampled_from([b"GET", b"PUT", b"X", b""]),
    b"Access-Control-Request-Headers": VALUES,
    b"Expect": st.sampled_from([b"100-continue", b"x"]),
    b"X-Trans-Id-Extra": VALUES, b"Referer": VALUES, b"X-Service-Token": VALUES,
}


@st.composite
def headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    chosen = draw(st.lists(st.sampled_from(sorted(HEADERS)), max_size=4, unique=True))
    found = [(name, draw(HEADERS[name])) for name in chosen]
    found += draw(st.lists(st.one_of(GOOD_META, meta_header()), max_size=3))
    if draw(st.integers(0, 9)) == 0:  # a run of metadata past the count limit
        found += [(b"X-Object-Meta-K%d" % i, b"v") for i in range(draw(st.integers(80, 100)))]
    return found


# --- bodies --------------------------------------------------------------

def _segment_path() -> st.SearchStrategy[object]:
    return st.one_of(st.sampled_from(["/fuzz/seg/1", "/fuzz/seg/2", "/fuzz/slo", "/fuzz/dlo", "fuzz/seg/1",
                                      "/fuzz-segments/x", "/AUTH_test2/x/y", "/fuzz/%ff", "//", "/fuzz"]),
                     TEXT, st.integers(), st.none())


SEGMENT = st.fixed_dictionaries(
    {"path": _segment_path()},
    optional={
        "etag": st.one_of(st.none(), st.sampled_from(["", "x", "d41d8cd98f00b204e9800998ecf8427e"]), TEXT),
        "size_bytes": st.one_of(st.none(), st.integers(-5, 10**20), st.just("5"), st.floats()),
        "range": st.one_of(st.sampled_from(["0-1", "-1", "5-", "1-0", "x", "0-99999999999999999999"]), TEXT),
        "data": st.one_of(st.sampled_from(["", "eHl6", "!!"]), TEXT, st.integers()),
        "sub_slo": st.booleans(),
    },
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for member_name, data in members:
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


BODIES = st.one_of(
    st.just(b""),
    st.binary(max_size=200),
    st.lists(SEGMENT, max_size=4).map(lambda s: json.dumps(s).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 300_000).map(lambda n: b"[" * n),
    st.integers(1, 120_000).map(lambda n: b'{"a":' * n),
    st.lists(st.one_of(_copy_targets(), text_bytes()), max_size=5).map(b"\n".join),  # bulk-delete lines
    st.lists(st.tuples(st.one_of(TEXT, st.sampled_from(["fuzz/x", "../x", "/abs", "a" * 1100, "c/" + "o" * 1030])),
                       st.binary(max_size=20)), max_size=3).map(_tar),
)

# Framing headers, sent literally (``framing="raw"``), with a body that
# ends where the parser looks for its end. None promises a body it does not
# send: a request that does is rightly waited on until client_timeout.
BAD_FRAMINGS = st.sampled_from([
    [(b"Content-Length", b"abc")], [(b"Content-Length", b"-1")], [(b"Content-Length", b"1, 2")],
    [(b"Content-Length", b"0"), (b"Content-Length", b"1")], [(b"Content-Length", b" 0")], [(b"Content-Length", b"+0")],
    [(b"Transfer-Encoding", b"gzip, chunked")], [(b"Transfer-Encoding", b"identity")],
    [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"0")], [(b"Transfer-Encoding", b"chunked, chunked")],
    [(b"Transfer-Encoding", b"xchunked")], [(b"Transfer-Encoding", b"")],
])


# --- well-formed requests --------------------------------------------------
# Most fuzzed requests fail a check early (a 4xx); these get past every
# check, so that the features' own code runs with the other fuzzed parts.

GOOD_HEADERS: dict[bytes, st.SearchStrategy[bytes]] = {
    b"Range": st.sampled_from([b"bytes=0-5", b"bytes=-3", b"bytes=2-", b"bytes=0-0,2-3", b"bytes=100-"]),
    b"If-None-Match": st.sampled_from([b"*", b'"nope"']), b"If-Match": st.sampled_from([b"*", b'"nope"']),
    b"X-Delete-After": st.sampled_from([b"3600", b"1"]), b"X-Copy-From": st.sampled_from(
        [b"fuzz/plain", b"fuzz/slo", b"fuzz/dlo", b"fuzz-acl/x"]),
    b"Destination": st.sampled_from([b"fuzz/copy", b"fuzz-acl/copy", b"fuzz/slo"]),
    b"X-Container-Read": st.sampled_from([b".r:*", b".r:*,.rlistings", b"test:tester3"]),
    b"X-Container-Write": st.sampled_from([b"test:tester3", b"test2:tester2"]),
    b"X-Object-Manifest": st.sampled_from([b"fuzz/seg/", b"fuzz/"]),
    b"X-Versions-Location": st.just(b"fuzz-versions"), b"X-History-Location": st.just(b"fuzz-versions"),
    b"X-Versions-Enabled": st.sampled_from([b"true", b"false"]),
    b"X-Symlink-Target": st.sampled_from([b"fuzz/plain", b"fuzz/slo", b"fuzz/missing"]),
    b"Content-Type": st.sampled_from([b"text/plain", b"application/directory"]),
    b"X-Container-Meta-Quota-Bytes": st.sampled_from([b"100000", b"0", b""]),
    b"X-Container-Meta-Quota-Count": st.sampled_from([b"100", b"0"]),
    b"X-Account-Quota-Bytes": st.sampled_from([b"100000000", b""]),
    b"Accept": st.sampled_from([b"application/json", b"text/xml"]),
    b"Origin": st.just(b"http://example.com"), b"X-Newest": st.just(b"true"),
}
GOOD_QUERIES = st.sampled_from([b"", b"", b"?format=json", b"?multipart-manifest=put", b"?multipart-manifest=get",
                                b"?multipart-manifest=delete", b"?limit=2&marker=a", b"?prefix=seg/&delimiter=/",
                                b"?versions", b"?symlink=get", b"?bulk-delete", b"?extract-archive=tar",
                                b"?format=xml&reverse=true", b"?multipart-manifest=get&format=raw"])
GOOD_BODIES = st.one_of(
    st.just(b""), st.just(b"0123456789"),
    st.lists(st.fixed_dictionaries({"path": st.sampled_from(["/fuzz/seg/1", "/fuzz/seg/2", "/fuzz/slo"])},
                                   optional={"range": st.sampled_from(["0-1", "-2", "3-"])}),
             min_size=1, max_size=3).map(lambda s: json.dumps(s).encode()),
    st.lists(st.sampled_from(["fuzz/x/1", "fuzz/plain", "fuzz-acl/t", "newc/a"]), max_size=3).map(
        lambda names: _tar([(n, b"data") for n in names])),
    st.lists(st.sampled_from([b"/fuzz/copy", b"/fuzz/x/1", b"/fuzz-acl/t", b"/newc"]), max_size=3).map(b"\n".join),
)


@st.composite
def good_request(draw: st.DrawFn, depth: int) -> RawRequest:
    method = draw(st.sampled_from(VERBS))
    names = [b"AUTH_test", draw(st.sampled_from(CONTAINERS)).encode(), draw(st.sampled_from(OBJECTS)).encode()]
    target = b"/v1/" + b"/".join(names[:depth]) + draw(GOOD_QUERIES)
    chosen = draw(st.lists(st.sampled_from(sorted(GOOD_HEADERS)), max_size=3, unique=True))
    found = [(name, draw(GOOD_HEADERS[name])) for name in chosen]
    found += draw(st.lists(GOOD_META, max_size=2))
    body = draw(GOOD_BODIES) if method in (b"PUT", b"POST", b"DELETE") else b""
    return RawRequest(method, target, tuple(found), body, draw(st.sampled_from(["length"] * 4 + ["chunked"])))


def swift_request(depth: int) -> st.SearchStrategy[RawRequest]:
    """A request to an account (``depth`` 1), container (2) or object (3):
    well-formed or hostile."""
    return st.one_of(good_request(depth), hostile_request(depth))


@st.composite
def hostile_request(draw: st.DrawFn, depth: int) -> RawRequest:
    method = draw(st.one_of(st.sampled_from(VERBS), st.sampled_from(VERBS), st.sampled_from(VERBS),
                            st.sampled_from(ODD_VERBS)))
    target = draw(swift_target(depth))
    found = draw(headers())
    body = draw(BODIES) if method in (b"PUT", b"POST", b"DELETE") or draw(st.integers(0, 9)) == 0 else b""
    framing = draw(st.sampled_from(["length"] * 8 + ["chunked", "chunked", "raw"]))
    if framing == "raw":
        found += draw(BAD_FRAMINGS)
        body = b"0\r\n\r\n" if (b"Transfer-Encoding", b"chunked") in found else b""
    return RawRequest(method, target, tuple(found), body, framing)
