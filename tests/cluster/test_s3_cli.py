"""The aws command line (``aws s3`` and ``aws s3api``) against a real
cluster, as a subprocess with credentials in its environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture
from tests.cluster.feature_helpers import call
from tests.cluster.s3_helpers import ACCESS, SECRET

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("s3cli")
AWS = str(Path(sys.executable).with_name("aws"))


def aws(cluster: RunningCluster, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_MAX_ATTEMPTS": "1"}
    argv = [AWS, "--endpoint-url", cluster.proxy, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


def test_cp_ls_rm(cluster: RunningCluster, tmp_path: Path) -> None:
    assert aws(cluster, tmp_path, "s3", "mb", "s3://cli").returncode == 0
    small = tmp_path / "small.txt"
    small.write_bytes(b"small file\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(10 * 1024 * 1024 + 5))  # above the CLI's 8 MiB multipart threshold
    for name in ("small.txt", "big.bin"):
        done = aws(cluster, tmp_path, "s3", "cp", name, f"s3://cli/dir/{name}")
        assert done.returncode == 0, done.stderr
    listed = aws(cluster, tmp_path, "s3", "ls", "s3://cli/dir/")
    assert listed.returncode == 0 and "small.txt" in listed.stdout and "big.bin" in listed.stdout
    back = aws(cluster, tmp_path, "s3", "cp", "s3://cli/dir/big.bin", "copy.bin")
    assert back.returncode == 0, back.stderr
    assert (tmp_path / "copy.bin").read_bytes() == big.read_bytes()
    assert call(cluster, "GET", "cli/dir/small.txt").content == b"small file\n"
    head = aws(cluster, tmp_path, "s3api", "head-object", "--bucket", "cli", "--key", "dir/big.bin")
    assert head.returncode == 0 and json.loads(head.stdout)["ContentLength"] == big.stat().st_size
    assert json.loads(head.stdout)["ETag"].endswith('-2"')
    removed = aws(cluster, tmp_path, "s3", "rm", "--recursive", "s3://cli/dir/")
    assert removed.returncode == 0, removed.stderr
    assert aws(cluster, tmp_path, "s3", "ls", "s3://cli/dir/").stdout.strip() == ""


def test_sync(cluster: RunningCluster, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b é.txt").write_text("b")
    assert aws(cluster, tmp_path, "s3", "mb", "s3://synced").returncode == 0
    done = aws(cluster, tmp_path, "s3", "sync", "tree", "s3://synced/")
    assert done.returncode == 0, done.stderr
    listed = aws(cluster, tmp_path, "s3api", "list-objects-v2", "--bucket", "synced")
    assert sorted(o["Key"] for o in json.loads(listed.stdout)["Contents"]) == ["a.txt", "sub/b é.txt"]
    again = aws(cluster, tmp_path, "s3", "sync", "tree", "s3://synced/")
    assert again.returncode == 0 and "upload:" not in again.stdout  # nothing changed, nothing sent
