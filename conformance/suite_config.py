"""What Swift's functional suite needs from the cluster it tests: its users
and its ``test.conf``. One table of users feeds both, so the file the suite
reads and the accounts the proxy knows cannot drift apart.

Swift's suite (``test/functional/__init__.py``) logs in as up to six users
with v1 auth and skips whole groups of tests when one is missing from
``test.conf``; a user in ``test.conf`` that the proxy does not know fails
those tests instead. The roles matter as much as the names: ``tester3`` must
have *no* role (it tests ACLs from outside), ``admin`` must be a reseller
admin.

Subcommands, used by ``conformance/run.sh`` (stdlib only, so any Python 3
runs it):

- ``test-conf AUTH_URL OUT``: write the suite's ``test.conf``.
- ``check PROXY_CONF``: exit 0 when the proxy.conf declares every user with
  the expected key and roles, 1 (listing what differs) otherwise.
- ``patch PROXY_CONF OUT PORT``: a copy of PROXY_CONF listening on PORT whose
  ``[auth]`` also declares the suite's users; ``run.sh`` starts a second
  proxy on it while ``martlet dev`` does not create these users itself
  (``martlet dev`` rewrites its own proxy.conf on every start, so editing
  that file in place would not survive).
- ``verify AUTH_URL``: exit 0 when every user gets a token and the first
  user's account answers a HEAD (storage is up), 1 otherwise.
"""

from __future__ import annotations

import configparser
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SuiteUser:
    """One user of the suite: its test.conf keys and its proxy.conf line."""

    # "" for test.conf's account/username/password, "2" for account2/...;
    # None: not in test.conf (the proxy declares it all the same).
    conf_suffix: str | None
    account: str
    user: str
    key: str
    roles: tuple[str, ...]  # its groups: .admin, .reseller_admin, service

    @property
    def option(self) -> str:
        """The proxy.conf [auth] option: ``user_<account>_<user>``."""
        return f"user_{self.account}_{self.user}"

    @property
    def value(self) -> str:
        return " ".join((self.key, *self.roles))


# As in Swift's sample test.conf and SAIO proxy-server.conf (tester5 is in
# the "service" group, which the SERVICE_ accounts require: RESELLERS).
USERS = (
    SuiteUser("", "test", "tester", "testing", (".admin",)),
    SuiteUser("2", "test2", "tester2", "testing2", (".admin",)),
    SuiteUser("3", "test", "tester3", "testing3", ()),
    SuiteUser("5", "test5", "tester5", "testing5", ("service",)),
    SuiteUser("6", "admin", "admin", "admin", (".admin", ".reseller_admin")),
    # Not in test.conf; SAIO has it and some feature files log in as it.
    SuiteUser(None, "test", "tester2", "testing2", (".admin",)),
)
# The users that s3api's tests sign as, by test.conf suffix (s3_access_key,
# s3_access_key2, s3_access_key3), as in Swift's sample test.conf: the
# second is test:tester2 (same account, another admin), not test2:tester2.
S3_USERS = (("", "test:tester"), ("2", "test:tester2"), ("3", "test:tester3"))
# The suite turns on its service-token tests only when this is set, as on
# the Swift cluster whose results are the target.
SERVICE_PREFIX = "SERVICE"
# The [auth] keys that make SERVICE_ accounts need a service token.
RESELLERS = {"reseller_prefix": "AUTH, SERVICE", f"{SERVICE_PREFIX}_require_group": "service"}


def render_test_conf(auth_url: str) -> str:
    """The ``[func_test]`` section of Swift's sample test.conf for our users,
    with the S3 keys Swift's ``test/functional/s3api`` signs with (s3api +
    tempauth: access key ``<account>:<user>``, secret = its key; without
    them that suite skips everything)."""
    lines = ["[func_test]", f"auth_uri = {auth_url}", "auth_version = 1"]
    lines.append(f"s3_storage_url = {auth_url.split('/auth/', 1)[0]}")
    for suffix, name in S3_USERS:
        user = next(u for u in USERS if f"{u.account}:{u.user}" == name)
        lines += [
            f"s3_access_key{suffix} = {user.account}:{user.user}",
            f"s3_secret_key{suffix} = {user.key}",
        ]
    for user in USERS:
        suffix = user.conf_suffix
        if suffix is None:
            continue
        if suffix != "3":  # tester3 shares the first user's account
            lines.append(f"account{suffix} = {user.account}")
        lines += [f"username{suffix} = {user.user}", f"password{suffix} = {user.key}"]
    lines += [
        f"service_prefix = {SERVICE_PREFIX}",
        "collate = C",
        "insecure = no",
        "storage_domain =",
        "",
        "[unit_test]",
        "fake_syslog = False",
        "",
    ]
    return "\n".join(lines)


