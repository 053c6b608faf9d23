"""``martlet ring``: run in-process through ops.main.main, once as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ops.main import main
from martlet.hashing import HashSection
from ring import load_builder, load_ring

VENV_MARTLET = Path(sys.executable).parent / "martlet"


def martlet(*args: str) -> int:
    return main(["ring", *args])


@pytest.fixture
def built(tmp_path: Path) -> Path:
    builder = tmp_path / "object.builder"
    assert martlet(str(builder), "create", "10", "3", "1") == 0
    assert martlet(str(builder), "add", "r1z1-127.0.0.1:6200/d1", "100") == 0
    assert martlet(str(builder), "add", "--region", "1", "--zone", "2", "--ip", "127.0.0.1",
                   "--port", "6210", "--device", "d2", "--weight", "100", "--meta", "ssd") == 0
    assert martlet(str(builder), "add", "r1z3-127.0.0.1:6220/d3", "100", "r1z4-127.0.0.1:6230/d4", "100") == 0
    assert martlet(str(builder), "rebalance", "--seed", "1") == 0
    return builder


def test_build_show_and_get_nodes(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring_path = tmp_path / "object.ring"
    assert ring_path.exists()
    capsys.readouterr()
    assert martlet(str(built), "show") == 0
    out = capsys.readouterr().out
    assert "1024 partitions, 3 replicas, 1 regions, 4 zones, 4 devices" in out
    assert "127.0.0.1:6210  d2      100.00  768         0.00     ssd" in out

    conf = tmp_path / "martlet.conf"
    conf.write_text("[hash]\npath_prefix =\npath_suffix = changeme\n")
    assert martlet("get-nodes", "--config", str(conf), str(ring_path), "a", "c", "o") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Partition 189"
    ring = load_ring(ring_path, HashSection("", "changeme"))
    primaries = [line for line in out if line.startswith("primary")]
    handoffs = [line for line in out if line.startswith("handoff")]
    assert [line.split()[4] for line in primaries] == [d.device for d in ring.get_nodes("a", "c", "o")[1]]
    assert len(handoffs) == 1 and "127.0.0.1:62" in handoffs[0]


def test_remove_set_weight_and_rebalance(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert martlet(str(built), "add", "r1z1-127.0.0.2:6200/d5", "100") == 0
    assert martlet(str(built), "set-weight", "/d5", "50") == 0
    assert load_builder(built).get_device(4).weight == 50.0
    assert martlet(str(built), "remove", "4") == 0
    assert load_builder(built).devices[4] is None
    assert martlet(str(built), "set-weight", "z1", "0") == 0
    capsys.readouterr()
    # The first rebalance was "now": min_part_hours 1 keeps every partition.
    assert martlet(str(built), "rebalance") == 0
    assert "Reassigned 0 partition-replicas" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["{b}", "remove", "z9"], "no device matches"),
        (["{b}", "set-weight", "z9", "1"], "no device matches"),
        (["{b}", "set-weight", "r1", "1"], "matches 4 devices"),
        (["{b}", "add", "r1z1-nope", "100"], "bad device spec"),
        (["{b}", "add", "r1z5-127.0.0.1:6240/d9", "heavy"], "bad weight"),
        (["{b}", "add", "r1z5-127.0.0.1:6240/d9"], "SPEC WEIGHT pairs"),
        (["{b}", "add", "--region", "1"], "required"),
        (["{b}", "frobnicate"], "unknown verb"),
        (["{b}", "create", "10", "3", "1"], "already exists"),
        (["{d}/missing.builder", "show"], "cannot read"),
        (["get-nodes", "{d}/missing.ring", "a"], "cannot read"),
        (["get-nodes"], "required"),
        (["{b}", "create", "x", "3", "1"], "invalid int"),
        ([], "expected a builder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    built: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    filled = [a.format(b=built, d=built.parent) for a in args]
    assert martlet(*filled) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_corrupt_builder_is_exit_2(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built.write_bytes(built.read_bytes()[:50])
    assert martlet(str(built), "show") == 2
    assert "martlet ring:" in capsys.readouterr().err


def test_console_script_as_subprocess(tmp_path: Path) -> None:
    builder = tmp_path / "account.builder"
    commands = [
        ["create", "8", "2", "0"],
        ["add", "r1z1-127.0.0.1:6200/d1", "100", "r1z2-127.0.0.1:6210/d2", "100"],
        ["rebalance", "--seed", "3"],
    ]
    for words in commands:
        done = subprocess.run([str(VENV_MARTLET), "ring", str(builder), *words],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    done = subprocess.run([str(VENV_MARTLET), "ring", "get-nodes", "account.ring", "AUTH_test"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Partition ")
    bad = subprocess.run([str(VENV_MARTLET), "ring", str(builder), "remove", "d7"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "martlet ring: no device matches 'd7'"


def test_pretend_min_part_hours_passed_lets_a_young_ring_grow(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert martlet(str(built), "add", "r1z5-127.0.0.1:6240/d5", "100") == 0
    capsys.readouterr()
    assert martlet(str(built), "rebalance", "--seed", "2") == 0
    assert capsys.readouterr().out.startswith("Reassigned 0 partition-replicas")  # min_part_hours 1
    assert martlet(str(built), "pretend-min-part-hours-passed") == 0
    assert martlet(str(built), "rebalance", "--seed", "2") == 0
    assert not capsys.readouterr().out.split("\n")[1].startswith("Reassigned 0 ")
