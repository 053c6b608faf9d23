from dataclasses import dataclass, field
from pathlib import Path

import pytest

from martlet.config import is_true, load_config, resolve_relative
from martlet.errors import ConfigError


@dataclass(frozen=True)
class Sample:
    name: str = "default"
    port: int = field(default=6200, metadata={"min": 1})
    ratio: float = 0.5
    fsync: bool = True
    devices: tuple[str, ...] = ()
    mode: str = field(default="a", metadata={"choices": ("a", "b")})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sample.conf"
    path.write_text(text)
    return path


def test_defaults_without_section(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[other]\nx = 1\n"), environ={})
    assert cfg.section("sample", Sample) == Sample()


def test_typed_values(tmp_path: Path) -> None:
    text = "[sample]\nname = n\nport = 7000\nratio = 1.5\nfsync = off\ndevices = d1, d2 ,\nmode = b\n"
    cfg = load_config(write(tmp_path, text), environ={})
    assert cfg.section("sample", Sample) == Sample("n", 7000, 1.5, False, ("d1", "d2"), "b")


def test_environment_overrides_one_key(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[sample]\nport = 7000\n"), environ={"MARTLET_SAMPLE_PORT": "8000"})
    section = cfg.section("sample", Sample)
    assert section.port == 8000
    assert section.name == "default"


def test_one_value_without_a_section_class(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[sample]\nport = 7000\n"), environ={"MARTLET_SAMPLE_NAME": "env"})
    assert (cfg.value("sample", "port"), cfg.value("sample", "name"), cfg.value("sample", "ratio")) == (
        "7000", "env", None)


def test_environment_override_without_file() -> None:
    cfg = load_config(None, environ={"MARTLET_SAMPLE_FSYNC": "no"})
    assert cfg.section("sample", Sample).fsync is False


@pytest.mark.parametrize(
    "text, words",
    [
        ("[sample]\nport = many\n", ["sample.conf", "[sample]", "port", "many"]),
        ("[sample]\nport = 0\n", ["[sample]", "port", "at least 1"]),
        ("[sample]\nfsync = maybe\n", ["fsync", "maybe"]),
        ("[sample]\nmode = c\n", ["mode", "one of a, b"]),
    ],
)
def test_bad_values_name_file_section_and_key(tmp_path: Path, text: str, words: list[str]) -> None:
    cfg = load_config(write(tmp_path, text), environ={})
    with pytest.raises(ConfigError) as info:
        cfg.section("sample", Sample)
    for word in words:
        assert word in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.conf")
    with pytest.raises(ConfigError, match="malformed"):
        load_config(write(tmp_path, "no section header\n"))


def test_relative_paths_resolve_beside_the_file(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[sample]\n"), environ={})
    assert resolve_relative(cfg, "rings") == tmp_path.resolve() / "rings"
    assert resolve_relative(cfg, "/abs") == Path("/abs")


def test_cluster_config_ring_dir_defaults_to_its_folder(tmp_path: Path) -> None:
    from martlet.cluster import load_cluster_config

    path = tmp_path / "martlet.conf"
    path.write_text("[hash]\npath_suffix = s3cret\n[cluster]\nsecret = k\n")
    cluster = load_cluster_config(path)
    assert cluster.hash.path_suffix == "s3cret"
    assert cluster.secret == "k"
    assert cluster.ring_path("object") == tmp_path.resolve() / "object.ring"
    with pytest.raises(ValueError):
        cluster.ring_path("bogus")


def test_is_true_reads_as_swift_config_true_value():
    assert all(is_true(word) for word in ("true", " Yes ", "1", "on", "T", "y"))
    assert not any(is_true(word) for word in ("false", "no", "0", "maybe", "", None))