def differences(auth_section: dict[str, str]) -> list[str]:
    """What the proxy.conf [auth] section lacks, one line per user."""
    problems = []
    for user in USERS:
        declared = auth_section.get(user.option)
        if declared is None:
            problems.append(f"{user.account}:{user.user} missing")
            continue
        words = declared.split()
        if words[:1] != [user.key] or sorted(words[1:]) != sorted(user.roles):
            problems.append(f"{user.account}:{user.user} is {declared!r}, the suite needs {user.value!r}")
    return problems


def read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as handle:
        parser.read_file(handle)
    return parser


def patched_proxy_conf(proxy_conf: Path, port: int) -> configparser.ConfigParser:
    """PROXY_CONF on another port, with every suite user declared. Relative
    paths in it (cluster_conf) stay valid when the copy sits beside it."""
    parser = read_ini(proxy_conf)
    parser.set("proxy", "bind_port", str(port))
    if not parser.has_section("auth"):
        parser.add_section("auth")
    for user in USERS:
        parser.set("auth", user.option, user.value)
    for key, value in RESELLERS.items():
        parser.set("auth", key, value)
    return parser


def log_in(auth_url: str, user: SuiteUser, timeout: float = 10.0) -> tuple[str, str] | None:
    """(token, storage URL) for ``user``, or None when the proxy refuses it."""
    request = urllib.request.Request(
        auth_url, headers={"X-Auth-User": f"{user.account}:{user.user}", "X-Auth-Key": user.key}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            token, url = answer.headers.get("X-Auth-Token"), answer.headers.get("X-Storage-Url")
    except urllib.error.HTTPError:
        return None
    return (str(token), str(url)) if token and url else None


def wait_for_account(token: str, storage_url: str, seconds: float) -> bool:
    """Until a HEAD of the account succeeds: tokens come from the proxy alone,
    so a 2xx here is what shows the storage daemons behind it answer too."""
    deadline = time.monotonic() + seconds
    while True:
        request = urllib.request.Request(storage_url, method="HEAD", headers={"X-Auth-Token": token})
        try:
            with urllib.request.urlopen(request, timeout=5.0):
                return True
        except OSError:  # URLError and HTTPError (503 while storage starts)
            if time.monotonic() > deadline:
                return False
        time.sleep(0.5)


def verify(auth_url: str, seconds: float = 60.0) -> list[str]:
    """What keeps the suite from starting: users refused, or an account that
    does not answer within ``seconds``."""
    logins = {f"{u.account}:{u.user}": log_in(auth_url, u) for u in USERS}
    problems = [f"no token for {name} at {auth_url}" for name, got in logins.items() if got is None]
    first = logins[f"{USERS[0].account}:{USERS[0].user}"]
    if first is not None and not wait_for_account(*first, seconds):
        problems.append(f"HEAD {first[1]} did not succeed within {seconds:.0f}s")
    return problems


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "test-conf" and len(args) == 2:
        Path(args[1]).write_text(render_test_conf(args[0]), encoding="utf-8")
        return 0
    if command == "check" and len(args) == 1:
        parser = read_ini(Path(args[0]))
        problems = differences(dict(parser.items("auth")) if parser.has_section("auth") else {})
        for problem in problems:
            print(f"  {problem}")
        return 1 if problems else 0
    if command == "patch" and len(args) == 3:
        with open(args[1], "w", encoding="utf-8") as handle:
            patched_proxy_conf(Path(args[0]), int(args[2])).write(handle)
        return 0
    if command == "verify" and len(args) == 1:
        problems = verify(args[0])
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
