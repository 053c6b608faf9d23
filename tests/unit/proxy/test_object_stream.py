from proxy.object_stream import resume_range


def test_resume_range_whole_and_single_range():
    assert resume_range(200, {"Content-Length": "100"}, 40) == (40, 99)
    assert resume_range(206, {"Content-Range": "bytes 10-19/100"}, 4) == (14, 19)
    assert resume_range(206, {"Content-Type": "multipart/byteranges; boundary=x"}, 4) is None
    assert resume_range(200, {}, 4) is None
    assert resume_range(304, {"Content-Length": "0"}, 0) is None


def test_sent_crc_only_for_a_whole_body_a_replica_checks():
    from proxy.object_stream import sent_crc

    md5 = {"ETag": '"0123456789abcdef0123456789abcdef"'}
    assert sent_crc("GET", 200, md5, 10) is not None
    assert sent_crc("HEAD", 200, md5, 10) is None
    assert sent_crc("GET", 206, md5, 10) is None  # a range: no whole-body md5 behind it
    assert sent_crc("GET", 200, {"ETag": '"not-an-md5"'}, 10) is None
    assert sent_crc("GET", 200, md5, None) is None

