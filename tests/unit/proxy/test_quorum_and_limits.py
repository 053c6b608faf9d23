from proxy.error_limiter import ErrorLimiter
from proxy.headers import backend_response_headers, client_headers_for_backend
from proxy.info import info_document
from proxy.quorum import Reply, best_status, is_newer, newest, quorum_etag, quorum_size


def test_quorum_size():
    assert [quorum_size(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_best_status():
    assert best_status([201, 201, 503], 2) == 201
    assert best_status([201, 503, 503], 2) == 503  # never a false success
    assert best_status([201], 2) == 503
    assert best_status([404, 404, 201], 2) == 404
    assert best_status([409, 404, 409], 2) == 409
    assert best_status([422, 422, 422], 2) == 422
    assert best_status([507, 507, 201], 2) == 503


def test_quorum_etag():
    good = [Reply(201, "a"), Reply(201, "a"), Reply(503)]
    assert quorum_etag(good, 2) == "a"
    split = [Reply(201, "a"), Reply(201, "b"), Reply(201, "a")]
    assert quorum_etag(split, 3) is None
    assert quorum_etag([Reply(201, "a"), Reply(422, "a")], 2) is None


def test_newest():
    assert newest([None, "0000000002.00000", "0000000001.00000"]) == 1
    assert newest([None, "garbage"]) is None
    assert is_newer("2.0", "1.5") and not is_newer("1.0", "1.0") and is_newer("1.0", None)


def test_error_limiter():
    limiter = ErrorLimiter(limit=3, interval=10.0)
    for t in (0.0, 1.0):
        limiter.error("n", t)
    assert not limiter.is_limited("n", 2.0)
    limiter.error("n", 2.0)
    assert limiter.is_limited("n", 3.0)
    assert not limiter.is_limited("n", 12.5)  # the limit ran out
    limiter.error("m", 0.0)
    limiter.error("m", 11.0)  # the first error fell out of the window
    limiter.error("m", 12.0)
    assert not limiter.is_limited("m", 12.0)
    limiter.insufficient_storage("d", 0.0)
    assert limiter.is_limited("d", 9.9)
    limiter.success("d")
    assert not limiter.is_limited("d", 1.0)


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


def test_info_document():
    doc = info_document(123)
    assert doc["swift"]["max_file_size"] == 123
    assert doc["swift"]["max_meta_count"] == 90
    assert doc["slo"]["max_manifest_segments"] == 1000 and doc["dlo"] == {}
