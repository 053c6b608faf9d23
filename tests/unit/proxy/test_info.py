from proxy.info import info_document


def test_info_document():
    doc = info_document(123)
    assert doc["swift"]["max_file_size"] == 123
    assert doc["swift"]["max_meta_count"] == 90
    assert doc["slo"]["max_manifest_segments"] == 1000 and doc["dlo"] == {}
