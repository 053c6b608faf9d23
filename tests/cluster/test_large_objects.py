"""Large objects on a real cluster (started like ``martlet dev``) with
``max_file_size`` at 1 MiB, so the "bigger than one object" rule is cheap
to prove: the unmodified ``swift`` CLI with ``--use-slo`` and
``--use-dlo``, and raw HTTP for manifests, ranges, conditions and faults."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import requests

from tests.cluster.cluster_harness import Api as UserApi, RunningCluster, cluster_fixture

pytestmark = pytest.mark.cluster
MAX_FILE_SIZE = 1024 * 1024
SEGMENT = 262144


cluster = cluster_fixture("large-objects", max_file_size=MAX_FILE_SIZE)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "big.bin"
    path.write_bytes(os.urandom(3 * MAX_FILE_SIZE + 12345))  # 12 full segments and a short one
    return path


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stderr
    return result.stdout


class Api(UserApi):
    """Raw HTTP as the test user, and segments made for a manifest."""

    def segments(self, container: str, contents: list[bytes], prefix: str = "seg") -> list[dict[str, object]]:
        self("PUT", container)
        manifest = []
        for index, body in enumerate(contents):
            name = f"{prefix}/{index:04d}"
            assert self("PUT", f"{container}/{name}", body).status_code == 201
            manifest.append({"path": f"/{container}/{name}", "etag": md5(body), "size_bytes": len(body)})
        return manifest


@pytest.fixture(scope="module")
def api(cluster: RunningCluster) -> Api:
    return Api(cluster)


def test_info_advertises_slo_and_dlo(cluster: RunningCluster) -> None:
    info = requests.get(f"{cluster.proxy}/info", timeout=10).json()
    assert info["slo"] == {"max_manifest_segments": 1000, "max_manifest_size": 8388608, "min_segment_size": 1,
                           "yield_frequency": 10}
    assert info["dlo"] == {}
    assert info["swift"]["max_file_size"] == MAX_FILE_SIZE


def test_above_max_file_size_only_as_segments(api: Api) -> None:
    data = os.urandom(MAX_FILE_SIZE + 1)
    api("PUT", "rule")
    assert api("PUT", "rule/plain", data).status_code == 413
    assert api("HEAD", "rule/plain").status_code == 404
    manifest = api.segments("rule_segs", [data[:MAX_FILE_SIZE], data[MAX_FILE_SIZE:]])
    assert api("PUT", "rule/big?multipart-manifest=put", json.dumps(manifest)).status_code == 201
    back = api("GET", "rule/big")
    assert back.status_code == 200 and back.content == data


def test_swift_upload_use_slo(cluster: RunningCluster, big_file: Path, tmp_path: Path) -> None:
    data = big_file.read_bytes()
    ok(cluster.swift("upload", "slo", "big.bin", "--use-slo", "--segment-size", str(SEGMENT), cwd=big_file.parent))
    segments = ok(cluster.swift("list", "slo_segments")).split()
    assert len(segments) == 13 and all(s.startswith("big.bin/slo/") for s in segments)

    stat = ok(cluster.swift("stat", "slo", "big.bin"))
    assert f"Content Length: {len(data)}" in stat
    head = requests.head(f"{cluster.auth()[0]}/slo/big.bin", headers={"X-Auth-Token": cluster.auth()[1]}, timeout=10)
    assert head.headers["X-Static-Large-Object"] == "True"
    seg_etags = "".join(md5(data[i:i + SEGMENT]) for i in range(0, len(data), SEGMENT))
    assert head.headers["ETag"] == f'"{md5(seg_etags.encode())}"'
    assert f'ETag: "{md5(seg_etags.encode())}"' in stat

    ok(cluster.swift("download", "slo", "big.bin", "-o", str(tmp_path / "back.bin")))
    assert md5((tmp_path / "back.bin").read_bytes()) == md5(data)

    url, token = cluster.auth()
    span = requests.get(f"{url}/slo/big.bin", headers={"X-Auth-Token": token,
                                                      "Range": f"bytes={SEGMENT - 100}-{SEGMENT + 99}"}, timeout=10)
    assert span.status_code == 206
    assert span.headers["Content-Range"] == f"bytes {SEGMENT - 100}-{SEGMENT + 99}/{len(data)}"
    assert span.content == data[SEGMENT - 100:SEGMENT + 100]

    ok(cluster.swift("delete", "slo", "big.bin"))
    assert ok(cluster.swift("list", "slo_segments")).split() == []
    assert "big.bin" not in ok(cluster.swift("list", "slo")).split()


def test_slo_listing_row_and_container_stats(cluster: RunningCluster, api: Api, big_file: Path) -> None:
    """A listing shows the large object's bytes and SLO ETag (Swift's
    ``swift_bytes`` and ``slo_etag``); the container's stats count what is
    stored: the manifest here, the segments in their own container."""
    data = big_file.read_bytes()
    ok(cluster.swift("upload", "slolist", "big.bin", "--use-slo", "--segment-size", str(SEGMENT),
                     cwd=big_file.parent))
    (row,) = api("GET", "slolist?format=json").json()
    seg_etags = "".join(md5(data[i:i + SEGMENT]) for i in range(0, len(data), SEGMENT))
    stored = api("GET", "slolist/big.bin?multipart-manifest=get").content
    assert row["bytes"] == len(data)
    assert row["content_type"] == "application/octet-stream"  # no swift_bytes param left
    assert row["hash"] == md5(stored) and row["slo_etag"] == f'"{md5(seg_etags.encode())}"'
    xml = api("GET", "slolist?format=xml").text
    assert f"<bytes>{len(data)}</bytes>" in xml and "swift_bytes" not in xml
    long_listing = ok(cluster.swift("list", "--long", "slolist"))
    assert f"{len(data)} " in long_listing and "big.bin" in long_listing

    assert api("HEAD", "slolist").headers["X-Container-Bytes-Used"] == str(len(stored))
    assert api("HEAD", "slolist_segments").headers["X-Container-Bytes-Used"] == str(len(data))
    assert api("HEAD", "slolist").headers["X-Container-Object-Count"] == "1"

    # A client's own swift_bytes never reaches a listing.
    assert api("PUT", "slolist/liar", b"abc", Content_Type="text/plain;swift_bytes=999999").status_code == 201
    liar = [r for r in api("GET", "slolist?format=json").json() if r["name"] == "liar"][0]
    assert liar["bytes"] == 3 and liar["content_type"] == "text/plain"


def test_swift_upload_use_dlo(cluster: RunningCluster, big_file: Path, tmp_path: Path) -> None:
    data = big_file.read_bytes()
    ok(cluster.swift("upload", "dlo", "big.bin", "--use-dlo", "--segment-size", str(SEGMENT), cwd=big_file.parent))
    assert len(ok(cluster.swift("list", "dlo_segments")).split()) == 13
    stat = ok(cluster.swift("stat", "dlo", "big.bin"))
    assert f"Content Length: {len(data)}" in stat
    assert "Manifest: dlo_segments/big.bin/" in stat
    seg_etags = "".join(md5(data[i:i + SEGMENT]) for i in range(0, len(data), SEGMENT))
    assert f'ETag: "{md5(seg_etags.encode())}"' in stat

    ok(cluster.swift("download", "dlo", "big.bin", "-o", str(tmp_path / "back.bin")))
    assert md5((tmp_path / "back.bin").read_bytes()) == md5(data)

    url, token = cluster.auth()
    span = requests.get(f"{url}/dlo/big.bin", headers={"X-Auth-Token": token,
                                                      "Range": f"bytes={2 * SEGMENT - 1}-{2 * SEGMENT}"}, timeout=10)
    assert span.status_code == 206 and span.content == data[2 * SEGMENT - 1:2 * SEGMENT + 1]
    manifest = requests.get(f"{url}/dlo/big.bin?multipart-manifest=get", headers={"X-Auth-Token": token}, timeout=10)
    assert manifest.status_code == 200 and manifest.content == b""
    assert manifest.headers["X-Object-Manifest"].startswith("dlo_segments/big.bin/")

    ok(cluster.swift("delete", "dlo", "big.bin"))
    assert ok(cluster.swift("list", "dlo_segments")).split() == []


def test_bad_manifests_answer_400_with_every_problem(api: Api) -> None:
    contents = [b"a" * 100, b"b" * 200]
    manifest = api.segments("bad_segs", contents)
    api("PUT", "bad")
    wrong = [dict(manifest[0], etag="0" * 32), dict(manifest[1], size_bytes=5),
             {"path": "/bad_segs/missing"}, {"path": "/bad_segs/seg/0000", "range": "500-600"}]
    answer = api("PUT", "bad/m?multipart-manifest=put", json.dumps(wrong))
    assert answer.status_code == 400
    assert answer.text.splitlines() == [
        "Errors:", "/bad_segs/seg/0000, Etag Mismatch", "/bad_segs/seg/0001, Size Mismatch",
        "/bad_segs/missing, 404 Not Found", "/bad_segs/seg/0000, Unsatisfiable Range"]
    as_json = api("PUT", "bad/m?multipart-manifest=put", json.dumps(wrong), Accept="application/json")
    assert as_json.status_code == 400 and len(as_json.json()["Errors"]) == 4
    assert api("HEAD", "bad/m").status_code == 404  # nothing stored

    assert api("PUT", "bad/m?multipart-manifest=put", "{nope").status_code == 400
    shape = api("PUT", "bad/m?multipart-manifest=put", json.dumps([{"path": "x"}, {"data": "!"}]))
    assert shape.status_code == 400 and "Index 0" in shape.text and "Index 1" in shape.text
    too_many = api("PUT", "bad/m?multipart-manifest=put", json.dumps([manifest[0]] * 1001))
    assert too_many.status_code == 413
    wrong_etag = api("PUT", "bad/m?multipart-manifest=put", json.dumps(manifest), ETag="0" * 32)
    assert wrong_etag.status_code == 422
    assert api("PUT", "bad/plain", b"x", X_Static_Large_Object="True").status_code == 400
    assert api("PUT", "bad/dlo", b"", X_Object_Manifest="no-slash").status_code == 400


def test_manifest_get_raw_and_put_back(api: Api) -> None:
    contents = [os.urandom(1000), os.urandom(2000)]
    manifest = api.segments("raw_segs", contents)
    api("PUT", "raw")
    put = api("PUT", "raw/m?multipart-manifest=put", json.dumps(manifest), Content_Type="text/x-thing")
    assert put.status_code == 201
    stored = api("GET", "raw/m?multipart-manifest=get")
    assert stored.status_code == 200 and stored.headers["X-Static-Large-Object"] == "True"
    assert stored.headers["Content-Type"].startswith("application/json")
    assert [(s["name"], s["bytes"], s["hash"]) for s in stored.json()] == [
        (m["path"], m["size_bytes"], m["etag"]) for m in manifest]
    raw = api("GET", "raw/m?multipart-manifest=get&format=raw").json()
    assert raw == manifest
    assert api("PUT", "raw/copy?multipart-manifest=put", json.dumps(raw)).status_code == 201
    again = api("GET", "raw/copy")
    assert again.content == b"".join(contents)
    assert again.headers["ETag"] == put.headers["ETag"]
    assert api("HEAD", "raw/m").headers["Content-Type"] == "text/x-thing"


def test_ranges_conditions_nesting_and_data_segments(api: Api) -> None:
    contents = [os.urandom(1000), os.urandom(1500), os.urandom(700)]
    manifest = api.segments("nest_segs", contents)
    api("PUT", "nest")
    inner = [manifest[0], dict(manifest[1], range="100-599")]
    assert api("PUT", "nest/inner?multipart-manifest=put", json.dumps(inner)).status_code == 201
    inner_bytes = contents[0] + contents[1][100:600]
    inner_head = api("HEAD", "nest/inner")
    outer = [{"path": "/nest/inner", "etag": inner_head.headers["ETag"].strip('"'), "size_bytes": len(inner_bytes)},
             {"data": "aGVsbG8="}, manifest[2]]
    assert api("PUT", "nest/outer?multipart-manifest=put", json.dumps(outer)).status_code == 201
    whole = inner_bytes + b"hello" + contents[2]
    got = api("GET", "nest/outer")
    assert got.content == whole and int(got.headers["Content-Length"]) == len(whole)
    etag = got.headers["ETag"]

    for first, last in [(0, 0), (999, 1000), (1495, 1505), (len(whole) - 3, len(whole) - 1)]:
        part = api("GET", "nest/outer", Range=f"bytes={first}-{last}")
        assert part.status_code == 206 and part.content == whole[first:last + 1]
    multi = api("GET", "nest/outer", Range="bytes=0-9,1498-1509,-5")
    assert multi.status_code == 206
    assert multi.headers["Content-Type"].startswith("multipart/byteranges;boundary=")
    body = multi.content
    for piece in (whole[0:10], whole[1498:1510], whole[-5:]):
        assert piece in body
    assert f"Content-Range: bytes 1498-1509/{len(whole)}".encode() in body
    unsatisfiable = api("GET", "nest/outer", Range=f"bytes={len(whole)}-")
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == f"bytes */{len(whole)}"

    assert api("GET", "nest/outer", If_None_Match=etag).status_code == 304
    assert api("GET", "nest/outer", If_Match=etag).status_code == 200
    assert api("GET", "nest/outer", If_Match='"nope"').status_code == 412
    assert api("HEAD", "nest/outer", If_None_Match=etag).status_code == 304
    ranged_condition = api("GET", "nest/outer", If_Match=etag, Range="bytes=1-2")
    assert ranged_condition.status_code == 206 and ranged_condition.content == whole[1:3]


def test_missing_or_changed_segments_never_give_wrong_bytes(cluster: RunningCluster, api: Api) -> None:
    contents = [os.urandom(300_000), os.urandom(300_000), os.urandom(300_000)]
    manifest = api.segments("fault_segs", contents)
    api("PUT", "fault")
    assert api("PUT", "fault/m?multipart-manifest=put", json.dumps(manifest)).status_code == 201
    assert api("PUT", "fault_segs/seg/0001", os.urandom(300_000)).status_code == 201  # changed under it

    with pytest.raises(requests.exceptions.RequestException):
        answer = requests.get(f"{api.url}/fault/m", headers=api.headers, timeout=30, stream=True)
        received = b"".join(answer.iter_content(65536))
        # Should the cut not raise, the body must still be short, never complete.
        assert len(received) < sum(map(len, contents))
        raise requests.exceptions.ChunkedEncodingError("short body")
    assert "segment error mid-stream" in cluster.log_text("proxy")

    assert api("DELETE", "fault_segs/seg/0000").status_code == 204
    first_missing = api("GET", "fault/m")
    assert first_missing.status_code == 409
    assert "segment error before the response" in cluster.log_text("proxy")


def test_deletes_plain_and_multipart(api: Api) -> None:
    manifest = api.segments("del_segs", [b"1" * 10, b"2" * 10])
    api("PUT", "del")
    assert api("PUT", "del/m?multipart-manifest=put", json.dumps(manifest)).status_code == 201
    assert api("DELETE", "del/m").status_code == 204  # the manifest only
    assert api("GET", "del_segs/seg/0000").status_code == 200

    assert api("PUT", "del/m?multipart-manifest=put", json.dumps(manifest)).status_code == 201
    summary = api("DELETE", "del/m?multipart-manifest=delete", Accept="application/json")
    assert summary.status_code == 200
    assert summary.json() == {"Number Deleted": 3, "Number Not Found": 0, "Response Body": "",
                              "Response Status": "200 OK", "Errors": []}
    assert api("GET", "del_segs/seg/0000").status_code == 404
    assert api("HEAD", "del/m").status_code == 404
    assert api("DELETE", "del/m?multipart-manifest=delete").status_code == 404


def test_copy_of_a_large_object_copies_its_content(api: Api) -> None:
    contents = [os.urandom(300_000), os.urandom(300_000), os.urandom(300_000)]
    whole = b"".join(contents)
    manifest = api.segments("copy_segs", contents)
    api("PUT", "copy")
    assert api("PUT", "copy/m?multipart-manifest=put", json.dumps(manifest), Content_Type="text/x-big",
               X_Object_Meta_Color="blue").status_code == 201
    copied = api("PUT", "copy/plain", b"", X_Copy_From="copy/m")
    assert copied.status_code == 201 and copied.headers["ETag"] == md5(whole)
    assert copied.headers["X-Copied-From"] == "copy/m"
    back = api("GET", "copy/plain")
    assert back.content == whole and back.headers["ETag"] == md5(whole)
    assert "X-Static-Large-Object" not in back.headers
    assert back.headers["Content-Type"] == "text/x-big" and back.headers["X-Object-Meta-Color"] == "blue"
    assert api("GET", "copy/plain?multipart-manifest=get").content == whole  # a plain object now

    verb = api("COPY", "copy/m", Destination="copy/verb")
    assert verb.status_code == 201 and api("GET", "copy/verb").content == whole

    assert api("PUT", "copy/dlo", b"", X_Object_Manifest="copy_segs/seg/").status_code == 201
    from_dlo = api("PUT", "copy/from_dlo", b"", X_Copy_From="copy/dlo")
    assert from_dlo.status_code == 201 and from_dlo.headers["ETag"] == md5(whole)
    plain_head = api("HEAD", "copy/from_dlo")
    assert "X-Object-Manifest" not in plain_head.headers and api("GET", "copy/from_dlo").content == whole


def test_copy_of_a_large_object_above_max_file_size_is_413(api: Api) -> None:
    manifest = api.segments("huge_segs", [os.urandom(MAX_FILE_SIZE // 2 + 1)] * 2)
    api("PUT", "huge")
    assert api("PUT", "huge/m?multipart-manifest=put", json.dumps(manifest)).status_code == 201
    assert api("PUT", "huge/copy", b"", X_Copy_From="huge/m").status_code == 413
    assert api("COPY", "huge/m", Destination="huge/copy").status_code == 413
    assert api("HEAD", "huge/copy").status_code == 404
    # As a manifest it copies whatever the total.
    as_manifest = api("PUT", "huge/mcopy?multipart-manifest=get", b"", X_Copy_From="huge/m")
    assert as_manifest.status_code == 201
    assert int(api("HEAD", "huge/mcopy").headers["Content-Length"]) == MAX_FILE_SIZE + 2


def test_copy_with_multipart_manifest_get_copies_the_manifest(api: Api) -> None:
    contents = [os.urandom(2000), os.urandom(3000)]
    whole = b"".join(contents)
    manifest = api.segments("mcopy_segs", contents)
    api("PUT", "mcopy")
    put = api("PUT", "mcopy/m?multipart-manifest=put", json.dumps(manifest), X_Object_Meta_Kept="yes")
    assert put.status_code == 201
    copied = api("PUT", "mcopy/again?multipart-manifest=get", b"", X_Copy_From="mcopy/m")
    assert copied.status_code == 201 and copied.headers["ETag"] == put.headers["ETag"]
    assert copied.headers["X-Copied-From"] == "mcopy/m"
    head = api("HEAD", "mcopy/again")
    assert head.headers["X-Static-Large-Object"] == "True" and head.headers["X-Object-Meta-Kept"] == "yes"
    back = api("GET", "mcopy/again")
    assert back.content == whole and back.headers["ETag"] == put.headers["ETag"]
    assert api("GET", "mcopy/again?multipart-manifest=get&format=raw").json() == manifest
    verb = api("COPY", "mcopy/m?multipart-manifest=get", Destination="mcopy/verb")
    assert verb.status_code == 201 and api("HEAD", "mcopy/verb").headers["X-Static-Large-Object"] == "True"
    rows = {r["name"]: r for r in api("GET", "mcopy?format=json").json()}
    assert rows["again"]["bytes"] == len(whole) and rows["again"]["slo_etag"] == put.headers["ETag"]

    # The copy's segments are checked like a manifest PUT's: a segment gone is 400, nothing stored.
    assert api("DELETE", "mcopy_segs/seg/0001").status_code == 204
    broken = api("PUT", "mcopy/broken?multipart-manifest=get", b"", X_Copy_From="mcopy/m")
    assert broken.status_code == 400 and "404 Not Found" in broken.text
    assert api("PUT", "mcopy/broken", b"", X_Copy_From="mcopy/m").status_code == 409  # content copy
    assert api("HEAD", "mcopy/broken").status_code == 404

    assert api("PUT", "mcopy/dlo", b"", X_Object_Manifest="mcopy_segs/seg/").status_code == 201
    dlo_copy = api("PUT", "mcopy/dlo2?multipart-manifest=get", b"", X_Copy_From="mcopy/dlo")
    assert dlo_copy.status_code == 201
    assert api("HEAD", "mcopy/dlo2").headers["X-Object-Manifest"] == "mcopy_segs/seg/"
    assert api("GET", "mcopy/dlo2").content == contents[0]
