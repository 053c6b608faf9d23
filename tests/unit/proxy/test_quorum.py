from proxy.quorum import Reply, Written, best_status, is_newer, newest, quorum_etag, quorum_size


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


def test_written_is_judged_by_its_quorum():
    written = Written([Reply(201, "a"), Reply(201, "a"), Reply(503)], 3)
    assert (written.quorum, written.status, written.etag) == (2, 201, "a")
    short = Written([Reply(201, "a"), Reply(503), Reply(503)], 3)
    assert (short.status, short.etag) == (503, None)


def test_newest():
    assert newest([None, "0000000002.00000", "0000000001.00000"]) == 1
    assert newest([None, "garbage"]) is None
    assert is_newer("2.0", "1.5") and not is_newer("1.0", "1.0") and is_newer("1.0", None)
