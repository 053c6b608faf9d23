"""``martlet healthcheck`` and ``martlet node``'s config, without daemons
(tests/cluster/test_node.py runs both for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from martlet.config import load_config
from martlet.errors import ConfigError
from ops.health import judge_node, target_of
from ops.main import NODE_DAEMONS, main
from ops.node import NodeSection, chosen_daemons
from ops.status import ClusterStatus, NodeStatus, render


def write(tmp_path: Path, text: str, name: str = "x.conf") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_role_and_address_come_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = write(tmp_path, "[proxy]\nbind_ip = 0.0.0.0\nbind_port = 8080\n", "proxy.conf")
    assert target_of(proxy).url == "http://127.0.0.1:8080/healthcheck"
    node = write(tmp_path, "[storage]\nbind_ip = storage1\nbind_port = 6200\n", "storage.conf")
    assert (target_of(node).role, target_of(node).url) == ("node", "http://storage1:6200/recon")
    v6 = write(tmp_path, "[storage]\nbind_ip = ::\nbind_port = 6200\n")
    assert target_of(v6).url == "http://[::1]:6200/recon"
    monkeypatch.setenv("MARTLET_STORAGE_BIND_PORT", "6201")
    assert target_of(node).url == "http://storage1:6201/recon"


@pytest.mark.parametrize("text, message", [
    ("[storage]\nbind_ip = x\nbind_port = 0\n", "a fixed port"),
    ("[auth]\nuser_a_b = c\n", "neither [proxy] nor [storage]"),
])
def test_a_config_it_cannot_use_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        target_of(write(tmp_path, text))


def test_a_missing_config_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["healthcheck", "--config", str(tmp_path / "nope.conf")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.conf: cannot read config" in err


def node_report(**states: str) -> dict[str, object]:
    return {"node": {"started_at": 0.0, "daemons": {
        name: {"state": state, "since": 90.0, "restarts": 2 if state != "running" else 0,
               "last_error": "boom" if state != "running" else ""}
        for name, state in states.items()}}}


def test_a_node_is_healthy_when_every_daemon_runs() -> None:
    healthy, lines = judge_node(node_report(storage="running", replicator="running"), now=100.0)
    assert healthy and lines == ["storage: running for 10s, restarts 0", "replicator: running for 10s, restarts 0"]
    sick, lines = judge_node(node_report(storage="running", replicator="backoff"), now=100.0)
    assert not sick and lines[1] == "replicator: backoff for 10s, restarts 2, last error: boom"
    alone, lines = judge_node({"devices": []}, now=100.0)
    assert alone and "not under martlet node" in lines[0]


def test_status_shows_the_daemons_that_do_not_run() -> None:
    up = NodeStatus("10.0.0.1:6200", True, recon={"devices": [], **node_report(storage="running")})
    down = NodeStatus("10.0.0.2:6200", True, recon={"devices": [], **node_report(storage="running", auditor="backoff")})
    alone = NodeStatus("10.0.0.3:6200", True, recon={"devices": []})
    text = render(ClusterStatus(0.0, (), (up, down, alone)))
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip().startswith("10.0.0.")}
    assert " 1/1 " in rows["10.0.0.1:6200"]
    assert "1/2 (auditor backoff)" in rows["10.0.0.2:6200"]
    assert ClusterStatus(0.0, (), (up, alone)).healthy
    assert not ClusterStatus(0.0, (), (up, down)).healthy


def test_node_runs_every_daemon_unless_told_otherwise(tmp_path: Path) -> None:
    assert list(NODE_DAEMONS) == ["storage", "replicator", "db-replicator", "auditor", "updater", "expirer"]
    every = chosen_daemons("s.conf", NodeSection(), NODE_DAEMONS)
    assert list(every) == list(NODE_DAEMONS)
    conf = write(tmp_path, "[node]\ndaemons = storage, updater\n")
    section = load_config(conf).section("node", NodeSection)
    assert list(chosen_daemons(conf, section, NODE_DAEMONS)) == ["storage", "updater"]
    with pytest.raises(ConfigError, match=r"\[node\] daemons: expirator unknown"):
        chosen_daemons(conf, NodeSection(daemons=("storage", "expirator")), NODE_DAEMONS)


def test_node_config_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["node", "--config", str(tmp_path / "missing.conf")]) == 2
    assert "missing.conf: cannot read config" in capsys.readouterr().err
    conf = write(tmp_path, "[node]\nbackoff = soon\n")
    assert main(["node", "--config", conf]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[node] backoff: invalid value 'soon'" in err
