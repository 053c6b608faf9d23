"""martlet.policies: [storage-policy:N] of martlet.conf into typed records, with Swift's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from martlet.cluster import load_cluster_config
from martlet.config import load_config
from martlet.errors import ConfigError
from martlet.policies import (
    LEGACY_NAME,
    StoragePolicies,
    StoragePolicy,
    build_policies,
    parse_index,
    policies_from,
    policy_string,
)


def parse(tmp_path: Path, text: str) -> StoragePolicies:
    path = tmp_path / "martlet.conf"
    path.write_text(text)
    return policies_from(load_config(path, environ={}))


def test_no_section_is_the_legacy_policy_zero(tmp_path: Path) -> None:
    policies = parse(tmp_path, "[hash]\npath_suffix = x\n")
    assert policies == StoragePolicies()
    assert [(p.index, p.name, p.is_default) for p in policies] == [(0, LEGACY_NAME, True)]
    assert policies.default.ring_name == "object"


def test_two_policies_with_aliases(tmp_path: Path) -> None:
    policies = parse(tmp_path, """
[storage-policy:1]
name = silver
aliases = silver, fast, SSD-1
[storage-policy:0]
name = gold
default = yes
""")
    assert policies.indexes == (0, 1)
    assert policies.default.name == "gold"
    silver = policies.get(1)
    assert silver is not None and silver.names == ("silver", "fast", "SSD-1") and not silver.is_default
    assert silver.ring_name == "object-1"
    # Any name, any case, finds the policy; an unknown one finds nothing.
    assert policies.by_name("FAST") == silver and policies.by_name(" ssd-1 ") == silver
    assert policies.by_name("Gold") == policies.get(0)
    assert policies.by_name("bronze") is None and policies.get(7) is None


def test_a_single_policy_is_the_default_without_saying_so(tmp_path: Path) -> None:
    policies = parse(tmp_path, "[storage-policy:0]\nname = only\n")
    assert policies.default.name == "only"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[storage-policy:1]\nname = silver\ndefault = yes\n", "[storage-policy:0] must be declared"),
        ("[storage-policy:0]\nname = a\n[storage-policy:1]\nname = b\n", "must be the default"),
        ("[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = b\ndefault = yes\n",
         "all the default"),
        ("[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = A\n", "used twice"),
        ("[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = b\naliases = a\n", "used twice"),
        ("[storage-policy:0]\nname = a\naliases = b, B\n", "twice"),
        ("[storage-policy:0]\nname = a b\n", "letters, digits"),
        ("[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = policy-0\n", "reserved"),
        ("[storage-policy:0]\nname =\n", "needs a name"),
        ("[storage-policy:x]\nname = a\n", "integer"),
        ("[storage-policy:0]\nname = a\ndefault = yes\ndeprecated = yes\n", "deprecated policy cannot"),
        ("[storage-policy:0]\nname = a\ndeprecated = yes\n", "every storage policy is deprecated"),
        ("[storage-policy:0]\nname = a\ndefault = maybe\n", "invalid value"),
    ],
)
def test_bad_declarations_are_config_errors(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(tmp_path, text)
    assert fragment in str(info.value)
    assert "martlet.conf" in str(info.value)


def test_deprecated_policies_stay_known(tmp_path: Path) -> None:
    policies = parse(tmp_path, """
[storage-policy:0]
name = old
deprecated = yes
[storage-policy:2]
name = new
default = yes
""")
    assert policies.default.index == 2
    old = policies.by_name("old")
    assert old is not None and old.is_deprecated


def test_the_cluster_config_carries_the_policies_and_their_rings(tmp_path: Path) -> None:
    path = tmp_path / "martlet.conf"
    path.write_text("[storage-policy:0]\nname = gold\ndefault = yes\n[storage-policy:3]\nname = cold\n")
    cluster = load_cluster_config(path)
    assert cluster.policies.by_name("cold") == StoragePolicy(3, ("cold",))
    assert cluster.ring_path("object", 3) == tmp_path.resolve() / "object-3.ring"
    assert cluster.builder_path("object", 3).name == "object-3.builder"
    assert list(cluster.ring_paths()) == ["account", "container", "object", "object-3"]
    with pytest.raises(ValueError):
        cluster.ring_path("container", 3)


def test_build_policies_alone() -> None:
    assert build_policies([]) == StoragePolicies()
    built = build_policies([StoragePolicy(1, ("b",)), StoragePolicy(0, ("a",), is_default=True)])
    assert built.indexes == (0, 1)


def test_names_and_indexes() -> None:
    assert policy_string("objects", 0) == "objects" and policy_string("objects", 12) == "objects-12"
    with pytest.raises(ValueError):
        policy_string("objects", -1)
    assert parse_index(None) is None and parse_index(" 2 ") == 2
    for bad in ("", "-1", "1.0", "x", "١"):
        with pytest.raises(ValueError):
            parse_index(bad)
