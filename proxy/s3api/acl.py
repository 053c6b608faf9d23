"""Canned ACLs, S3's only ACLs here: as container ACLs on a bucket
(Swift's s3api maps them the same way), and the AccessControlPolicy
document a bucket's or object's ACL GET answers."""

from __future__ import annotations

from proxy.s3api.errors import S3Error
from proxy.s3api.xml_doc import Node, document

_XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
# Canned ACLs as container ACLs (Swift's s3api maps them the same way):
# what each lets others do beyond the owner.
CANNED_ACLS = {
    "private": {"X-Container-Read": "", "X-Container-Write": ""},
    "public-read": {"X-Container-Read": ".r:*,.rlistings", "X-Container-Write": ""},
    "public-read-write": {"X-Container-Read": ".r:*,.rlistings", "X-Container-Write": ".r:*"},
    "authenticated-read": {"X-Container-Read": "*:*", "X-Container-Write": ""},
}


def canned_acl_headers(value: str | None) -> dict[str, str]:
    """The container ACL headers of an ``x-amz-acl`` value (none: none)."""
    if value is None:
        return {}
    if value not in CANNED_ACLS:
        raise S3Error("InvalidArgument", f"Unsupported canned ACL {value!r}",
                      extra={"ArgumentName": "x-amz-acl", "ArgumentValue": value})
    return dict(CANNED_ACLS[value])


def acl_document(owner: str, public_read: bool) -> bytes:
    """The owner's FULL_CONTROL, and everyone's READ when ``public_read``."""
    grantee: Node = (f'Grantee {_XSI} xsi:type="CanonicalUser"', [("ID", owner), ("DisplayName", owner)])
    owner_grant: Node = ("Grant", [grantee, ("Permission", "FULL_CONTROL")])
    grants: list[Node] = [owner_grant]
    if public_read:
        grants.append(("Grant", [(f'Grantee {_XSI} xsi:type="Group"',
                                  [("URI", "http://acs.amazonaws.com/groups/global/AllUsers")]),
                                 ("Permission", "READ")]))
    return document("AccessControlPolicy", [("Owner", [("ID", owner), ("DisplayName", owner)]),
                                            ("AccessControlList", grants)])
