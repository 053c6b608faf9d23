from __future__ import annotations

import pytest
from multidict import CIMultiDict

from proxy.s3api.errors import S3Error
from proxy.s3api.request_rules import check_put_conditions, check_write_conditions


@pytest.mark.parametrize("header,value", [
    ("If-Match", "abc"),
    ("if-modified-since", "Sat, 27 Jun 2015 00:00:00 GMT"),
    ("If-Unmodified-Since", "Sat, 27 Jun 2015 00:00:00 GMT"),
    ("If-None-Match", "abc"),
])
def test_conditional_puts_are_not_implemented(header: str, value: str) -> None:
    with pytest.raises(S3Error) as caught:
        check_put_conditions("PUT", CIMultiDict({header: value}))
    assert caught.value.code == "NotImplemented"


def test_create_only_puts_and_other_methods_pass() -> None:
    check_put_conditions("PUT", CIMultiDict({"If-None-Match": "*"}))
    check_put_conditions("PUT", CIMultiDict())
    check_put_conditions("GET", CIMultiDict({"If-Match": "abc"}))


def test_repeated_headers_are_joined_as_wsgi_joins_them() -> None:
    from proxy.s3api.authn import joined_headers

    joined = joined_headers([("X-Amz-Date", ""), ("x-amz-date", "20261204T000000Z"), ("Host", "h")])
    assert joined == {"x-amz-date": ",20261204T000000Z", "host": "h"}


def test_delete_at_is_answered_as_s3s_expiration() -> None:
    from proxy.s3api.objects import s3_headers

    shown = dict(s3_headers({"X-Delete-At": "1796398865", "Etag": "abc", "X-Object-Meta-A": "1"}))
    assert shown == {"x-amz-expiration": 'expiry-date="Fri, 04 Dec 2026 15:41:05 GMT", '
                                         'rule-id="swift-object-expiration"',
                     "ETag": '"abc"', "x-amz-meta-a": "1"}


def test_write_conditions_of_any_write() -> None:
    """A multipart completion (a POST) is held to the PUT rule."""
    check_write_conditions(CIMultiDict({"If-None-Match": "*"}))
    for headers in ({"If-Match": "abc"}, {"If-None-Match": "abc"}, {"If-Unmodified-Since": "x"}):
        with pytest.raises(S3Error) as caught:
            check_write_conditions(CIMultiDict(headers))
        assert caught.value.code == "NotImplemented"
