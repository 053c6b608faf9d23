"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is validated against the Compose Specification's JSON
schema, shipped in tests/data/compose-spec.json (from the compose-spec
repository, ``schema/compose-spec.json``, Apache-2.0), since nothing may be
downloaded at test time. Every service's command must be a ``martlet``
invocation that parses, and the topology must be the one the issue and
``martlet dev`` describe. tests/cluster/test_compose_topology.py runs it.
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

from ops.dev_cluster import BACKGROUND
from ops.main import build_parser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def validator() -> jsonschema.Draft7Validator:
    """The schema says draft-07 (in a spelling jsonschema does not look up)."""
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    validator().validate(compose)


def test_schema_rejects_a_broken_compose_file(compose: dict[str, Any]) -> None:
    """The validation above can fail: a misspelt key is caught."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["proxy"]["depends_on"]["storage1"]["condition"] = "service_ready"
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(broken)


def test_every_command_is_a_martlet_invocation(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name, service in compose["services"].items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: exec form, no shell"
        args = parser.parse_args(command)  # required options present, values parse
        assert args.command == command[0]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
            parser.parse_args([command[0], "--help"])
        assert exited.value.code == 0 and "usage: martlet" in out.getvalue()


def storage_nodes(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s["command"][0] == "storage"}


def test_ring_init_builds_four_devices_in_four_zones(compose: dict[str, Any]) -> None:
    init = compose["services"]["ring-init"]
    assert init["restart"] == "no"
    args = build_parser().parse_args(init["command"])
    specs = [re.fullmatch(r"r1z(\d)-([\d.]+):6200/(d\d)", d) for d in args.device]
    assert all(specs) and len(specs) == 4
    assert sorted(int(m[1]) for m in specs) == [1, 2, 3, 4]
    assert args.replicas == 3 and args.devices_root == "/srv/node"
    addresses = {m[2]: m[3] for m in specs}
    nodes = storage_nodes(compose)
    assert len(nodes) == 4
    for name, service in nodes.items():
        ip = service["networks"]["cluster"]["ipv4_address"]
        device = addresses[ip]
        assert f"{device}:/srv/node/{device}" in service["volumes"]
        assert service["command"] == ["storage", "--config", f"/etc/martlet/storage{name[-1]}.conf"]
        assert ip in " ".join(service["healthcheck"]["test"]) and "/healthcheck" in service["healthcheck"]["test"][-1]
        assert service["depends_on"]["ring-init"]["condition"] == "service_completed_successfully"


def test_each_node_runs_the_background_daemons_martlet_dev_runs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    roles = set(BACKGROUND)
    for name, storage in storage_nodes(compose).items():
        index = name[-1]
        for role in roles:
            service = services[f"{role}{index}"]
            assert service["command"] == [role, "--config", f"/etc/martlet/storage{index}.conf"]
            assert service["volumes"] == storage["volumes"], "same devices and node files"
            assert service["depends_on"][name]["condition"] == "service_healthy"
    background = {n for n, s in services.items() if s["command"][0] in roles}
    assert len(background) == 4 * len(roles)


def test_proxy_publishes_8080_with_a_healthcheck(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert proxy["command"] == ["proxy", "--config", "/etc/martlet/proxy.conf"]
    assert "8080:8080" in proxy["ports"]
    assert "/healthcheck" in proxy["healthcheck"]["test"][-1]
    assert {n: d["condition"] for n, d in proxy["depends_on"].items()} == {
        n: "service_healthy" for n in storage_nodes(compose)}


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for entry in service.get("volumes", []):
            source = entry.split(":")[0]
            assert source in declared, f"{name}: {source} is not a named volume"
    assert {"cluster", "d1", "d2", "d3", "d4"} <= declared


def test_dockerfile_is_slim_non_root_and_installs_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:[\d.]+-slim", text, re.M)
    assert re.search(r"^USER martlet$", text, re.M)
    assert 'ENTRYPOINT ["martlet"]' in text
    assert re.search(r"^RUN pip install \.", text, re.M)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} \./{package}$", text, re.M), f"image lacks {package}/"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored
