"""``martlet dev``'s data dir, ports and refusals, without starting daemons
(tests/cluster/test_proxy_dev.py runs it)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from martlet.config import load_config
from martlet.errors import UsageError
from ops.dev_cluster import BACKGROUND, DevSpec, create_cluster, free_ports, load_spec
from ops.dev_processes import process_commands
from ops.main import main
from proxy.auth import parse_users
from storage.config import load_storage_config


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A socket that holds a port the way a running daemon does."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    yield sock
    sock.close()


def hold(sock: socket.socket, port: int) -> None:
    sock.bind(("127.0.0.1", port))
    sock.listen()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("martlet dev: ") and "Traceback" not in err
    return err


def test_ports_follow_the_proxy_port(tmp_path: Path) -> None:
    first = DevSpec.on_port(tmp_path / "a", 8080)
    second = DevSpec.on_port(tmp_path / "b", 9080)
    assert first.storage_ports == (8090, 8100, 8110, 8120)
    assert not {first.proxy_port, *first.storage_ports} & {second.proxy_port, *second.storage_ports}
    with pytest.raises(UsageError, match="--port"):
        DevSpec.on_port(tmp_path / "c", 65500)


def test_the_data_dir_keeps_its_ports_and_the_operators_edits(tmp_path: Path) -> None:
    spec = DevSpec.on_port(tmp_path / "dev", 7000)
    assert create_cluster(spec)
    storage1 = load_config(spec.storage_conf(0))
    assert storage1.value("storage", "bind_port") == "7010"
    edited = spec.proxy_conf.read_text().replace("[auth]\n", "[auth]\nuser_ops_ops = secret .admin\n")
    spec.proxy_conf.write_text(edited)
    assert not create_cluster(spec)
    assert spec.proxy_conf.read_text() == edited
    again = load_spec(spec.data_dir)
    assert (again.proxy_port, again.storage_ports) == (7000, spec.storage_ports)


def test_the_users_swifts_functional_tests_expect(tmp_path: Path) -> None:
    spec = DevSpec.on_port(tmp_path / "dev", 7000)
    create_cluster(spec)
    users = parse_users(load_config(spec.proxy_conf).raw("auth"))
    assert {name: (u.key, set(u.groups)) for name, u in users.items()} == {
        "test:tester": ("testing", {".admin"}),
        "test:tester2": ("testing2", {".admin"}),
        "test:tester3": ("testing3", set()),
        "test2:tester2": ("testing2", {".admin"}),
        "test5:tester5": ("testing5", {"service"}),
        "admin:admin": ("admin", {".admin", ".reseller_admin"}),
    }


def test_every_node_runs_the_background_daemons_on_short_intervals(tmp_path: Path) -> None:
    spec = DevSpec.on_port(tmp_path / "dev", 7000)
    create_cluster(spec)
    for i in range(len(spec.storage_ports)):
        config = load_config(spec.storage_conf(i))
        assert {name: config.raw(name) for name in BACKGROUND} == BACKGROUND
        # the dev nodes share one disk: two threads per device (DEV_STORAGE)
        assert load_storage_config(spec.storage_conf(i)).storage.threads_per_device == 2
    # One process per node (its daemons under `martlet node`) and the proxy.
    commands = dict(process_commands(spec))
    assert list(commands) == ["storage1", "storage2", "storage3", "storage4", "proxy"]
    assert all(argv[1:3] == ["-m", "ops.main"] for argv in commands.values())
    assert commands["storage2"][3:] == ["node", "--config", str(spec.storage_conf(1))]


def test_a_busy_proxy_port_stops_it_before_anything_is_written(
    tmp_path: Path, listening: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    (port,) = free_ports(1)
    hold(listening, port)
    assert main(["dev", "--data-dir", str(tmp_path / "dev"), "--port", str(port)]) == 2
    err = one_line_error(capsys)
    assert f"port {port} (proxy) is in use" in err and "--port" in err
    assert not (tmp_path / "dev").exists()


def test_a_busy_storage_port_names_the_port_and_the_flag(
    tmp_path: Path, listening: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = DevSpec.ephemeral(tmp_path / "dev")
    create_cluster(spec)
    hold(listening, spec.storage_ports[2])
    assert main(["dev", "--data-dir", str(spec.data_dir)]) == 2
    err = one_line_error(capsys)
    assert f"port {spec.storage_ports[2]} (storage3, fixed in " in err and "--data-dir" in err


def test_a_missing_config_is_named_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = DevSpec.ephemeral(tmp_path / "dev")
    create_cluster(spec)
    spec.storage_conf(1).unlink()
    assert main(["dev", "--data-dir", str(spec.data_dir)]) == 2
    assert "storage2.conf" in one_line_error(capsys)


def test_an_unreadable_port_is_named_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = DevSpec.ephemeral(tmp_path / "dev")
    create_cluster(spec)
    spec.proxy_conf.write_text(spec.proxy_conf.read_text().replace("bind_port = ", "bind_port = x"))
    assert main(["dev", "--data-dir", str(spec.data_dir)]) == 2
    assert "proxy.conf: [proxy] bind_port" in one_line_error(capsys)
