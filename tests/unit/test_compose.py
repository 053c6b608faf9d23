"""docker-compose.yml, its scale-out override and the Dockerfile, checked
without a Docker engine.

The compose files are validated against the Compose Specification's JSON
schema, shipped in tests/data/compose-spec.json (from the compose-spec
repository, ``schema/compose-spec.json``, Apache-2.0), since nothing may be
downloaded at test time. Every service's command must be a ``martlet``
invocation that parses, every health check one that runs in any image
(``python3 -m ops.health``), and the topology the one docs/operations.md
describes. tests/cluster/test_compose_topology.py runs the services'
commands as processes; ``make compose-test`` runs the real thing.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ops.health import main as health_main
from ops.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
NODES = ["storage1", "storage2", "storage3", "storage4"]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("docker-compose.yml")


def validator() -> jsonschema.Draft7Validator:
    """The schema says draft-07 (in a spelling jsonschema does not look up)."""
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_files_match_the_compose_specification(compose: dict[str, Any]) -> None:
    validator().validate(compose)
    validator().validate(load("etc/docker-compose.storage5.yml"))


def test_schema_rejects_a_broken_compose_file(compose: dict[str, Any]) -> None:
    """The validation above can fail: a misspelt key is caught."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["proxy"]["depends_on"]["storage1"]["condition"] = "service_ready"
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(broken)


def test_no_top_level_name_for_compose_v1(compose: dict[str, Any]) -> None:
    assert "name" not in compose and "version" not in compose


def test_every_command_is_a_martlet_invocation(compose: dict[str, Any]) -> None:
    parser = build_parser()
    services = {**compose["services"], **load("etc/docker-compose.storage5.yml")["services"]}
    for name, service in services.items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: exec form, no shell"
        args = parser.parse_args(command)  # required options present, values parse
        assert args.command == command[0]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
            parser.parse_args([command[0], "--help"])
        assert exited.value.code == 0 and "usage: martlet" in out.getvalue()


def test_the_services_are_ring_init_one_container_per_node_and_the_proxy(compose: dict[str, Any]) -> None:
    assert list(compose["services"]) == ["ring-init", *NODES, "proxy"]
    for name in NODES:
        assert compose["services"][name]["command"] == ["node", "--config", f"/etc/martlet/{name}.conf"]


def test_the_image_is_built_once(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert [n for n, s in services.items() if "build" in s] == ["ring-init"]
    assert {s["image"] for s in services.values()} == {"${MARTLET_IMAGE:-martlet:local}"}


def test_ring_init_names_nodes_by_service_and_keeps_secrets_in_env(compose: dict[str, Any]) -> None:
    init = compose["services"]["ring-init"]
    assert init["restart"] == "no" and init["network_mode"] == "none" and init["user"] == "root"
    args = build_parser().parse_args(init["command"])
    assert args.device == [f"r1z{i}-storage{i}:6200/disk" for i in range(1, 5)]
    assert args.replicas == 3 and args.devices_root == "/srv/node" and args.proxy == "0.0.0.0:8080"
    assert args.env_file == "/project/.env" and ".:/project" in init["volumes"]


def test_storage_nodes_talk_on_an_internal_network_without_a_fixed_subnet(compose: dict[str, Any]) -> None:
    assert compose["networks"]["storage"] == {"internal": True}
    for name in NODES:
        service = compose["services"][name]
        assert service["networks"] == ["storage"]
        assert "ports" not in service
        index = name[-1]
        assert service["volumes"] == ["cluster:/etc/martlet:ro", f"node{index}:/srv/node", f"d{index}:/srv/node/disk"]
        assert service["depends_on"]["ring-init"]["condition"] == "service_completed_successfully"


def test_health_checks_run_in_any_image(compose: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    for name, service in compose["services"].items():
        if name == "ring-init":
            continue
        test = service["healthcheck"]["test"]
        config = service["command"][-1]
        assert test == ["CMD", "python3", "-m", "ops.health", "--config", config]
        # The module parses those arguments (the config does not exist here: one line, 2).
        assert health_main(test[4:]) == 2
        assert "cannot read config" in capsys.readouterr().err


def test_proxy_is_published_on_loopback_by_default(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert proxy["command"] == ["proxy", "--config", "/etc/martlet/proxy.conf"]
    assert proxy["ports"] == ["${MARTLET_BIND:-127.0.0.1}:${MARTLET_PORT:-8080}:8080"]
    assert proxy["networks"] == ["storage", "public"]
    assert {n: d["condition"] for n, d in proxy["depends_on"].items()} == {n: "service_healthy" for n in NODES}


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for entry in service.get("volumes", []):
            source = entry.split(":")[0]
            assert source in declared or (name, source) == ("ring-init", "."), f"{name}: {source}"
    assert {"cluster", "d1", "d2", "d3", "d4"} <= declared


def test_the_fifth_node_is_the_fourth_renumbered(compose: dict[str, Any]) -> None:
    override = load("etc/docker-compose.storage5.yml")
    base_init = compose["services"]["ring-init"]["command"]
    init = override["services"]["ring-init"]["command"]
    added = ["--device", "r1z5-storage5:6200/disk"]
    at = base_init.index("--devices-root")
    assert init == base_init[:at] + added + base_init[at:]
    four = json.dumps({k: v for k, v in compose["services"]["storage4"].items()}, sort_keys=True)
    five = override["services"]["storage5"]
    expected = json.loads(four.replace("storage4", "storage5").replace("node4", "node5").replace("d4:", "d5:"))
    # The base file's anchors merge the shared keys in; the override spells them out.
    assert five == expected
    assert set(override["volumes"]) == {"node5", "d5"}


def test_dockerfile_builds_on_slim_or_debian_non_root_and_installs_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:[\d.]+-slim$", text, re.M)
    assert re.search(r"^USER martlet$", text, re.M)
    assert 'ENTRYPOINT ["martlet"]' in text
    runs = " ".join(re.findall(r"^RUN (.*(?:\\\n.*)*)", text, re.M))
    assert "python3 -m pip install" in runs
    installs = re.findall(r"(\S*\s+\S*)\s+pip install", runs)
    assert installs and set(installs) == {"python3 -m"}, "pip through python3 only"
    assert "PIP_BREAK_SYSTEM_PACKAGES=1" in text, "Debian's python3 is externally managed (PEP 668)"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} \./{package}$", text, re.M), f"image lacks {package}/"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)
    assert ".env" in (ROOT / ".gitignore").read_text().split()
