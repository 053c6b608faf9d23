"""The cluster bench through the S3 API, beside the Swift API's
(cluster_bench.py), on the same running cluster.

    .venv/bin/python bench/s3_bench.py [--endpoint URL] [--access-key K] [--secret-key S]
        [--client aiohttp|boto3] [--payload signed|unsigned] [--sizes small,medium]

PUT, GET, HEAD and DELETE of 4 KiB objects (2,000 at concurrency 32) and
1 MiB objects (300 at concurrency 16) in a fresh bucket, with the same
table as cluster_bench.py: ops/s, MB/s, p50/p99 latency and the server CPU
per operation (server_cpu.py: the `martlet dev` serving the endpoint's
port, or --server-pids).

Two load generators:

* ``aiohttp`` (default): the Swift bench's own shape (its session, phase
  runner and concurrency: ``cluster_bench.verb_phases``), each request
  signed by botocore's SigV4 signer (``botocore.auth.S3SigV4Auth`` on an
  ``AWSRequest``; an independent client implementation, none of
  martlet's code). The two benches then differ only in the API, so they
  reach like request rates on a shared machine, and the server CPU per op
  compares like with like.
* ``boto3``: boto3's client shared by a pool of threads (one connection
  per thread), as an SDK user drives it; it spends far more client CPU per
  request, so on a machine with few cores it reaches a lower rate.

Payload (``--payload``): ``signed`` (default) is what the aws CLI and boto3
send over plain HTTP: ``x-amz-content-sha256`` is the body's sha256, which
the proxy checks as the body streams; ``unsigned`` is ``UNSIGNED-PAYLOAD``
(botocore's ``payload_signing_enabled = False``), nothing to check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import aiohttp
import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

import cluster_bench
from cluster_bench import client_session, expect, size_label, verb_phases
from phase_table import Result, add_load_arguments, table
from server_cpu import cluster_roots, proxy_peak_rss, sample
from threads import in_threads

KIB, MIB = 1024, 1024 * 1024
REGION = "us-east-1"


class Signer:
    """botocore's SigV4 signer for S3, one request at a time: the headers
    to send (``Authorization``, ``X-Amz-Date``, ``X-Amz-Content-SHA256``)."""

    def __init__(self, access_key: str, secret_key: str, sign_payload: bool) -> None:
        self._auth = S3SigV4Auth(Credentials(access_key, secret_key), "s3", REGION)
        # botocore's own switch for UNSIGNED-PAYLOAD (read by S3SigV4Auth).
        self._config = Config(s3={"payload_signing_enabled": sign_payload})

    def headers(self, method: str, url: str, body: bytes | None = None) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body)
        request.context["client_config"] = self._config
        self._auth.add_auth(request)
        return dict(request.headers.items())


async def aiohttp_objects(session: aiohttp.ClientSession, signer: Signer, bucket_url: str, size: int,
                          count: int, concurrency: int) -> list[Result]:
    body = os.urandom(size)
    urls = [f"{bucket_url}/o{i:06d}" for i in range(count)]

    async def put(i: int) -> None:
        async with session.put(urls[i], data=body, headers=signer.headers("PUT", urls[i], body)) as answer:
            await expect(answer, 200)

    async def get(i: int) -> None:
        async with session.get(urls[i], headers=signer.headers("GET", urls[i])) as answer:
            await expect(answer, 200)
            got = await answer.read()
            if len(got) != size:
                raise RuntimeError(f"short read {len(got)}")

    async def head(i: int) -> None:
        async with session.head(urls[i], headers=signer.headers("HEAD", urls[i])) as answer:
            await expect(answer, 200)

    async def delete(i: int) -> None:
        async with session.delete(urls[i], headers=signer.headers("DELETE", urls[i])) as answer:
            await expect(answer, 204)

    return await verb_phases("S3 ", size, count, concurrency, put, get, head, delete)


async def run_aiohttp(args: argparse.Namespace, roots: list[int]) -> list[Result]:
    cluster_bench.SERVER_ROOTS[:] = roots
    signer = Signer(args.access_key, args.secret_key, args.payload == "signed")
    bucket_url = f"{args.endpoint.rstrip('/')}/bench-{uuid.uuid4().hex[:8]}"
    results: list[Result] = []
    async with client_session() as session:
        async with session.put(bucket_url, headers=signer.headers("PUT", bucket_url)) as answer:
            await expect(answer, 200)
        try:
            if "small" in args.sizes:
                results += await aiohttp_objects(session, signer, bucket_url, 4 * KIB, args.small_count,
                                                 args.small_concurrency)
            if "medium" in args.sizes:
                results += await aiohttp_objects(session, signer, bucket_url, MIB, args.medium_count,
                                                 args.medium_concurrency)
        finally:
            async with session.delete(bucket_url, headers=signer.headers("DELETE", bucket_url)) as answer:
                await expect(answer, 204, 404, 409)
    return results


def thread_phase(name: str, count: int, concurrency: int, size: int, one: Callable[[int], None],
                 roots: list[int]) -> Result:
    """Run ``one(i)`` for i in range(count) on ``concurrency`` threads,
    timed and charged the cluster's CPU."""
    lock = threading.Lock()
    latencies: list[float] = []

    def timed(i: int) -> None:
        started = time.perf_counter()
        one(i)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)

    before = sample(roots) if roots else None
    started = time.perf_counter()
    in_threads(count, concurrency, timed)  # a failed request fails the bench
    elapsed = time.perf_counter() - started
    cpu = None
    if before is not None:
        spent = sample(roots).minus(before)
        cpu = (spent.user, spent.system)
    return Result(name, count, elapsed, size * count, latencies, cpu)


