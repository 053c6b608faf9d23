"""``GET /info``: capabilities and limits, shaped like Swift's.

Clients read it (python-swiftclient asks for ``slo`` before segmenting), so
it advertises only what this proxy really does.
"""

from __future__ import annotations

from typing import Any

import martlet
from martlet.policies import StoragePolicies
from proxy import constraints as c
from proxy.config import FeatureSections


def policy_info(policies: StoragePolicies) -> list[dict[str, Any]]:
    """``swift.policies`` as Swift shows them: name, every name as
    ``aliases``, ``default`` on the default one; deprecated ones hidden."""
    shown = []
    for policy in policies:
        if policy.is_deprecated:
            continue
        entry: dict[str, Any] = {"name": policy.name, "aliases": ", ".join(policy.names)}
        if policy.is_default:
            entry["default"] = True
        shown.append(entry)
    return shown


def info_document(max_file_size: int, max_manifest_segments: int = 1000,
                  max_manifest_size: int = 8 * 1024 * 1024, slo_yield_frequency: int = 10,
                  policies: StoragePolicies = StoragePolicies()) -> dict[str, Any]:
    return {
        "swift": {
            "version": martlet.__version__,
            "max_file_size": max_file_size,
            "max_object_name_length": c.MAX_OBJECT_NAME_LENGTH,
            "max_container_name_length": c.MAX_CONTAINER_NAME_LENGTH,
            "max_account_name_length": c.MAX_ACCOUNT_NAME_LENGTH,
            "container_listing_limit": c.CONTAINER_LISTING_LIMIT,
            "account_listing_limit": c.ACCOUNT_LISTING_LIMIT,
            "max_meta_name_length": c.MAX_META_NAME_LENGTH,
            "max_meta_value_length": c.MAX_META_VALUE_LENGTH,
            "max_meta_count": c.MAX_META_COUNT,
            "max_meta_overall_size": c.MAX_META_OVERALL_SIZE,
            "max_header_size": c.MAX_HEADER_SIZE,
            "extra_header_count": 0,
            "account_autocreate": True,
            "allow_account_management": False,
            "policies": policy_info(policies),
        },
        # Account ACLs (X-Account-Access-Control: proxy.acl, proxy.authorization).
        "tempauth": {"account_acls": True},
        # Large objects (proxy.large_objects): python-swiftclient segments
        # with SLO when "slo" is here, else with DLO.
        "slo": {"max_manifest_segments": max_manifest_segments, "max_manifest_size": max_manifest_size,
                "min_segment_size": 1, "yield_frequency": slo_yield_frequency},
        "dlo": {},
    }


def add_feature_info(document: dict[str, Any], features: FeatureSections) -> dict[str, Any]:
    """``document`` with the keys of the optional features that are on,
    named and shaped as Swift's middlewares register them (clients and
    Swift's own tests look for these keys to know what they may use)."""
    if features.bulk.enabled:
        bulk = features.bulk
        document["bulk_upload"] = {"max_containers_per_extraction": bulk.max_containers_per_extraction,
                                   "max_failed_extractions": bulk.max_failed_extractions}
        document["bulk_delete"] = {"max_deletes_per_request": bulk.max_deletes_per_request,
                                   "max_failed_deletes": bulk.max_failed_deletes}
    if features.account_quotas.enabled:
        document["account_quotas"] = {}
    if features.container_quotas.enabled:
        document["container_quotas"] = {}
    if features.etag_quoter.enabled:
        document["etag_quoter"] = {"enable_by_default": features.etag_quoter.enable_by_default}
    if features.staticweb.enabled:
        document["staticweb"] = {}
    if features.symlink.enabled:
        document["symlink"] = {"symloop_max": features.symlink.symloop_max, "static_links": True}
    if features.versioned_writes.enabled:
        document["versioned_writes"] = {"allowed_flags": ["x-versions-location", "x-history-location"]}
    if features.object_versioning.enabled and features.symlink.enabled:
        document["object_versioning"] = {}
    if features.tempurl.enabled:
        document["tempurl"] = tempurl_info(features)
    if features.formpost.enabled:
        document["formpost"] = digest_info(features.formpost.allowed_digests)
    if features.cors.enabled:
        document["swift"]["strict_cors_mode"] = features.cors.strict_cors_mode
    if features.s3api.enabled:
        s3 = features.s3api
        document["s3api"] = {"max_bucket_listing": s3.max_bucket_listing, "max_parts_listing": s3.max_parts_listing,
                             "max_upload_part_num": s3.max_upload_part_num,
                             "max_multi_delete_objects": s3.max_multi_delete_objects,
                             "allow_multipart_uploads": True, "min_segment_size": s3.min_segment_size,
                             "s3_acl": False}
    return document


def tempurl_info(features: FeatureSections) -> dict[str, Any]:
    """``tempurl`` as Swift shows it: each setting as a list of words."""
    section = features.tempurl
    return {
        "methods": words(section.methods),
        "incoming_remove_headers": words(section.incoming_remove_headers),
        "incoming_allow_headers": words(section.incoming_allow_headers),
        "outgoing_remove_headers": words(section.outgoing_remove_headers),
        "outgoing_allow_headers": words(section.outgoing_allow_headers),
        **digest_info(section.allowed_digests),
    }


def digest_info(configured: tuple[str, ...]) -> dict[str, list[str]]:
    """``allowed_digests`` (and ``deprecated_digests``: sha1, when allowed)
    of a signed feature."""
    known = {"sha1", "sha256", "sha512"}
    digests = sorted({d.lower() for d in words(configured)} & known or known)
    info = {"allowed_digests": digests}
    if "sha1" in digests:
        info["deprecated_digests"] = ["sha1"]
    return info


def words(items: tuple[str, ...]) -> list[str]:
    """A config list's words (comma-separated items, each maybe several
    space-separated words, Swift's own form)."""
    return [word for item in items for word in item.split()]
