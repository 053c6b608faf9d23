"""``make compose-test``'s scenario: the compose cluster driven the way
docs/operations.md tells an operator to, with python-swiftclient through
the published port. tests/compose/run.sh runs it in a throw-away copy of
the checkout (the working directory), under a unique
``COMPOSE_PROJECT_NAME`` and a free ``MARTLET_PORT``, and removes every
container, network and volume afterwards.

``BLOCKS`` are the shell blocks of docs/operations.md, verbatim
(tests/unit/test_operations_doc.py keeps the two the same); each runs with
bash in the working directory, with ``127.0.0.1:8080`` meaning the proxy's
published port. Between them, the checks:

- auth, a 20 MB file uploaded as SLO segments, downloaded whole, listed;
- one storage node stopped: reads and writes still succeed (quorum);
- started again, the replicators bring every node in step: each node
  holds exactly the objects the ring places on it (bounded wait);
- a fifth node added, the rings rebalanced: in step again, with the
  objects on their new primaries and nowhere else;
- rolling restart, disk replacement (the disk refilled), backup, metrics.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swiftclient import client as swift_client

from martlet.hashing import HashSection, hash_path
from ops.main import NODE_DAEMONS
from ring import load_ring

PORT = os.environ.get("MARTLET_PORT", "8080")
AUTH_URL = f"http://127.0.0.1:{PORT}/auth/v1.0"
ACCOUNT = "AUTH_test"
BIG = 20 * 1024 * 1024
SEGMENT = 4 * 1024 * 1024
IN_STEP_TIMEOUT = float(os.environ.get("COMPOSE_TEST_IN_STEP_TIMEOUT", "420"))

BLOCKS: dict[str, str] = {
    "start": """\
docker compose up -d --build --wait
KEY=$(sed -n 's/^MARTLET_KEY_TEST_TESTER=//p' .env)
swift -A http://127.0.0.1:8080/auth/v1.0 -U test:tester -K "$KEY" stat
docker compose ps""",
    "node-down": "docker compose stop storage2",
    "node-up": "docker compose up -d --wait --no-deps storage2",
    "status": "docker compose exec storage1 martlet status --config /etc/martlet/martlet.conf",
    "health": "docker compose exec storage1 martlet healthcheck --config /etc/martlet/storage1.conf",
    "metrics": "curl -s http://127.0.0.1:8080/metrics | grep '^martlet_http_requests_total'",
    "add-node": """\
cp etc/docker-compose.storage5.yml docker-compose.override.yml
docker compose up -d --wait""",
    "rebalance": """\
docker compose run --rm --entrypoint sh ring-init -c '
  for kind in account container object; do
    martlet ring /etc/martlet/$kind.builder add r1z5-storage5:6200/disk 100
    martlet ring /etc/martlet/$kind.builder rebalance
  done'""",
    "young-ring": """\
docker compose run --rm --entrypoint sh ring-init -c '
  for kind in account container object; do
    martlet ring /etc/martlet/$kind.builder pretend-min-part-hours-passed
  done'""",
    "build": "docker compose build",
    "rolling": """\
for service in storage1 storage2 storage3 storage4 storage5 proxy; do
  docker compose up -d --wait --no-deps --force-recreate $service
done""",
    "replace-disk": """\
docker compose stop storage3
docker compose rm -f storage3
docker volume rm "${COMPOSE_PROJECT_NAME}_d3"
docker compose up -d --wait --no-deps storage3""",
    "backup": """\
docker compose run --rm --no-deps --user "$(id -u):$(id -g)" --entrypoint tar ring-init \\
  czf /project/martlet-backup-$(date +%Y%m%d-%H%M%S).tgz -C / etc/martlet project/.env""",
    "down": "docker compose down -v",
}


def log(message: str) -> None:
    print(f"[compose-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def sh(name: str, timeout: float = 900) -> str:
    """Run block ``name`` (echoed), fail on a non-zero exit; its stdout."""
    script = BLOCKS[name].replace("127.0.0.1:8080", f"127.0.0.1:{PORT}")
    log(f"$ {BLOCKS[name]}")
    started = time.monotonic()
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                          timeout=timeout)
    sys.stdout.write(done.stdout[-4000:])
    if done.returncode != 0:
        sys.stdout.write(done.stderr[-4000:])
        raise SystemExit(f"compose-test: block {name!r} failed with {done.returncode}")
    log(f"  ({name}: {time.monotonic() - started:.0f}s)")
    return done.stdout


