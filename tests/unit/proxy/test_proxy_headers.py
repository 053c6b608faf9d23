"""proxy/headers.py (named apart from storage's headers tests: test
basenames are unique across the suite)."""

import pytest

from martlet.errors import BadRequest
from proxy.headers import backend_response_headers, client_headers_for_backend, content_type_of, object_headers


def test_header_filters():
    out = client_headers_for_backend(
        {
            "X-Object-Meta-Color": "red",
            "X-Remove-Container-Meta-Old": "x",
            "X-Timestamp": "forged",
            "X-Backend-Type": "account",
            "X-Remove-Container-Read": "1",
            "Content-Type": "text/plain",
        }
    )
    assert out == {
        "X-Object-Meta-Color": "red",
        "X-Container-Meta-Old": "",
        "X-Container-Read": "",
        "Content-Type": "text/plain",
    }
    back = backend_response_headers(
        {"X-Backend-Timestamp": "1", "Content-Length": "3", "ETag": "e", "Connection": "keep-alive"}
    )
    assert back == {"ETag": "e"}


def test_object_headers_check_metadata_and_resolve_delete_after():
    out = object_headers({"X-Object-Meta-A": "1", "X-Delete-After": "60", "X-Object-Sysmeta-B": "x"}, 1000.5)
    assert out == {"X-Object-Meta-A": "1", "X-Delete-At": "1060"}
    with pytest.raises(BadRequest):
        object_headers({"X-Object-Meta-" + "k" * 129: "v"}, 0.0)
    with pytest.raises(BadRequest):
        object_headers({"X-Delete-At": "10"}, 1000.0)


def test_content_type_is_the_clients_or_guessed():
    assert content_type_of({"Content-Type": "a/b"}, "x.txt") == "a/b"
    assert content_type_of({}, "x.txt") == "text/plain"
    assert content_type_of({"Content-Type": "a/b", "X-Detect-Content-Type": "true"}, "x.txt") == "text/plain"
    assert content_type_of({}, "noext") == "application/octet-stream"


def test_robots_tag_reaches_the_object_servers() -> None:
    # Swift's object servers keep X-Robots-Tag (allowed_headers); S3 clients set it too.
    from proxy.headers import client_headers_for_backend

    assert client_headers_for_backend({"X-Robots-Tag": "googlebot: noarchive"}) == {
        "X-Robots-Tag": "googlebot: noarchive"}
