"""The unmodified ``swift`` command line (python-swiftclient) against a
cluster started like ``martlet dev``: what a user would type."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture

pytestmark = pytest.mark.cluster


cluster = cluster_fixture("swift-cli")


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stderr
    return result.stdout


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("upload")
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("alpha\n")
    (root / "docs" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "docs" / "deep" / "c.json").write_text('{"c": 1}\n')
    (root / "single.dat").write_bytes(os.urandom(2_000_000))
    return root


def test_stat_shows_the_account(cluster: RunningCluster) -> None:
    out = ok(cluster.swift("stat"))
    assert "Account: AUTH_test" in out
    assert "Containers:" in out


def test_wrong_key_fails(cluster: RunningCluster) -> None:
    result = cluster.swift("stat", key="wrong")
    assert result.returncode != 0
    assert "401" in result.stderr or "Unauthorized" in result.stderr


def test_upload_download_list_copy_delete(cluster: RunningCluster, folder: Path, tmp_path: Path) -> None:
    ok(cluster.swift("upload", "cli", "docs", "single.dat", cwd=folder))
    listed = ok(cluster.swift("list", "cli")).split()
    assert listed == ["docs/a.txt", "docs/b.bin", "docs/deep/c.json", "single.dat"]
    assert ok(cluster.swift("list", "cli", "--prefix", "docs/")).split() == [
        "docs/a.txt", "docs/b.bin", "docs/deep/c.json"]
    assert ok(cluster.swift("list", "cli", "--delimiter", "/")).split() == ["docs/", "single.dat"]
    assert ok(cluster.swift("list", "cli", "--prefix", "docs/", "--delimiter", "/")).split() == [
        "docs/a.txt", "docs/b.bin", "docs/deep/"]

    ok(cluster.swift("download", "cli", "--output-dir", str(tmp_path / "back")))
    for name in listed:
        assert md5_of(tmp_path / "back" / name) == md5_of(folder / name), name

    ok(cluster.swift("copy", "cli", "single.dat", "--destination", "/cli-copies/single-copy.dat"))
    ok(cluster.swift("download", "cli-copies", "single-copy.dat", "-o", str(tmp_path / "copy.dat")))
    assert md5_of(tmp_path / "copy.dat") == md5_of(folder / "single.dat")

    ok(cluster.swift("delete", "cli", "docs/a.txt"))
    assert "docs/a.txt" not in ok(cluster.swift("list", "cli")).split()
    ok(cluster.swift("delete", "cli"))
    assert "cli" not in ok(cluster.swift("list")).split()


def test_post_metadata_and_acls(cluster: RunningCluster, folder: Path) -> None:
    ok(cluster.swift("post", "-m", "Color:blue", "-r", ".r:*,.rlistings", "meta"))
    out = ok(cluster.swift("stat", "meta"))
    assert "Meta Color: blue" in out
    assert "Read ACL: .r:*,.rlistings" in out
    ok(cluster.swift("upload", "meta", "single.dat", "-H", "X-Object-Meta-Kind: data", cwd=folder))
    ok(cluster.swift("post", "-m", "Kind:other", "meta", "single.dat"))
    assert "Meta Kind: other" in ok(cluster.swift("stat", "meta", "single.dat"))
    ok(cluster.swift("post", "-m", "Team:red"))
    assert "Meta Team: red" in ok(cluster.swift("stat"))
