"""ops.init_cluster: the first-run set-up shared by ring-init and martlet dev."""

from __future__ import annotations

from pathlib import Path

import pytest

from martlet.cluster import load_cluster_config
from martlet.config import load_config
from ops.init_cluster import ClusterLayout, StorageNode, init_cluster, nodes_from_specs
from ops.main import main
from proxy.auth import parse_resellers
from ring import load_builder, load_ring
from storage.config import load_storage_config

SPECS = [f"r1z{i}-127.0.0.{i + 1}:6200/d{i}" for i in range(1, 5)]


def layout(tmp_path: Path, **kwargs: object) -> ClusterLayout:
    nodes = nodes_from_specs(SPECS, "/srv/node")
    return ClusterLayout(tmp_path / "cluster", nodes, part_power=6, **kwargs)  # type: ignore[arg-type]


def test_first_run_creates_everything(tmp_path: Path) -> None:
    report = init_cluster(layout(tmp_path))
    assert report.created[-1] == "martlet.conf" and not report.kept
    cluster = load_cluster_config(tmp_path / "cluster/martlet.conf")
    assert len(cluster.hash.path_suffix) == 32 and len(cluster.secret) == 64
    for kind in ("account", "container", "object"):
        ring = load_ring(cluster.ring_path(kind), cluster.hash)
        assert ring.replica_count == 3 and ring.part_power == 6
        devices = [d for d in ring.devices if d is not None]
        assert [(d.zone, d.ip, d.port, d.device) for d in devices] == [
            (i, f"127.0.0.{i + 1}", 6200, f"d{i}") for i in range(1, 5)]
        assert load_builder(cluster.builder_path(kind)).replicas == 3
    storage2 = load_storage_config(tmp_path / "cluster/storage2.conf")
    assert (storage2.storage.bind_ip, storage2.storage.bind_port) == ("127.0.0.3", 6200)
    assert storage2.storage.devices == "/srv/node"
    assert storage2.cluster.hash == cluster.hash, "cluster_conf names the folder's martlet.conf"
    users = load_config(tmp_path / "cluster/proxy.conf").raw("auth")
    assert users["user_test_tester"] == "testing .admin"
    resellers = parse_resellers(users)  # SERVICE_ accounts need a service token, as in Swift's all-in-one
    assert resellers.prefixes == ("AUTH_", "SERVICE_") and resellers.required_group("SERVICE_") == "service"


def test_second_run_keeps_everything(tmp_path: Path) -> None:
    init_cluster(layout(tmp_path))
    folder = tmp_path / "cluster"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / "proxy.conf").write_text(before["proxy.conf"].decode() + "# operator edit\n")
    report = init_cluster(layout(tmp_path))
    assert report.created == ()
    assert (folder / "martlet.conf").read_bytes() == before["martlet.conf"]
    assert (folder / "object.ring").read_bytes() == before["object.ring"]
    assert (folder / "proxy.conf").read_text().endswith("# operator edit\n")


def test_a_missing_ring_is_rebuilt_with_the_existing_hash(tmp_path: Path) -> None:
    init_cluster(layout(tmp_path))
    folder = tmp_path / "cluster"
    conf = (folder / "martlet.conf").read_bytes()
    (folder / "container.ring").unlink()
    report = init_cluster(layout(tmp_path))
    assert report.created == ("container.ring",)
    assert (folder / "martlet.conf").read_bytes() == conf


def test_two_clusters_get_different_secrets(tmp_path: Path) -> None:
    init_cluster(layout(tmp_path / "a"))
    init_cluster(layout(tmp_path / "b"))
    a = load_cluster_config(tmp_path / "a/cluster/martlet.conf")
    b = load_cluster_config(tmp_path / "b/cluster/martlet.conf")
    assert a.hash.path_suffix != b.hash.path_suffix and a.secret != b.secret


def test_specs_group_devices_by_node() -> None:
    nodes = nodes_from_specs(["r1z1-10.0.0.1:6200/sda", "r1z1-10.0.0.1:6200/sdb", "r1z2-10.0.0.2:6200/sda"], "/srv")
    assert nodes == (
        StorageNode("10.0.0.1", 6200, ("sda", "sdb"), 1, 1, "/srv"),
        StorageNode("10.0.0.2", 6200, ("sda",), 2, 1, "/srv"),
    )
    with pytest.raises(ValueError):
        nodes_from_specs(["r1z1-10.0.0.1:6200/sda", "r1z2-10.0.0.1:6200/sdb"], "/srv")


def test_ring_init_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ring-init", "--dir", str(tmp_path / "c"), "--proxy", "0.0.0.0:8080", "--part-power", "4"]
    for spec in SPECS:
        argv += ["--device", spec]
    assert main(argv) == 0
    assert "created" in capsys.readouterr().out
    assert "bind_ip = 0.0.0.0" in (tmp_path / "c/proxy.conf").read_text()
    assert main(argv) == 0
    assert "created nothing" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [["--device", "nonsense"], ["--device", SPECS[0], "--proxy", "8080"]])
def test_ring_init_rejects_bad_input_in_one_line(tmp_path: Path, bad: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ring-init", "--dir", str(tmp_path / "c"), *bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith("martlet ring-init: ") and "Traceback" not in err
    assert not (tmp_path / "c/martlet.conf").exists()


def test_martlet_dev_uses_the_same_set_up(tmp_path: Path) -> None:
    from ops.dev_cluster import DevSpec, create_cluster

    spec = DevSpec.of(tmp_path / "dev", 7000, (7001, 7002, 7003, 7004), part_power=5)
    assert create_cluster(spec)
    cluster = load_cluster_config(spec.cluster_conf)
    ring = load_ring(cluster.ring_path("object"), cluster.hash)
    assert [(d.zone, d.port, d.device) for d in ring.devices if d is not None] == [
        (i + 1, 7001 + i, f"d{i + 1}") for i in range(4)]
    assert (spec.data_dir / "object.builder").exists()
    storage1 = load_storage_config(spec.storage_conf(0))
    assert Path(storage1.storage.devices) == spec.devices_root(0).resolve()
    assert (spec.devices_root(0) / "d1").is_dir()
    assert not create_cluster(spec)
