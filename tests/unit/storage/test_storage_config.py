from pathlib import Path

import pytest

from martlet.cluster import load_cluster_config
from storage.config import StorageConfig, StorageSection, load_storage_config
from storage.container_server import ContainerServerSection


def test_other_sections_come_from_the_parsed_file(tmp_path: Path) -> None:
    conf = tmp_path / "storage.conf"
    conf.write_text(
        f"[storage]\ndevices = {tmp_path}\ncluster_conf =\n[container-server]\naccount_update_delay = 7.5\n"
    )
    config = load_storage_config(conf)
    conf.unlink()  # parsed once: nothing reads the file again
    assert config.section("container-server", ContainerServerSection).account_update_delay == 7.5


def test_a_config_built_in_code_takes_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = StorageConfig(StorageSection(), load_cluster_config(None))
    assert config.section("container-server", ContainerServerSection).account_update_delay == 1.0
    monkeypatch.setenv("MARTLET_CONTAINER_SERVER_ACCOUNT_UPDATE_DELAY", "0.25")
    assert config.section("container-server", ContainerServerSection).account_update_delay == 0.25
