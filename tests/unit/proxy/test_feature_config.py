"""Which features proxy.conf switches on, in what order, and what /info
says of them; a fresh cluster (martlet dev, ring-init) has them all on."""

from __future__ import annotations

from pathlib import Path

from martlet.config import ConfigFile
from ops.init_cluster import ClusterLayout, init_cluster, nodes_from_specs
from proxy.app import BUILT_IN, FEATURES, pipeline_features
from proxy.config import BulkSection, FeatureSections, feature_sections, load_proxy_config
from proxy.info import add_feature_info, info_document


def test_features_are_off_unless_their_section_says_so(tmp_path: Path) -> None:
    conf = tmp_path / "proxy.conf"
    conf.write_text("[bulk]\nenabled = true\nmax_deletes_per_request = 5\n[cors]\nallow_origin = a, b\n")
    sections = feature_sections(ConfigFile(conf, environ={"MARTLET_ETAG_QUOTER_ENABLED": "yes"}))
    assert sections.enabled() == {"bulk", "etag_quoter"}
    assert sections.bulk == BulkSection(enabled=True, max_deletes_per_request=5)
    assert sections.cors.allow_origin == ("a", "b")
    assert FeatureSections().enabled() == frozenset()


def test_pipeline_order_is_the_codes(tmp_path: Path) -> None:
    names = [name for name, _ in FEATURES]
    # an S3 request is Swift requests before any other feature sees it (Swift: s3api before auth)
    assert names[:2] == ["s3api", "cors"] and names.index("bulk") < names.index("container_quotas") < names.index("server_copy")
    # versioned writes see the PUT a copy or a manifest makes (Swift: after copy/slo/dlo)
    assert names.index("account_quotas") < names.index("versioned_writes") < names.index("server_copy")
    # object versioning stores what a copy or a manifest PUT writes as a version, and links with symlinks
    assert names.index("versioned_writes") < names.index("object_versioning") < names.index("server_copy")
    assert set(names) - BUILT_IN == set(FeatureSections().__dataclass_fields__)
    # a temp URL or a form's signature sets the caller before anything authorizes (Swift: after bulk)
    assert names.index("bulk") < names.index("tempurl") < names.index("formpost") < names.index("etag_quoter")


def test_info_lists_only_what_is_on() -> None:
    document = add_feature_info(info_document(1), FeatureSections())
    assert not {"bulk_delete", "bulk_upload", "account_quotas", "container_quotas", "etag_quoter",
                "versioned_writes", "object_versioning", "tempurl", "formpost", "s3api"} & set(document)
    assert "strict_cors_mode" not in document["swift"]


def test_a_fresh_cluster_has_every_feature_on(tmp_path: Path) -> None:
    nodes = nodes_from_specs(["r1z1-127.0.0.2:6200/d1"], "/srv/node")
    init_cluster(ClusterLayout(tmp_path / "cluster", nodes, part_power=4, replicas=1))
    config = load_proxy_config(str(tmp_path / "cluster/proxy.conf"))
    assert config.features.enabled() == set(FeatureSections().__dataclass_fields__)
    assert len(pipeline_features(config)) == len(FEATURES)
    document = add_feature_info(info_document(1), config.features)
    assert document["bulk_upload"] == {"max_containers_per_extraction": 10000, "max_failed_extractions": 1000}
    assert document["bulk_delete"] == {"max_deletes_per_request": 10000, "max_failed_deletes": 1000}
    assert document["s3api"]["max_upload_part_num"] == 1000 and document["s3api"]["min_segment_size"] == 5242880
    assert document["account_quotas"] == {} and document["container_quotas"] == {}
    assert document["etag_quoter"] == {"enable_by_default": False}
    assert document["swift"]["strict_cors_mode"] is True
    assert document["versioned_writes"] == {"allowed_flags": ["x-versions-location", "x-history-location"]}
    assert document["object_versioning"] == {}
    assert document["tempurl"] == {
        "methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
        "incoming_remove_headers": ["x-timestamp", "x-open-expired"], "incoming_allow_headers": [],
        "outgoing_remove_headers": ["x-object-meta-*"], "outgoing_allow_headers": ["x-object-meta-public-*"],
        "allowed_digests": ["sha1", "sha256", "sha512"], "deprecated_digests": ["sha1"]}
    assert document["formpost"] == {"allowed_digests": ["sha1", "sha256", "sha512"], "deprecated_digests": ["sha1"]}


def test_digests_in_info_follow_the_config(tmp_path: Path) -> None:
    conf = tmp_path / "proxy.conf"
    conf.write_text("[tempurl]\nenabled = true\nallowed_digests = sha512 sha256\nmethods = GET, HEAD\n"
                    "[formpost]\nenabled = true\nallowed_digests = sha512\n")
    document = add_feature_info(info_document(1), feature_sections(ConfigFile(conf)))
    assert document["tempurl"]["allowed_digests"] == ["sha256", "sha512"]
    assert "deprecated_digests" not in document["tempurl"]
    assert document["tempurl"]["methods"] == ["GET", "HEAD"]
    assert document["formpost"] == {"allowed_digests": ["sha512"]}
