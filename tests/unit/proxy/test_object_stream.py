from proxy.object_stream import resume_range


def test_resume_range_whole_and_single_range():
    assert resume_range(200, {"Content-Length": "100"}, 40) == (40, 99)
    assert resume_range(206, {"Content-Range": "bytes 10-19/100"}, 4) == (14, 19)
    assert resume_range(206, {"Content-Type": "multipart/byteranges; boundary=x"}, 4) is None
    assert resume_range(200, {}, 4) is None
    assert resume_range(304, {"Content-Length": "0"}, 0) is None