def compose(*args: str, timeout: float = 300) -> str:
    done = subprocess.run(["docker", "compose", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"docker compose {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def env_file() -> dict[str, str]:
    values = {}
    for line in Path(".env").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def connection() -> swift_client.Connection:
    key = env_file()["MARTLET_KEY_TEST_TESTER"]
    return swift_client.Connection(authurl=AUTH_URL, user="test:tester", key=key, retries=2, timeout=60)


def swift(*args: str) -> str:
    key = env_file()["MARTLET_KEY_TEST_TESTER"]
    done = subprocess.run(["swift", "-A", AUTH_URL, "-U", "test:tester", "-K", key, *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"swift {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def upload_big(name: str, size: int) -> str:
    """A file of ``size`` random bytes uploaded as SLO segments; its md5."""
    path = Path(f"{name}.upload")
    with open(path, "wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(os.urandom(1 << 20))
    swift("upload", "--use-slo", "--segment-size", str(SEGMENT), "--object-name", name, "photos", str(path))
    digest = md5_of(path)
    path.unlink()
    return digest


def download_md5(name: str) -> str:
    out = Path(f"{name}.download")
    swift("download", "photos", name, "--output", str(out))
    digest = md5_of(out)
    out.unlink()
    return digest


# -- where objects are, and where the ring says they must be ---------------------------
def all_objects(conn: swift_client.Connection) -> list[tuple[str, str]]:
    _, containers = conn.get_account(full_listing=True)
    return [(c["name"], o["name"]) for c in containers
            for o in conn.get_container(c["name"], full_listing=True)[1]]


def expected_placement(conn: swift_client.Connection) -> dict[str, set[str]]:
    """Storage service -> hashes of the objects the current object ring puts on it."""
    compose("cp", "storage1:/etc/martlet/object.ring", "object.ring.copy")
    env = env_file()
    settings = HashSection(env.get("MARTLET_HASH_PATH_PREFIX", ""), env["MARTLET_HASH_PATH_SUFFIX"])
    ring = load_ring("object.ring.copy", settings)
    placement: dict[str, set[str]] = {d.ip: set() for d in ring.devices if d is not None}
    for container, obj in all_objects(conn):
        for node in ring.get_nodes(ACCOUNT, container, obj)[1]:
            placement[node.ip].add(hash_path(ACCOUNT, container, obj, settings=settings))
    return placement


def held(service: str) -> set[str]:
    """Hashes of the objects with a .data file on the service's disk."""
    # A disk that never held an object has no objects/ yet.
    out = compose("exec", "-T", service, "sh", "-c",
                  "cd /srv/node/disk && if [ -d objects ]; then find objects -name '*.data'; fi")
    return {Path(line).parent.name for line in out.split()}


def wait_in_step(conn: swift_client.Connection, what: str) -> None:
    """Until every node holds exactly what the ring places on it. Where
    the ring places objects is worked out anew each round: a listing read
    from a container replica that has just come back may not yet name the
    objects written while it was away (its rows arrive by the updater and
    database replication, like the objects themselves)."""
    started = time.monotonic()
    while True:
        expected = expected_placement(conn)
        differ = {s: (len(held(s)), len(want)) for s, want in expected.items() if held(s) != want}
        if not differ:
            counts = ", ".join(f"{s} {len(v)}" for s, v in sorted(expected.items()))
            log(f"in step after {what} ({time.monotonic() - started:.0f}s): objects per node {counts}")
            return
        if time.monotonic() - started > IN_STEP_TIMEOUT:
            raise SystemExit(f"compose-test: not in step {IN_STEP_TIMEOUT:.0f}s after {what}: "
                             f"(held, expected) per node {differ}")
        time.sleep(5)


def timed(step: str, action: Callable[[], Any]) -> Any:
    started = time.monotonic()
    result = action()
    log(f"{step}: {time.monotonic() - started:.0f}s")
    return result


def main() -> None:
    began = time.monotonic()
    timed("up", lambda: sh("start"))
    conn = connection()
    conn.put_container("photos")
    big = timed("20 MB upload as SLO", lambda: upload_big("big.bin", BIG))
    assert download_md5("big.bin") == big
    assert [o["name"] for o in conn.get_container("photos")[1]] == ["big.bin"]
    segments = conn.get_container("photos_segments", full_listing=True)[1]
    assert len(segments) == BIG // SEGMENT, segments
    log(f"big.bin: {BIG} bytes in {len(segments)} segments, downloaded whole")

    sh("node-down")
    assert download_md5("big.bin") == big
    for i in range(20):
        conn.put_object("photos", f"while-down/{i}", f"written while storage2 was down {i}".encode())
    small = upload_big("while-down.bin", 8 * 1024 * 1024)
    assert download_md5("while-down.bin") == small
    assert len(conn.get_container("photos", prefix="while-down")[1]) == 21
    log("storage2 down: reads and writes succeeded")
    sh("node-up")
    timed("storage2 back in step", lambda: wait_in_step(conn, "storage2 came back"))

    assert "storage nodes: 4/4 reachable" in sh("status")
    assert sh("health").count(": running") == len(NODE_DAEMONS)  # every daemon of a node
    assert "martlet_http_requests_total" in sh("metrics")

    sh("add-node")
    sh("young-ring")  # the rings were made minutes ago: min_part_hours would hold every partition
    sh("rebalance")
    timed("data moved to storage5", lambda: wait_in_step(conn, "adding storage5"))

    sh("build")
    timed("rolling restart", lambda: sh("rolling"))
    assert download_md5("big.bin") == big

    sh("replace-disk")
    timed("storage3's new disk refilled", lambda: wait_in_step(conn, "replacing storage3's disk"))
    assert download_md5("while-down.bin") == small

    sh("backup")
    (backup,) = Path(".").glob("martlet-backup-*.tgz")
    with tarfile.open(backup) as archive:
        names = set(archive.getnames())
    assert {"etc/martlet/martlet.conf", "etc/martlet/object.builder", "project/.env"} <= names, names

    sh("down")
    log(f"scenario passed in {time.monotonic() - began:.0f}s")


if __name__ == "__main__":
    main()
