from proxy.error_limiter import ErrorLimiter


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
