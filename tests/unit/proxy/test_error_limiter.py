from proxy.error_limiter import ErrorLimiter, Tally, Verdict, verdict


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


def test_verdicts():
    assert verdict(507) is Verdict.DEVICE_GONE
    for status in (500, 502, 503, 504, 401):
        assert verdict(status) is Verdict.SUSPECT, status
    for status in (200, 201, 204, 206, 304):
        assert verdict(status) is Verdict.SERVED, status
    for status in (400, 403, 404, 409, 412, 416, 422, 499):
        assert verdict(status) is Verdict.ANSWERED, status


def test_suspects_count_only_when_another_node_served_the_request():
    tally = Tally(suspects=["a", "b"])
    assert tally.settle() == []  # every node failed it: the request is the likely cause
    tally.served = True
    assert tally.settle() == ["a", "b"]
