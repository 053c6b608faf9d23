"""The pure rules of legacy versioned writes (proxy.versioned_writes)."""

from __future__ import annotations

import pytest

from martlet.errors import BadRequest, PreconditionFailed, ServiceUnavailable
from proxy.state import ContainerInfo
from proxy.versioned_writes.rules import (
    SYSMETA_LOCATION,
    SYSMETA_MODE,
    Versioning,
    copy_headers,
    fail_with,
    location_shown,
    location_updates,
    version_name,
    version_prefix,
    versioning_of,
)

OFF = {SYSMETA_LOCATION: "", SYSMETA_MODE: ""}


def test_versions_location_sets_stack_mode() -> None:
    assert location_updates({"X-Versions-Location": "arch%20ive"}) == {
        SYSMETA_LOCATION: "arch%20ive", SYSMETA_MODE: "stack"}


def test_history_location_sets_history_mode() -> None:
    assert location_updates({"X-History-Location": "old"}) == {SYSMETA_LOCATION: "old", SYSMETA_MODE: "history"}


def test_no_location_header_changes_nothing() -> None:
    assert location_updates({"X-Container-Meta-Foo": "bar"}) == {}


@pytest.mark.parametrize("headers", [
    {"X-Versions-Location": ""},
    {"X-History-Location": ""},
    {"X-Remove-Versions-Location": "x"},
    {"X-Remove-History-Location": "1"},
])
def test_empty_value_or_remove_header_turns_versioning_off(headers: dict[str, str]) -> None:
    assert location_updates(headers) == OFF


def test_a_new_location_beats_a_removal() -> None:
    headers = {"X-Remove-Versions-Location": "old", "X-Versions-Location": "new"}
    assert location_updates(headers) == {SYSMETA_LOCATION: "new", SYSMETA_MODE: "stack"}


def test_both_modes_at_once_is_400() -> None:
    with pytest.raises(BadRequest):
        location_updates({"X-Versions-Location": "a", "X-History-Location": "b"})


def test_an_empty_one_of_both_defers_to_the_other() -> None:
    assert location_updates({"X-Versions-Location": "", "X-History-Location": "b"})[SYSMETA_MODE] == "history"
    assert location_updates({"X-Versions-Location": "a", "X-History-Location": ""})[SYSMETA_MODE] == "stack"


def test_a_slash_is_412() -> None:
    with pytest.raises(PreconditionFailed):
        location_updates({"X-Versions-Location": "a/b"})


@pytest.mark.parametrize("value", ["a%2Fb", "%FF", "a%00", "x" * 257, "%2F"])
def test_a_location_that_decodes_to_no_container_name_is_400(value: str) -> None:
    with pytest.raises(BadRequest):
        location_updates({"X-History-Location": value})


def test_versioning_of_reads_decoded_location_and_mode() -> None:
    info = ContainerInfo("", "", sysmeta={"versions-location": "arch%20ive", "versions-mode": "history"})
    assert versioning_of(info) == Versioning("arch ive", "history")
    assert versioning_of(ContainerInfo("", "", sysmeta={"versions-location": "v"})) == Versioning("v", "stack")
    assert versioning_of(ContainerInfo("", "")) is None
    assert versioning_of(ContainerInfo("", "", sysmeta={"versions-location": "%FF"})) is None


def test_location_is_shown_under_the_header_of_its_mode() -> None:
    assert location_shown({"versions-location": "v", "versions-mode": "stack"}) == {"X-Versions-Location": "v"}
    assert location_shown({"versions-location": "v", "versions-mode": "history"}) == {"X-History-Location": "v"}
    assert location_shown({}) == {}


def test_version_names_count_utf8_bytes_and_sort_by_age() -> None:
    assert version_prefix("obj") == "003obj/"
    assert version_prefix("\u00e9") == "002\u00e9/"
    older, newer = version_name("o", "999999999.5"), version_name("o", "1000000000.00001")
    assert older == "001o/0999999999.50000"
    assert older < newer


def test_copy_headers_keep_content_and_metadata_not_timestamps() -> None:
    stored = {"Content-Type": "text/plain", "ETag": "abc", "X-Timestamp": "1.00000", "Last-Modified": "x",
              "X-Object-Meta-Color": "red", "X-Object-Sysmeta-Thing": "1", "Content-Disposition": "inline",
              "X-Backend-Timestamp": "1", "Content-Length": "3", "X-Object-Manifest": "c/p"}
    assert copy_headers(stored) == {"Content-Type": "text/plain", "ETag": "abc", "X-Object-Meta-Color": "red",
                                    "X-Object-Sysmeta-Thing": "1", "Content-Disposition": "inline",
                                    "X-Object-Manifest": "c/p"}


def test_copy_of_an_slo_manifest_keeps_its_container_row() -> None:
    stored = {"Content-Type": "application/json", "ETag": "m5", "X-Static-Large-Object": "True",
              "X-Object-Sysmeta-Slo-Size": "2048", "X-Object-Sysmeta-Slo-Etag": "s5"}
    headers = copy_headers(stored)
    assert headers["X-Backend-Container-Update-Override-Content-Type"] == "application/json;swift_bytes=2048"
    assert headers["X-Backend-Container-Update-Override-Etag"] == "m5; slo_etag=s5"


def test_a_refused_step_is_412_a_failed_one_503() -> None:
    assert isinstance(fail_with(404), PreconditionFailed)
    assert isinstance(fail_with(403), PreconditionFailed)
    assert isinstance(fail_with(503), ServiceUnavailable)
