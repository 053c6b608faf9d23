"""The object expirer on a dev cluster of its own (4 nodes, 3 replicas,
fsync off, the nodes' own expirers idle):

    .venv/bin/python bench/expirer_bench.py [--objects 1000] [--tasks-per-second 0]

PUTs ``--objects`` small objects without and then with ``X-Delete-After``
(concurrency 32) and prints both rates (what recording a task costs a
PUT), waits for them to expire, runs ``martlet expirer --once`` on every
node in turn and prints the objects deleted per second of those passes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ops.dev_cluster import BACKGROUND, DevSpec, create_cluster  # noqa: E402
from ops.dev_processes import DevCluster, martlet_argv  # noqa: E402

CONCURRENCY = 32
BODY = b"x" * 4096


async def put_all(url: str, token: str, container: str, count: int, headers: dict[str, str]) -> float:
    """PUT ``count`` objects; seconds taken."""
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{url}/{container}", headers={"X-Auth-Token": token}) as answer:
            assert answer.status in (201, 202), answer.status

        async def one(i: int) -> None:
            async with gate, session.put(f"{url}/{container}/o{i}", data=BODY,
                                         headers={"X-Auth-Token": token, **headers}) as answer:
                assert answer.status == 201, answer.status

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--tasks-per-second", default="0", help="[expirer] tasks_per_second for the passes")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="expirer-bench-"))
    spec = DevSpec.ephemeral(data_dir, fsync=False)
    expirer = {"interval": "86400", "tasks_per_second": args.tasks_per_second, "concurrency": "16"}
    spec = dataclasses.replace(spec, node_sections={**BACKGROUND, "expirer": expirer})
    create_cluster(spec)
    processes = DevCluster(spec)
    try:
        processes.start()
        processes.wait_ready(timeout=60)
        import requests

        auth = requests.get(spec.auth_url, headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing"},
                            timeout=10)
        url, token = auth.headers["X-Storage-Url"], auth.headers["X-Auth-Token"]
        plain = asyncio.run(put_all(url, token, "plain", args.objects, {}))
        expiring = asyncio.run(put_all(url, token, "expiring", args.objects, {"X-Delete-After": "5"}))
        # Each delete-at is at most 5 s after its PUT, so at most 5 s after
        # the phase ended (not after it began: the last PUTs came late).
        time.sleep(6.5)
        time.sleep(1.5)  # the hidden account's listing is reported after account_update_delay
        started = time.perf_counter()
        deleted = 0
        for i in range(len(spec.storage_ports)):
            subprocess.run(martlet_argv("expirer", "--once", "--config", str(spec.storage_conf(i))), check=True,
                           capture_output=True)
            deleted += json.loads((spec.devices_root(i) / "expirer.json").read_text())["deleted"]
        passes = time.perf_counter() - started
        print(f"objects                      {args.objects}")
        print(f"PUT without X-Delete-After   {args.objects / plain:8.0f} objects/s")
        print(f"PUT with X-Delete-After      {args.objects / expiring:8.0f} objects/s")
        print(f"expirer --once x4 (in turn)  {deleted} deleted in {passes:.1f} s = {deleted / passes:.0f} objects/s "
              f"(process start-up included)")
    finally:
        processes.stop()


if __name__ == "__main__":
    main()
