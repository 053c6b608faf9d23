"""Bulk delete and archive extraction (``proxy.bulk``) on a real cluster
(started like ``martlet dev``, every feature on), with heartbeats every
0.2 s so that long requests show them."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from typing import Any
from xml.dom import minidom

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, wait_for
from tests.cluster.conftest import json_lines
from tests.cluster.feature_helpers import STRANGER, call, exists, feature_cluster

pytestmark = pytest.mark.cluster

cluster = feature_cluster("bulk", MARTLET_BULK_YIELD_FREQUENCY="0.2", MARTLET_BULK_MAX_DELETES_PER_REQUEST="50",
                          MARTLET_BULK_MAX_CONTAINERS_PER_EXTRACTION="3")


def fill(cluster: RunningCluster, container: str, names: list[str]) -> None:
    assert call(cluster, "PUT", container).status_code in (201, 202)
    for name in names:
        assert call(cluster, "PUT", f"{container}/{name}", data=name.encode()).status_code == 201


def bulk_delete(cluster: RunningCluster, body: str | bytes, accept: str = "application/json",
                user: tuple[str, str] | None = ("test:tester", "testing"), **headers: str) -> dict[str, Any]:
    answer = call(cluster, "POST", "?bulk-delete", user=user, data=body,
                  headers={"Accept": accept, "Content-Type": "text/plain", **headers})
    assert answer.status_code == 200
    return json.loads(answer.text)


def archive(files: dict[str, bytes], mode: str = "w", pax: dict[str, dict[str, str]] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = (pax or {}).get(name, {})
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def extract(cluster: RunningCluster, path: str, body: Any, kind: str = "tar",
            user: tuple[str, str] | None = ("test:tester", "testing"), **headers: str) -> dict[str, Any]:
    answer = call(cluster, "PUT", f"{path}?extract-archive={kind}", user=user, data=body,
                  headers={"Accept": "application/json", **headers})
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text)


def test_info_advertises_bulk(cluster: RunningCluster) -> None:
    info = requests.get(cluster.proxy + "/info", timeout=10).json()
    assert info["bulk_delete"]["max_deletes_per_request"] == 50
    assert info["bulk_upload"]["max_containers_per_extraction"] == 3


def test_bulk_delete_objects_then_containers(cluster: RunningCluster) -> None:
    fill(cluster, "bd1", ["a", "b/c", "sp ace"])
    fill(cluster, "bd2", ["x"])
    result = bulk_delete(cluster, "/bd1/a\nbd1/b/c\n/bd1/sp%20ace\n/bd1\n/bd1/missing\n\n/bd2\n")
    assert result["Number Deleted"] == 4 and result["Number Not Found"] == 1
    assert result["Errors"] == [["/bd2", "409 Conflict"]] and result["Response Status"] == "400 Bad Request"
    assert not exists(cluster, "bd1") and exists(cluster, "bd2/x")


def test_bulk_delete_report_shapes(cluster: RunningCluster) -> None:
    fill(cluster, "shapes", ["o1", "o2"])
    xml = call(cluster, "DELETE", "shapes/o1?bulk-delete", data="shapes/o1", headers={"Accept": "application/xml"})
    tree = minidom.parseString(xml.text.strip())
    assert tree.documentElement.tagName == "delete"
    assert tree.getElementsByTagName("response_status")[0].childNodes[0].data == "200 OK"
    text = call(cluster, "POST", "?bulk-delete", data="/shapes/o2\n")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert "Number Deleted: 1\n" in text.text and "Response Status: 200 OK\n" in text.text


def test_bulk_delete_refusals_keep_everything(cluster: RunningCluster) -> None:
    fill(cluster, "keep", ["o"])
    too_many = bulk_delete(cluster, "".join(f"/keep/o{i}\n" for i in range(51)) + "/keep/o\n")
    assert too_many["Response Status"] == "413 Request Entity Too Large"
    assert too_many["Response Body"] == "Maximum Bulk Deletes: 50 per request"
    assert bulk_delete(cluster, "/keep/" + "x" * 4000)["Response Status"] == "400 Bad Request"
    wrong_type = call(cluster, "POST", "?bulk-delete", data="/keep/o", headers={"Accept": "application/json",
                                                                                "Content-Type": "application/json"})
    assert json.loads(wrong_type.text)["Response Status"] == "406 Not Acceptable"
    unacceptable = call(cluster, "POST", "?bulk-delete", data="/keep/o", headers={"Accept": "image/png"})
    assert unacceptable.status_code == 200 and "406 Not Acceptable" in unacceptable.text
    assert bulk_delete(cluster, "\n\n")["Response Body"] == "Invalid bulk delete."
    assert bulk_delete(cluster, "/keep/%FF")["Errors"] == [["/keep/%FF", "412 Precondition Failed"]]
    assert exists(cluster, "keep/o")


def test_bulk_delete_authorizes_each_item(cluster: RunningCluster) -> None:
    fill(cluster, "guarded", ["o"])
    stranger = bulk_delete(cluster, "/guarded/o\n/guarded/missing\n/nowhere/o\n/guarded\n", user=STRANGER)
    assert stranger["Number Deleted"] == 0 and stranger["Number Not Found"] == 0
    assert {status for _, status in stranger["Errors"]} == {"403 Forbidden"}  # no hint of what exists
    anonymous = bulk_delete(cluster, "/guarded/o\n", user=None)
    assert anonymous["Errors"] == [["/guarded/o", "401 Unauthorized"]]
    assert exists(cluster, "guarded/o")
    assert call(cluster, "POST", "guarded", headers={"X-Container-Write": "test:tester3"}).status_code == 204
    assert bulk_delete(cluster, "/guarded/o\n", user=STRANGER)["Number Deleted"] == 1


def test_long_bulk_delete_sends_heartbeats_first(cluster: RunningCluster) -> None:
    fill(cluster, "many", [f"o{i}" for i in range(40)])

    def body() -> Iterator[bytes]:
        # The request outlasts several heartbeat periods however fast the
        # deletes are: the client holds back the rest of its list for 1 s.
        yield "".join(f"/many/o{i}\n" for i in range(20)).encode()
        time.sleep(1.0)
        yield ("".join(f"/many/o{i}\n" for i in range(20, 40)) + "/many\n").encode()

    answer = call(cluster, "POST", "?bulk-delete", data=body(), headers={"Accept": "application/json"}, stream=True)
    raw = b"".join(answer.iter_content(None))
    assert raw.startswith(b" ") and b"\r\n\r\n{" in raw  # a space every 0.2 s, then the report
    assert json.loads(raw)["Number Deleted"] == 41


def test_extract_archive_every_format_and_place(cluster: RunningCluster) -> None:
    files = {"ex1/a.txt": b"alpha", "ex1/d/b.bin": b"\x00" * 70000, "top-level.txt": b"skipped"}
    pax = {"ex1/a.txt": {"SCHILY.xattr.user.mime_type": "text/x-alpha", "SCHILY.xattr.user.meta.color": "blue"}}
    for mode, kind in (("w", "tar"), ("w:gz", "tar.gz"), ("w:bz2", "tar.bz2")):
        result = extract(cluster, "", archive(files, mode, pax), kind, **{"X-Object-Meta-Batch": kind})
        assert result["Response Status"] == "201 Created" and result["Number Files Created"] == 2, result
        head = call(cluster, "HEAD", "ex1/a.txt")
        assert head.headers["Content-Type"] == "text/x-alpha"
        assert head.headers["X-Object-Meta-Color"] == "blue" and head.headers["X-Object-Meta-Batch"] == kind
    assert call(cluster, "GET", "ex1/d/b.bin").content == b"\x00" * 70000
    assert not exists(cluster, "top-level.txt")
    # into a container, and under a prefix in it
    assert extract(cluster, "ex2", archive({"f1": b"1"}))["Number Files Created"] == 1
    assert extract(cluster, "ex2/pre/fix", archive({"f2": b"2"}))["Number Files Created"] == 1
    assert exists(cluster, "ex2/f1") and exists(cluster, "ex2/pre/fix/f2")


def test_extract_streams_a_chunked_archive(cluster: RunningCluster) -> None:
    data = archive({f"chunked/o{i}": bytes([i]) * 5000 for i in range(5)}, "w:gz")

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 300):
            yield data[start:start + 300]

    assert extract(cluster, "", pieces(), "tar.gz")["Number Files Created"] == 5
    assert call(cluster, "GET", "chunked/o4").content == bytes([4]) * 5000


def test_extract_refusals(cluster: RunningCluster) -> None:
    unsupported = call(cluster, "PUT", "?extract-archive=zip", data=b"PK")
    assert unsupported.status_code == 400
    broken = extract(cluster, "", b"not a tar at all" * 100, "tar.gz")
    assert broken["Response Status"] == "400 Bad Request" and broken["Response Body"].startswith("Invalid Tar File")
    empty = extract(cluster, "", archive({"only-top": b"x"}))
    assert empty["Response Body"] == "Invalid Tar File: No Valid Files"
    # a truncated archive: what was complete is stored, the cut file is not
    whole = archive({"cut/first": b"1" * 2000, "cut/second": b"2" * 20000})
    truncated = extract(cluster, "", whole[:len(whole) // 2])
    assert truncated["Response Status"] == "400 Bad Request"
    assert exists(cluster, "cut/first") and not exists(cluster, "cut/second")
    # a name no object can have fails alone
    odd = extract(cluster, "", archive({"odd/" + "n" * 1100: b"x", "odd/fine": b"y"}))
    assert odd["Number Files Created"] == 1 and odd["Errors"][0][1] == "400 Bad Request"
    too_many = extract(cluster, "", archive({f"new{i}/o": b"x" for i in range(5)}))
    assert too_many["Response Status"] == "400 Bad Request" and "containers" in too_many["Response Body"]


def test_extract_is_authorized_as_the_client(cluster: RunningCluster) -> None:
    fill(cluster, "owned", [])
    stranger = extract(cluster, "", archive({"owned/a": b"a", "fresh/b": b"b"}), user=STRANGER)
    assert stranger["Number Files Created"] == 0
    assert {status for _, status in stranger["Errors"]} == {"403 Forbidden"}
    assert extract(cluster, "", archive({"owned/a": b"a"}), user=None)["Response Status"] == "401 Unauthorized"
    assert not exists(cluster, "owned/a") and not exists(cluster, "fresh")
    assert call(cluster, "POST", "owned", headers={"X-Container-Write": "test:tester3"}).status_code == 204
    shared = extract(cluster, "owned", archive({"a": b"a"}), user=STRANGER)
    assert shared["Number Files Created"] == 1 and exists(cluster, "owned/a")


def test_extracted_files_meet_the_quotas(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "small", headers={"X-Container-Meta-Quota-Bytes": "100"}).status_code == 201
    assert call(cluster, "PUT", "small/first", data=b"x" * 60).status_code == 201
    wait_for(lambda: call(cluster, "HEAD", "small").headers["X-Container-Bytes-Used"] == "60", 10,
             "the container's stats", 0.1)
    result = extract(cluster, "small", archive({"fits": b"x" * 30, "too-big": b"y" * 60}))
    assert result["Number Files Created"] == 1
    assert result["Errors"] == [["small/too-big", "413 Request Entity Too Large"]]
    assert exists(cluster, "small/fits") and not exists(cluster, "small/too-big")


def test_the_swift_cli_deletes_through_bulk_delete(cluster: RunningCluster) -> None:
    # python-swiftclient switches to ?bulk-delete past 20 objects when /info has bulk_delete
    fill(cluster, "cli", [f"o{i:02d}" for i in range(25)])
    done = cluster.swift("delete", "cli")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted([f"o{i:02d}" for i in range(25)] + ["cli"])
    assert not exists(cluster, "cli")
    # one request did it: no object DELETE reached the proxy's access log
    def has_bulk_post(text: str) -> bool:
        return any(e.get("method") == "POST" and e.get("path") == "/v1/AUTH_test" for e in json_lines(text))

    lines = json_lines(cluster.logged("proxy", has_bulk_post, "the bulk delete's access line"))
    assert not [e for e in lines if e.get("method") == "DELETE" and e.get("path", "").startswith("/v1/AUTH_test/cli/")]
