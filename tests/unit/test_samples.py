"""etc/*.conf cover every key the code reads, with the code's defaults.

"Keys the code reads" are the fields of the section dataclasses given to
``martlet.config.ConfigFile.section``. ``REGISTRY`` says which file and
section each belongs to; two scans of the source keep it complete: every
``*Section`` dataclass must be registered, and every
``.section("<name>", <Class>)`` call must name a registered pair. Then, per
section of a sample: its keys are exactly the fields (no key missing, none
that nothing reads), and each value equals the field's default.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
from pathlib import Path

import pytest

from martlet.cluster import ClusterSection
from martlet.config import ConfigFile
from martlet.hashing import HashSection
from martlet.policies import StoragePolicySection
from proxy.config import (
    AccountQuotasSection, BulkSection, ContainerQuotasSection, CorsSection, EtagQuoterSection, ProxySection,
    StaticwebSection, SymlinkSection,
)
from proxy.config import ObjectVersioningSection, VersionedWritesSection
from proxy.config import FormpostSection, S3apiSection, TempurlSection
from expirer.config import ExpirerSection
from ops.node import NodeSection
from replicator.config import AuditorSection, DbReplicatorSection, ReplicatorSection
from replicator.updater import UpdaterSection
from storage.config import StorageSection
from storage.container_server import ContainerServerSection
from storage.recon import StatsFileSection

ROOT = Path(__file__).resolve().parents[2]
ETC = ROOT / "etc"
PACKAGES = ("martlet", "ring", "storage", "proxy", "replicator", "expirer", "ops")

REGISTRY: tuple[tuple[str, str, type], ...] = (
    ("martlet.conf", "hash", HashSection),
    ("martlet.conf", "cluster", ClusterSection),
    # One [storage-policy:N] per policy (martlet.policies); the sample has policy 0.
    ("martlet.conf", "storage-policy:0", StoragePolicySection),
    ("proxy.conf", "proxy", ProxySection),
    ("proxy.conf", "bulk", BulkSection),
    ("proxy.conf", "account_quotas", AccountQuotasSection),
    ("proxy.conf", "container_quotas", ContainerQuotasSection),
    ("proxy.conf", "etag_quoter", EtagQuoterSection),
    ("proxy.conf", "cors", CorsSection),
    ("proxy.conf", "symlink", SymlinkSection),
    ("proxy.conf", "staticweb", StaticwebSection),
    ("proxy.conf", "versioned_writes", VersionedWritesSection),
    ("proxy.conf", "object_versioning", ObjectVersioningSection),
    ("proxy.conf", "tempurl", TempurlSection),
    ("proxy.conf", "formpost", FormpostSection),
    ("proxy.conf", "s3api", S3apiSection),
    ("storage.conf", "storage", StorageSection),
    ("storage.conf", "node", NodeSection),
    ("storage.conf", "container-server", ContainerServerSection),
    ("storage.conf", "updater", UpdaterSection),
    ("storage.conf", "replicator", ReplicatorSection),
    ("storage.conf", "db-replicator", DbReplicatorSection),
    ("storage.conf", "auditor", AuditorSection),
    ("storage.conf", "expirer", ExpirerSection),
    # storage.recon reads where those daemons leave their pass figures.
    ("storage.conf", "replicator", StatsFileSection),
    ("storage.conf", "db-replicator", StatsFileSection),
    ("storage.conf", "auditor", StatsFileSection),
    ("storage.conf", "updater", StatsFileSection),
    ("storage.conf", "expirer", StatsFileSection),
)
# Read with ConfigFile.raw (free-form keys, e.g. one per user).
RAW_SECTIONS = {("proxy.conf", "auth")}

# Sample values that differ from the code's default on purpose: the samples
# sit next to martlet.conf, so they name it relatively.
DELIBERATE = {
    ("storage.conf", "storage", "cluster_conf"): "martlet.conf",
    # A policy has no default name; the sample's policy 0 is Swift's default one.
    ("martlet.conf", "storage-policy:0", "name"): "Policy-0",
    ("martlet.conf", "storage-policy:0", "default"): True,
}


def source_trees() -> list[tuple[Path, ast.Module]]:
    trees = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            trees.append((path, ast.parse(path.read_text(), str(path))))
    return trees


def is_dataclass_decorated(node: ast.ClassDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "dataclass":
            return True
    return False


def test_every_section_dataclass_is_registered() -> None:
    registered = {cls.__name__ for _, _, cls in REGISTRY}
    found = {
        node.name
        for _, tree in source_trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.endswith("Section") and is_dataclass_decorated(node)
    }
    assert found, "the scan finds nothing: it is broken"
    assert found <= registered, f"config sections missing from REGISTRY: {sorted(found - registered)}"


def test_every_section_call_is_registered() -> None:
    pairs = {(section, cls.__name__) for _, section, cls in REGISTRY}
    calls = set()
    for path, tree in source_trees():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "section" and len(node.args) == 2
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[1], ast.Name)):
                calls.add((node.args[0].value, node.args[1].id))
    assert ("storage", "StorageSection") in calls, "the scan finds nothing: it is broken"
    assert calls <= pairs, f"sections read but not registered: {sorted(calls - pairs)}"


def sample_problems(sample: Path, name: str) -> list[str]:
    """What is wrong with the samples' ``sample`` file (empty: nothing)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(sample, encoding="utf-8")
    problems = []
    entries = [(section, cls) for file, section, cls in REGISTRY if file == name]
    sections = {section for section, _ in entries}
    for section in parser.sections():
        if section not in sections and (name, section) not in RAW_SECTIONS:
            problems.append(f"[{section}] is read by nothing")
    for section in sorted(sections):
        fields = {f.name for _, cls in entries if _ == section for f in dataclasses.fields(cls)}
        keys = set(parser.options(section)) if parser.has_section(section) else set()
        problems += [f"[{section}] {k}: missing from the sample" for k in sorted(fields - keys)]
        problems += [f"[{section}] {k}: read by nothing" for k in sorted(keys - fields)]
    loaded = ConfigFile(sample, environ={})
    for section, cls in entries:
        if not parser.has_section(section):
            continue
        values = loaded.section(section, cls)
        for f in dataclasses.fields(cls):
            expected = DELIBERATE.get((name, section, f.name), f.default)
            if getattr(values, f.name) != expected:
                problems.append(f"[{section}] {f.name}: sample {getattr(values, f.name)!r} != default {expected!r}")
    return problems


@pytest.mark.parametrize("name", ["martlet.conf", "proxy.conf", "storage.conf"])
def test_sample_covers_the_keys_and_defaults_the_code_reads(name: str) -> None:
    assert sample_problems(ETC / name, name) == []


def test_the_check_catches_a_stray_key_a_missing_key_and_a_wrong_default(tmp_path: Path) -> None:
    text = (ETC / "storage.conf").read_text()
    broken = text.replace("threads_per_device = 4", "threads_per_device = 5")
    broken = broken.replace("reclaim_age = 604800\n", "")
    broken = broken.replace("[updater]\n", "[updater]\nnot_a_key = 1\n")
    sample = tmp_path / "storage.conf"
    sample.write_text(broken)
    problems = sample_problems(sample, "storage.conf")
    assert "[storage] reclaim_age: missing from the sample" in problems
    assert "[updater] not_a_key: read by nothing" in problems
    assert any(p.startswith("[storage] threads_per_device: sample 5") for p in problems)
