"""The summary bodies of a manifest DELETE and a heartbeating manifest PUT,
in Swift's three forms."""

from __future__ import annotations

import json

from proxy.large_objects.summary import error_body, status_line, summary_body, summary_format

FIELDS = {"Response Status": "400 Bad Request", "Response Body": "Bad Request", "Number Deleted": 2}
ERRORS = [("/c/o%20x", "409 Conflict")]


def test_the_format_follows_accept() -> None:
    assert summary_format(None) == "text/plain"
    assert summary_format("application/json") == "application/json"
    assert summary_format("text/xml;q=0.9") == "application/xml"
    assert summary_format("*/*") == "text/plain"


def test_text_json_and_xml() -> None:
    assert summary_body("text/plain", FIELDS, ERRORS, "delete") == (
        b"Number Deleted: 2\nResponse Body: Bad Request\nResponse Status: 400 Bad Request\n"
        b"Errors:\n/c/o%20x, 409 Conflict\n")
    assert json.loads(summary_body("application/json", FIELDS, ERRORS, "delete")) == {
        **FIELDS, "Errors": [["/c/o%20x", "409 Conflict"]]}
    assert summary_body("application/xml", {"Response Status": "201 <ok>"}, [], "upload") == (
        b"<upload>\n<response_status>201 &lt;ok&gt;</response_status>\n<errors>\n</errors>\n</upload>\n")


def test_status_lines_and_bodies_are_swifts() -> None:
    assert status_line(201) == "201 Created"
    assert status_line(422) == "422 Unprocessable Entity"
    assert status_line(599) == "599"
    assert error_body(400) == ("Bad Request\nThe server could not comply with the request since it is "
                               "either malformed or otherwise incorrect.")
    assert error_body(422) == "Unprocessable Entity\nUnable to process the contained instructions"
    assert error_body(503, "No replica answered") == "Service Unavailable\nNo replica answered"
    assert error_body(503) == "Service Unavailable"
