"""The pure parts of bulk requests: the report in its three shapes, the
delete list, and where an archive's files go."""

from __future__ import annotations

import json
from xml.dom import minidom

import pytest

from martlet.errors import BadRequest, EntityTooLarge, PreconditionFailed
from martlet.swift_path import SwiftPath
from proxy.bulk.delete import split_names, target
from proxy.bulk.extract import attribute_headers, destination, object_name, put_headers
from proxy.bulk.results import Outcome, quoted, render, result_format, status_line
from proxy.bulk.tar_stream import Member


def outcome() -> Outcome:
    return Outcome(400, {"Number Deleted": 2, "Number Not Found": 1}, [("/c/a%20b", "409 Conflict")])


def test_json_report() -> None:
    body = json.loads(render(outcome(), "application/json", "delete"))
    assert body == {"Response Status": "400 Bad Request", "Response Body": "", "Number Deleted": 2,
                    "Number Not Found": 1, "Errors": [["/c/a%20b", "409 Conflict"]]}


def test_xml_report_is_what_swift_clients_parse() -> None:
    tree = minidom.parseString(render(outcome(), "application/xml", "delete"))
    assert tree.documentElement.tagName == "delete"
    assert tree.getElementsByTagName("response_status")[0].childNodes[0].data == "400 Bad Request"
    assert tree.getElementsByTagName("number_deleted")[0].childNodes[0].data == "2"
    names = [n.childNodes[0].data for n in tree.getElementsByTagName("name")]
    assert names == ["/c/a%20b"]


def test_text_report() -> None:
    text = render(outcome(), "text/plain", "delete").decode()
    assert text.splitlines() == ["Number Deleted: 2", "Number Not Found: 1", "Response Body: ",
                                 "Response Status: 400 Bad Request", "Errors:", "/c/a%20b, 409 Conflict"]
    assert render(outcome(), None, "delete") == render(outcome(), "text/plain", "delete")


def test_a_failed_request_reports_its_error() -> None:
    report = Outcome(200, {"Number Deleted": 0})
    report.fail(BadRequest("Max delete failures exceeded"))
    assert json.loads(render(report, "application/json", "delete"))["Response Status"] == "400 Bad Request"
    assert json.loads(render(report, "application/json", "delete"))["Response Body"] == "Max delete failures exceeded"


def test_formats_and_statuses() -> None:
    assert result_format(None) == "text/plain"
    assert result_format("application/xml") == "application/xml"
    assert result_format("text/*;q=0.5, application/json") == "application/json"
    assert result_format("image/png") is None
    assert result_format("text/plain;q=x") is None
    assert status_line(413) == "413 Request Entity Too Large"
    assert status_line(404) == "404 Not Found"
    assert status_line(599) == "599"


def test_delete_list_lines() -> None:
    assert split_names(b"/c/o1\n\n  c/o%202 \n/c/pa", final=False) == (["/c/o1", "c/o 2"], b"/c/pa")
    assert split_names(b"/c/pa", final=True) == (["/c/pa"], b"")
    assert split_names(b"/c/%FF\n", final=False)[0] == ["/c/\udcff"]


def test_delete_targets() -> None:
    assert target("AUTH_a", "/c/o/with/slashes") == SwiftPath("AUTH_a", "c", "o/with/slashes")
    assert target("AUTH_a", "c") == SwiftPath("AUTH_a", "c")
    assert target("AUTH_a", "/c/") == SwiftPath("AUTH_a", "c")
    with pytest.raises(PreconditionFailed):
        target("AUTH_a", "/c/\udcff")
    with pytest.raises(BadRequest):
        target("AUTH_a", "/" + "c" * 300 + "/o")
    assert quoted("/c/\udcff x") == "/c/%FF%20x"


def test_where_archive_files_go() -> None:
    assert object_name("./c/o", "") == "c/o"
    assert object_name("/c/o", "") == "c/o"
    assert object_name("top-level", "") is None
    assert object_name("top-level", "cont") == "cont/top-level"
    assert object_name("d/o", "cont/prefix") == "cont/prefix/d/o"


def test_file_attributes_become_headers() -> None:
    pax = {"SCHILY.xattr.user.mime_type": "text/x", "LIBARCHIVE.xattr.user.meta.lunch": "burger",
           "SCHILY.xattr.user.stuff": "ignored", "SCHILY.xattr.user.meta.": "empty name", "mtime": "1"}
    assert attribute_headers(pax) == {"Content-Type": "text/x", "X-Object-Meta-lunch": "burger"}
    headers = put_headers({"X-Object-Meta-A": "1", "X-Delete-After": "60", "Content-Type": "application/x-tar",
                           "X-Auth-Token": "t"}, Member("c/o", 7, True, pax))
    assert headers == {"X-Object-Meta-A": "1", "X-Delete-After": "60", "Content-Type": "text/x",
                       "X-Object-Meta-lunch": "burger", "Content-Length": "7"}


def test_archive_file_destinations() -> None:
    assert destination("AUTH_a", "c/d/o", 5, 10) == SwiftPath("AUTH_a", "c", "d/o")
    with pytest.raises(PreconditionFailed):
        destination("AUTH_a", "c/\udcff", 5, 10)
    with pytest.raises(BadRequest):
        destination("AUTH_a", "c/" + "o" * 1100, 5, 10)
    with pytest.raises(EntityTooLarge):
        destination("AUTH_a", "c/o", 11, 10)