def boto3_objects(client: Any, bucket: str, size: int, count: int, concurrency: int,
                  roots: list[int]) -> list[Result]:
    body = os.urandom(size)
    keys = [f"o{i:06d}" for i in range(count)]

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

    return [thread_phase(f"S3 {verb} {size_label(size)} x{count}/c{concurrency}", count, concurrency, moved, one,
                         roots)
            for verb, one, moved in (("PUT", put, size), ("GET", get, size), ("HEAD", head, 0),
                                     ("DELETE", delete, 0))]


def run_boto3(args: argparse.Namespace, roots: list[int]) -> list[Result]:
    pool = max(args.small_concurrency, args.medium_concurrency)
    client = boto3.client(
        "s3", endpoint_url=args.endpoint, aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key, region_name=REGION,
        config=Config(max_pool_connections=pool, retries={"max_attempts": 1},
                      s3={"addressing_style": "path", "payload_signing_enabled": args.payload == "signed"}))
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    results: list[Result] = []
    try:
        if "small" in args.sizes:
            results += boto3_objects(client, bucket, 4 * KIB, args.small_count, args.small_concurrency, roots)
        if "medium" in args.sizes:
            results += boto3_objects(client, bucket, MIB, args.medium_count, args.medium_concurrency, roots)
    finally:
        client.delete_bucket(Bucket=bucket)
    return results


def main(args: argparse.Namespace) -> None:
    port = urlparse(args.endpoint).port or 80
    roots = [int(pid) for pid in args.server_pids.split(",")] if args.server_pids else cluster_roots(port)
    if not roots:
        print("server CPU not measured: no martlet proxy on this machine serves the port (give --server-pids)")
    if args.client == "aiohttp":
        results = asyncio.run(run_aiohttp(args, roots))
    else:
        results = run_boto3(args, roots)
    print(f"client {args.client}, payload {args.payload}")
    print(table(results))
    print(f"proxy peak RSS: {proxy_peak_rss(port)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:8080")
    parser.add_argument("--access-key", default="test:tester")
    parser.add_argument("--secret-key", default="testing")
    parser.add_argument("--client", choices=("aiohttp", "boto3"), default="aiohttp",
                        help="aiohttp + botocore's signer, as cluster_bench.py drives the Swift API (default); "
                             "boto3 in a thread pool")
    parser.add_argument("--payload", choices=("signed", "unsigned"), default="signed",
                        help="x-amz-content-sha256: the body's sha256 (default, as the aws CLI over HTTP) or "
                             "UNSIGNED-PAYLOAD")
    parser.add_argument("--sizes", default="small,medium", help="which phases to run: small (4 KiB), medium (1 MiB)")
    add_load_arguments(parser)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
