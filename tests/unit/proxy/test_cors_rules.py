"""CORS decisions (proxy.cors' pure rules), as Swift makes them."""

from __future__ import annotations

from proxy.config import CorsSection
from proxy.cors import CorsRules, actual_headers, preflight_headers

ANY = CorsRules.of({"access-control-allow-origin": "*"}, CorsSection())
LISTED = CorsRules.of({"access-control-allow-origin": "http://a.com  http://b.com",
                       "access-control-max-age": "60", "access-control-expose-headers": "X-Foo x-bar"},
                      CorsSection())
NONE = CorsRules.of({}, CorsSection())


def test_origins() -> None:
    assert ANY.allows("http://x.com")
    assert LISTED.allows("http://b.com") and not LISTED.allows("http://c.com")
    assert not NONE.allows("http://a.com")
    assert CorsRules.of({}, CorsSection(allow_origin=("http://ops.com",))).allows("http://ops.com")


def test_preflight() -> None:
    request = {"Origin": "http://a.com", "Access-Control-Request-Method": "PUT",
               "Access-Control-Request-Headers": "x-auth-token, content-type"}
    headers = preflight_headers(LISTED, "object", request)
    assert headers is not None
    assert headers["Access-Control-Allow-Origin"] == "http://a.com"
    assert headers["Access-Control-Max-Age"] == "60"
    assert "PUT" in headers["Access-Control-Allow-Methods"].split(", ")
    assert headers["Access-Control-Allow-Headers"] == "x-auth-token, content-type"
    assert headers["Vary"] == "Origin, Access-Control-Request-Headers"
    assert preflight_headers(ANY, "container", {"Origin": "http://x.com", "Access-Control-Request-Method": "GET"}
                             ) == {"Allow": "DELETE, GET, HEAD, OPTIONS, POST, PUT",
                                   "Access-Control-Allow-Origin": "*",
                                   "Access-Control-Allow-Methods": "DELETE, GET, HEAD, OPTIONS, POST, PUT"}
    # not allowed: another origin, no method, a method the path does not take
    assert preflight_headers(LISTED, "object", {**request, "Origin": "http://c.com"}) is None
    assert preflight_headers(LISTED, "object", {"Origin": "http://a.com"}) is None
    assert preflight_headers(ANY, "container", {"Origin": "http://a.com", "Access-Control-Request-Method": "COPY"}
                             ) is None


def test_actual_requests() -> None:
    answer = {"Content-Type": "text/plain", "X-Object-Meta-Color": "red", "Vary": "Accept"}
    added = actual_headers(LISTED, "http://a.com", True, answer)
    assert added["Access-Control-Allow-Origin"] == "http://a.com" and added["Vary"] == "Accept, Origin"
    exposed = added["Access-Control-Expose-Headers"].split(", ")
    assert {"etag", "x-trans-id", "x-object-meta-color", "x-foo", "x-bar"} <= set(exposed)
    assert actual_headers(ANY, "http://x.com", True, {})["Access-Control-Allow-Origin"] == "*"
    # strict mode: an origin not allowed gets nothing; otherwise it is echoed
    assert actual_headers(LISTED, "http://c.com", True, answer) == {}
    assert actual_headers(NONE, "http://c.com", False, {})["Access-Control-Allow-Origin"] == "http://c.com"
    # what the answer already has is kept
    assert "Access-Control-Allow-Origin" not in actual_headers(ANY, "http://x", True,
                                                               {"Access-Control-Allow-Origin": "mine"})
