"""S3 key pairs: [auth] users as Swift's s3api with tempauth has them,
and [s3api] access_ lines (read and checked by proxy.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from martlet.config import ConfigFile
from martlet.errors import ConfigError
from proxy.auth import User
from proxy.config import S3apiSection, feature_sections, s3_access_keys
from proxy.s3api.credentials import S3Credential, find_credential

USERS = {"test:tester": User("test", "tester", "testing", frozenset({".admin"}))}


def _keys(tmp_path: Path, text: str) -> dict[str, tuple[str, str]]:
    conf = tmp_path / "proxy.conf"
    conf.write_text(text)
    return s3_access_keys(ConfigFile(conf), USERS)


def test_access_lines(tmp_path: Path) -> None:
    text = "[s3api]\nenabled = true\naccess_AKIAEXAMPLE = test:tester S3cr3t/Key\nstorage_domain = s3.example.com, s3.local\n"
    keys = _keys(tmp_path, text)
    assert keys == {"akiaexample": ("test:tester", "S3cr3t/Key")}
    section = feature_sections(ConfigFile(tmp_path / "proxy.conf")).s3api
    assert section == S3apiSection(enabled=True, storage_domain=("s3.example.com", "s3.local"))
    assert find_credential("AKIAEXAMPLE", USERS, keys) == S3Credential("AKIAEXAMPLE", "test:tester", "S3cr3t/Key")
    assert find_credential("test:tester", USERS, keys) == S3Credential("test:tester", "test:tester", "testing")
    assert find_credential("nobody", USERS, keys) is None


@pytest.mark.parametrize("line", ["access_k = test:tester", "access_k = nobody:here secret", "access_ = test:tester s"])
def test_bad_access_lines(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError):
        _keys(tmp_path, f"[s3api]\n{line}\n")
