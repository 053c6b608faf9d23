"""The cluster bench through the S3 API (boto3), beside the Swift API's
(cluster_bench.py), on the same running cluster.

    .venv/bin/python bench/s3_bench.py [--endpoint URL] [--access-key K] [--secret-key S]

PUT, GET, HEAD and DELETE of 4 KiB objects (2,000 at concurrency 32) and
1 MiB objects (300 at concurrency 16) in a fresh bucket, with boto3's
client shared by a pool of threads (one connection per thread), and the
same table as cluster_bench.py: ops/s, MB/s, p50/p99 latency and the
server CPU per operation (server_cpu.py: the `martlet dev` serving the
endpoint's port, or --server-pids). The load generator's own CPU (boto3's
signing and parsing, which costs more client CPU than aiohttp) is not
charged: server CPU per op is the figure to compare across the two APIs.
Bodies are signed as boto3 signs them by default over plain HTTP (a
sha256 of the payload, which the proxy checks as the body streams).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from phase_table import Result, add_load_arguments, table
from server_cpu import cluster_roots, proxy_peak_rss, sample

KIB, MIB = 1024, 1024 * 1024


def run_phase(name: str, count: int, concurrency: int, size: int, one: Callable[[int], None],
              roots: list[int]) -> Result:
    """Run ``one(i)`` for i in range(count) on ``concurrency`` threads,
    timed and charged the cluster's CPU."""
    indexes = iter(range(count))
    lock = threading.Lock()
    latencies: list[float] = []

    def worker() -> None:
        while True:
            with lock:
                i = next(indexes, None)
            if i is None:
                return
            started = time.perf_counter()
            one(i)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

    before = sample(roots) if roots else None
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()  # a failed request fails the bench
    elapsed = time.perf_counter() - started
    cpu = None
    if before is not None:
        spent = sample(roots).minus(before)
        cpu = (spent.user, spent.system)
    return Result(name, count, elapsed, size * count, latencies, cpu)


def objects(client: Any, bucket: str, size: int, count: int, concurrency: int, roots: list[int]) -> list[Result]:
    body = os.urandom(size)
    keys = [f"o{i:06d}" for i in range(count)]
    label = f"{size // KIB} KiB" if size < MIB else f"{size // MIB} MiB"

    def put(i: int) -> None:
        client.put_object(Bucket=bucket, Key=keys[i], Body=body)

    def get(i: int) -> None:
        got = client.get_object(Bucket=bucket, Key=keys[i])["Body"].read()
        if len(got) != size:
            raise RuntimeError(f"short read {len(got)}")

    def head(i: int) -> None:
        client.head_object(Bucket=bucket, Key=keys[i])

    def delete(i: int) -> None:
        client.delete_object(Bucket=bucket, Key=keys[i])

    return [run_phase(f"S3 {verb} {label} x{count}/c{concurrency}", count, concurrency, moved, one, roots)
            for verb, one, moved in (("PUT", put, size), ("GET", get, size), ("HEAD", head, 0),
                                     ("DELETE", delete, 0))]


def main(args: argparse.Namespace) -> None:
    port = urlparse(args.endpoint).port or 80
    roots = [int(pid) for pid in args.server_pids.split(",")] if args.server_pids else cluster_roots(port)
    if not roots:
        print("server CPU not measured: no martlet proxy on this machine serves the port (give --server-pids)")
    pool = max(args.small_concurrency, args.medium_concurrency)
    client = boto3.client(
        "s3", endpoint_url=args.endpoint, aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key, region_name="us-east-1",
        config=Config(max_pool_connections=pool, retries={"max_attempts": 1},
                      s3={"addressing_style": "path"}))
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    results: list[Result] = []
    try:
        if "small" in args.sizes:
            results += objects(client, bucket, 4 * KIB, args.small_count, args.small_concurrency, roots)
        if "medium" in args.sizes:
            results += objects(client, bucket, MIB, args.medium_count, args.medium_concurrency, roots)
    finally:
        client.delete_bucket(Bucket=bucket)
    print(table(results))
    print(f"proxy peak RSS: {proxy_peak_rss(port)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:8080")
    parser.add_argument("--access-key", default="test:tester")
    parser.add_argument("--secret-key", default="testing")
    parser.add_argument("--sizes", default="small,medium", help="which phases to run: small (4 KiB), medium (1 MiB)")
    add_load_arguments(parser)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
