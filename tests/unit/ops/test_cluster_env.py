"""``martlet ring-init --env-file``: a cluster's secrets kept in a .env."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from martlet.cluster import load_cluster_config
from martlet.config import load_config
from ops.cluster_env import parse_env, settle, user_env_name
from ops.main import main

SPECS = ["--device", "r1z1-storage1:6200/disk", "--device", "r1z2-storage2:6200/disk",
         "--device", "r1z3-storage3:6200/disk"]
FRESH = {"hash": {"path_prefix": "", "path_suffix": "new-suffix"}, "cluster": {"secret": "new-secret"}}
USERS = {"user_test_tester": "testing .admin", "user_test_tester3": "testing3"}


def ring_init(tmp_path: Path, env: Path) -> int:
    return main(["ring-init", "--dir", str(tmp_path / "c"), "--env-file", str(env), "--part-power", "4", *SPECS])


def test_parse_env_reads_what_compose_reads() -> None:
    text = "# comment\n\nA=1\nexport B = two words \nC='quoted'\nD=\"dq\"\nE=\nnot a line\n"
    assert parse_env(text) == {"A": "1", "B": "two words", "C": "quoted", "D": "dq", "E": ""}


def test_a_new_cluster_takes_fresh_secrets_and_random_user_keys() -> None:
    settled = settle({}, FRESH, USERS, None, None)
    assert settled.cluster_sections == FRESH
    keys = {name: line.split()[0] for name, line in settled.users.items()}
    assert all(len(key) >= 20 and key not in ("testing", "testing3") for key in keys.values())
    assert settled.users["user_test_tester"].endswith(" .admin") and len(settled.users["user_test_tester3"].split()) == 1
    assert settled.additions == {"MARTLET_HASH_PATH_PREFIX": "", "MARTLET_HASH_PATH_SUFFIX": "new-suffix",
                                 "MARTLET_CLUSTER_SECRET": "new-secret",
                                 "MARTLET_KEY_TEST_TESTER": keys["user_test_tester"],
                                 "MARTLET_KEY_TEST_TESTER3": keys["user_test_tester3"]}
    assert settled.conflicts == ()


def test_env_values_make_the_configs_and_existing_configs_win() -> None:
    env = {"MARTLET_HASH_PATH_SUFFIX": "from-env", "MARTLET_KEY_TEST_TESTER": "k1"}
    settled = settle(env, FRESH, USERS, None, None)
    assert settled.cluster_sections["hash"]["path_suffix"] == "from-env"
    assert settled.users["user_test_tester"] == "k1 .admin"
    assert "MARTLET_HASH_PATH_SUFFIX" not in settled.additions and "MARTLET_CLUSTER_SECRET" in settled.additions
    existing = {"hash": {"path_prefix": "", "path_suffix": "in-use"}, "cluster": {"secret": "s"}}
    kept = settle(env, FRESH, USERS, existing, {"user_test_tester": "k0 .admin", "user_test_tester3": "k3"})
    assert kept.cluster_sections["hash"]["path_suffix"] == "in-use"
    assert kept.users == {"user_test_tester": "k0 .admin", "user_test_tester3": "k3"}
    assert set(kept.conflicts) == {"MARTLET_HASH_PATH_SUFFIX", "MARTLET_KEY_TEST_TESTER"}
    assert kept.additions["MARTLET_CLUSTER_SECRET"] == "s"


def test_user_names() -> None:
    assert user_env_name("user_test2_tester-x") == "MARTLET_KEY_TEST2_TESTER_X"


def test_ring_init_writes_the_env_file_once_and_keeps_other_lines(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    assert ring_init(tmp_path, env) == 0
    values = parse_env(env.read_text())
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    cluster = load_cluster_config(tmp_path / "c/martlet.conf")
    assert values["MARTLET_HASH_PATH_SUFFIX"] == cluster.hash.path_suffix
    assert values["MARTLET_CLUSTER_SECRET"] == cluster.secret
    auth = load_config(tmp_path / "c/proxy.conf").raw("auth")
    assert auth["user_test_tester"] == f"{values['MARTLET_KEY_TEST_TESTER']} .admin"
    assert auth["user_admin_admin"].split()[1:] == [".admin", ".reseller_admin"]

    env.write_text(env.read_text() + "MARTLET_PORT=9090\n")
    before = env.read_text()
    assert ring_init(tmp_path, env) == 0
    assert env.read_text() == before, "nothing missing: nothing written"


def test_a_lost_env_is_rebuilt_from_the_configs(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    assert ring_init(tmp_path, env) == 0
    first = parse_env(env.read_text())
    env.unlink()
    assert ring_init(tmp_path, env) == 0
    assert parse_env(env.read_text()) == first


def test_a_restored_env_makes_the_same_cluster_again(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    assert ring_init(tmp_path, env) == 0
    suffix = load_cluster_config(tmp_path / "c/martlet.conf").hash.path_suffix
    for name in os.listdir(tmp_path / "c"):
        os.unlink(tmp_path / "c" / name)
    assert ring_init(tmp_path, env) == 0
    assert load_cluster_config(tmp_path / "c/martlet.conf").hash.path_suffix == suffix


def test_a_differing_env_is_reported_and_the_cluster_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    assert ring_init(tmp_path, env) == 0
    suffix = load_cluster_config(tmp_path / "c/martlet.conf").hash.path_suffix
    env.write_text(env.read_text().replace(suffix, "other"))
    capsys.readouterr()
    assert ring_init(tmp_path, env) == 0
    assert "MARTLET_HASH_PATH_SUFFIX differs from the cluster's configs" in capsys.readouterr().err
    assert load_cluster_config(tmp_path / "c/martlet.conf").hash.path_suffix == suffix
