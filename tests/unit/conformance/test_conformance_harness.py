"""The conformance harness's pure parts (``conformance/``): the suite's
test.conf, the users it asks the proxy for, and the table it prints. The
users are checked with the proxy's own ``[auth]`` parser, so a change to how
proxy.conf declares users breaks this test rather than a CI run."""

from __future__ import annotations

import configparser
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from proxy.auth import parse_users

HARNESS = Path(__file__).resolve().parents[3] / "conformance"


def load(name: str) -> ModuleType:
    """The harness's scripts are not a package (they run with the suite's
    own Python), so they are loaded from their files."""
    spec = importlib.util.spec_from_file_location(f"conformance_{name}", HARNESS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


suite_config = load("suite_config")
report = load("report")


def test_conf_names_every_user_the_suite_reads() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(suite_config.render_test_conf("http://127.0.0.1:1/auth/v1.0"))
    conf = parser["func_test"]
    assert conf["auth_uri"] == "http://127.0.0.1:1/auth/v1.0"
    assert (conf["account"], conf["username"], conf["password"]) == ("test", "tester", "testing")
    assert (conf["account2"], conf["username2"]) == ("test2", "tester2")
    # tester3 shares the first account, so test.conf has no account3.
    assert conf["username3"] == "tester3" and "account3" not in conf
    assert (conf["account5"], conf["account6"], conf["username6"]) == ("test5", "admin", "admin")
    assert conf["service_prefix"] == "SERVICE"


def test_patched_proxy_conf_declares_the_users_as_the_proxy_reads_them(tmp_path: Path) -> None:
    original = tmp_path / "proxy.conf"
    original.write_text("[proxy]\nbind_port = 8080\ncluster_conf = martlet.conf\n"
                        "[auth]\nuser_test_tester2 = testing2\nuser_other_one = key\n")
    patched = suite_config.patched_proxy_conf(original, 9999)
    assert patched.get("proxy", "bind_port") == "9999"
    assert patched.get("proxy", "cluster_conf") == "martlet.conf"
    users = parse_users(dict(patched.items("auth")))
    assert users["other:one"].key == "key"  # the cluster's own users stay
    assert users["test:tester2"].groups == frozenset({".admin"})
    assert users["test:tester3"].groups == frozenset()
    assert users["admin:admin"].groups == frozenset({".admin", ".reseller_admin"})
    assert suite_config.differences(dict(patched.items("auth"))) == []


def test_differences_name_missing_users_and_wrong_roles() -> None:
    auth = {user.option: user.value for user in suite_config.USERS}
    auth["user_test_tester3"] = "testing3 .admin"
    del auth["user_test5_tester5"]
    assert suite_config.differences(auth) == [
        "test:tester3 is 'testing3 .admin', the suite needs 'testing3'",
        "test5:tester5 missing",
    ]


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="4" time="2.5">
<testcase classname="test.functional.tests.TestFile" name="testCopy" time="0.1"/>
<testcase classname="test.functional.tests.TestFile" name="testRange" time="0.1">
  <failure message="AssertionError: 404 != 412">long traceback</failure></testcase>
<testcase classname="test.functional.tests.TestFile" name="testAcl" time="0.0">
  <skipped type="pytest.skip" message="Requires account ACLs">skip</skipped></testcase>
<testcase classname="test.functional.tests.TestFile" name="testOther" time="0.1"/>
</testsuite></testsuites>
"""


def test_table_counts_outcomes_and_fails_on_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "tests.xml").write_text(JUNIT)
    (tmp_path / "test_slo.rc").write_text("124\n")
    results = [report.read_result(tmp_path, "tests.py"), report.read_result(tmp_path, "test_slo.py")]
    assert (results[0].passed, results[0].failed, results[0].skipped, results[0].errors) == (2, 1, 1, 0)
    assert (results[1].errors, results[1].note) == (1, "TIMEOUT")
    table = report.render_table(results)
    assert table.splitlines()[-1] == "conformance: 2 passed, 2 failed, 1 skipped"
    assert report.main(["table", str(tmp_path), "tests.py"]) == 1


def test_details_list_what_did_not_pass(tmp_path: Path) -> None:
    (tmp_path / "tests.xml").write_text(JUNIT)
    items = report.not_passed(tmp_path, "tests.py")
    assert [(i.outcome, i.test_id, i.message) for i in items] == [
        ("failure", "tests.py::TestFile::testRange", "AssertionError: 404 != 412"),
        ("skipped", "tests.py::TestFile::testAcl", "Requires account ACLs"),
    ]


def test_conf_gives_s3api_the_keys_of_three_users() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(suite_config.render_test_conf("http://127.0.0.1:1/auth/v1.0"))
    conf = parser["func_test"]
    assert conf["s3_storage_url"] == "http://127.0.0.1:1"
    assert (conf["s3_access_key"], conf["s3_secret_key"]) == ("test:tester", "testing")
    assert (conf["s3_access_key2"], conf["s3_secret_key2"]) == ("test:tester2", "testing2")
    assert (conf["s3_access_key3"], conf["s3_secret_key3"]) == ("test:tester3", "testing3")


def test_s3api_files_have_results_apart_from_the_swift_files_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "s3api_test_object.xml").write_text(JUNIT)
    assert report.result_name("s3api/test_object.py") == "s3api_test_object"
    assert report.read_result(tmp_path, "s3api/test_object.py").passed == 2
    assert report.read_result(tmp_path, "test_object.py").errors == 1  # no XML of its own
