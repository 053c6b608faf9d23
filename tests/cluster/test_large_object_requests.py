"""What a client can ask of a large object beyond a plain read or write,
answered as Swift 2.38 answers it, on a real cluster: ``?part-number=``,
the manifest itself (``?multipart-manifest=get``), Range and If-Range,
segments read with the reader's own rights, and a manifest PUT that
heartbeats (``?heartbeat=on``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import pytest
import requests

from tests.cluster.cluster_harness import Api, RunningCluster, cluster_fixture

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("large-object-requests")
PARTS = [b"a" * 1000, b"b" * 2000, b"c" * 3000, b"d" * 1]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()




@pytest.fixture(scope="module")
def api(cluster: RunningCluster) -> Api:
    return Api(cluster)


@pytest.fixture(scope="module")
def slo(api: Api) -> str:
    """An SLO of PARTS in container ``lo`` (segments in ``lo_segs``): its ETag."""
    api("PUT", "lo_segs")
    api("PUT", "lo")
    manifest = []
    for index, body in enumerate(PARTS):
        assert api("PUT", f"lo_segs/p{index}", body).status_code == 201
        manifest.append({"path": f"/lo_segs/p{index}", "etag": md5(body), "size_bytes": len(body)})
    assert api("PUT", "lo/m?multipart-manifest=put", json.dumps(manifest)).status_code == 201
    return md5("".join(md5(p) for p in PARTS).encode())


def test_part_number_serves_one_segment(api: Api, slo: str) -> None:
    total, start = sum(map(len, PARTS)), 0
    manifest_etag = api("GET", "lo/m?multipart-manifest=get").headers["ETag"]
    for number, part in enumerate(PARTS, start=1):
        end = start + len(part) - 1
        for method in ("GET", "HEAD"):
            got = api(method, f"lo/m?part-number={number}")
            assert got.status_code == 206
            assert got.headers["Content-Range"] == f"bytes {start}-{end}/{total}"
            assert got.headers["Content-Length"] == str(len(part))
            assert (got.headers["X-Parts-Count"], got.headers["ETag"]) == ("4", f'"{slo}"')
            assert got.headers["X-Manifest-Etag"] == manifest_etag
        assert api("GET", f"lo/m?part-number={number}").content == part
        start = end + 1


def test_bad_part_numbers(api: Api, slo: str) -> None:
    for value in ("0", "-1", "x"):
        bad = api("GET", f"lo/m?part-number={value}")
        assert (bad.status_code, bad.content) == (400, b"Part number must be an integer greater than 0")
        assert api("HEAD", f"lo/m?part-number={value}").status_code == 400
    both = api("GET", "lo/m?part-number=1", Range="bytes=0-1")
    assert both.status_code == 400
    beyond = api("GET", "lo/m?part-number=5")
    assert (beyond.status_code, beyond.content) == (416, b"The requested part number is not satisfiable")
    head = api("HEAD", "lo/m?part-number=5")
    assert (head.status_code, head.headers["Content-Length"]) == (416, "0")
    for answer in (beyond, head):
        assert answer.headers["Content-Range"] == f"bytes */{sum(map(len, PARTS))}"
        assert (answer.headers["X-Parts-Count"], answer.headers["ETag"]) == ("4", f'"{slo}"')
        assert answer.headers["X-Static-Large-Object"] == "True"
    # Plain objects and DLOs ignore it.
    api("PUT", "lo/plain", b"plain")
    assert api("GET", "lo/plain?part-number=7").content == b"plain"
    # So does a read of the manifest itself.
    assert api("GET", "lo/m?part-number=2&multipart-manifest=get").json()[0]["bytes"] == 1000


def test_the_manifest_itself_and_its_content_types(api: Api, slo: str) -> None:
    api("PUT", "lo/typed?multipart-manifest=put", json.dumps([{"path": "/lo_segs/p0"}]), Content_Type="text/x-big")
    stored = api("GET", "lo/typed?multipart-manifest=get")
    assert stored.headers["Content-Type"] == "application/json; charset=utf-8"
    assert stored.headers["ETag"] == md5(stored.content)
    head = api("HEAD", "lo/typed?multipart-manifest=get")
    assert head.headers["Content-Type"] == "application/json; charset=utf-8"
    assert (head.headers["ETag"], head.headers["Content-Length"]) == (md5(stored.content), str(len(stored.content)))
    raw = api("GET", "lo/typed?multipart-manifest=get&format=raw")
    assert raw.headers["Content-Type"] == "text/x-big"  # the manifest's own: PUT it back as it was
    assert raw.headers["ETag"] == md5(raw.content)
    assert json.loads(raw.content) == [{"path": "/lo_segs/p0", "etag": md5(PARTS[0]), "size_bytes": 1000}]
    raw_head = api("HEAD", "lo/typed?multipart-manifest=get&format=raw")
    assert (raw_head.headers["Content-Type"], raw_head.headers["ETag"]) == ("text/x-big", md5(raw.content))
    assert raw_head.headers["Content-Length"] == str(len(raw.content))


def test_if_range_on_a_large_object(api: Api, slo: str) -> None:
    whole = b"".join(PARTS)
    same = api("GET", "lo/m", Range="bytes=999-1000", If_Range=f'"{slo}"')
    assert (same.status_code, same.content) == (206, b"ab")
    stale = api("GET", "lo/m", Range="bytes=999-1000", If_Range='"not-it"')
    assert (stale.status_code, stale.content) == (200, whole)


def test_a_dlo_ignores_a_multi_range_request(api: Api, slo: str) -> None:
    assert api("PUT", "lo/dlo", b"", X_Object_Manifest="lo_segs/p").status_code == 201
    whole = b"".join(PARTS)
    many = api("GET", "lo/dlo", Range="bytes=0-4,10-14")
    assert (many.status_code, many.content) == (200, whole)
    one = api("GET", "lo/dlo", Range="bytes=998-1001")
    assert (one.status_code, one.content) == (206, b"aabb")
    slo_many = api("GET", "lo/m", Range="bytes=0-4,10-14")  # an SLO serves them
    assert slo_many.status_code == 206 and "multipart/byteranges" in slo_many.headers["Content-Type"]


def test_segments_are_read_with_the_readers_rights(cluster: RunningCluster, api: Api, slo: str) -> None:
    """The manifest's container is readable by test:tester3, the segments'
    is not: its read of the large object fails (409, as Swift's), though
    the writer could read every segment."""
    reader = Api(cluster, "test:tester3", "testing3")
    assert api("POST", "lo", X_Container_Read="test:tester3").status_code == 204
    try:
        assert reader("HEAD", "lo/m").status_code == 200  # a HEAD reads no segment
        assert reader("GET", "lo/m").status_code == 409
        assert reader("GET", "lo/m?part-number=2").status_code == 409
        assert api("POST", "lo_segs", X_Container_Read="test:tester3").status_code == 204
        assert reader("GET", "lo/m").content == b"".join(PARTS)
    finally:
        api("POST", "lo", X_Remove_Container_Read="x")
        api("POST", "lo_segs", X_Remove_Container_Read="x")


def _heartbeat_put(api: Api, manifest: Sequence[Mapping[str, object]], **headers: str) -> bytes:
    answer = api("PUT", "lo/hb?multipart-manifest=put&heartbeat=on", json.dumps(manifest), **headers)
    assert answer.status_code == 202 and answer.headers.get("Transfer-Encoding") == "chunked"
    beats, blank, summary = answer.content.split(b"\n", 2)
    assert not beats.strip() and blank == b"\r"
    return summary


def test_a_heartbeating_manifest_put(api: Api, slo: str) -> None:
    manifest = [{"path": f"/lo_segs/p{i}"} for i in range(len(PARTS))]
    text = _heartbeat_put(api, manifest).decode().splitlines()
    assert "Response Status: 201 Created" in text and f'Etag: "{slo}"' in text
    assert any(line.startswith("Last Modified: ") for line in text)
    assert api("GET", "lo/hb").content == b"".join(PARTS)

    as_json = json.loads(_heartbeat_put(api, [*manifest, {"path": "lo_segs/missing"}], Accept="application/json"))
    assert as_json["Response Status"] == "400 Bad Request" and as_json["Response Body"].startswith("Bad Request\n")
    assert as_json["Errors"] == [["lo_segs/missing", "404 Not Found"]]  # named as the client wrote it
    mismatch = json.loads(_heartbeat_put(api, manifest, Accept="application/json", ETag="bad etag"))
    assert mismatch == {"Response Status": "422 Unprocessable Entity", "Errors": [],
                        "Response Body": "Unprocessable Entity\nUnable to process the contained instructions"}
    # A manifest that does not parse is refused at once, without a 202.
    assert api("PUT", "lo/hb?multipart-manifest=put&heartbeat=on", "{nope").status_code == 400


def test_info_advertises_heartbeats(cluster: RunningCluster) -> None:
    assert requests.get(f"{cluster.proxy}/info", timeout=10).json()["slo"]["yield_frequency"] == 10
