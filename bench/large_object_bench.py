"""Large objects through the proxy: throughput and the proxy's memory.

    .venv/bin/python bench/large_object_bench.py [--size-gib 2] [--segment-mib 256] [--beyond-5gib]

Starts its own cluster (the same code as ``martlet dev``, ephemeral ports,
fsync off) in a temporary folder, uploads ``--size-gib`` of segments plus
an SLO manifest, then GETs the manifest as one object and checks its md5.
Prints MB/s per phase and the proxy's peak RSS (VmHWM) during the GET; the
peak is reset (``/proc/<pid>/clear_refs``) before the GET so the upload
does not count.

``--beyond-5gib`` also shows the real limit: a plain PUT of 5 GiB + 1 MiB
answers 413, and the same bytes (a sparse file, streamed from disk, never
held in memory) uploaded as 1 GiB segments plus a manifest read back with
the same md5. It writes 3 x 5 GiB to disk and takes minutes on 2 cores,
which is why it is a bench and not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.cluster.cluster_harness import RunningCluster, start_cluster  # noqa: E402

MIB, GIB = 1 << 20, 1 << 30
CHUNK = 4 * MIB


def proxy_pid(cluster: RunningCluster) -> int:
    """The pid of this cluster's ``martlet proxy`` (its config is in the data dir)."""
    data_dir = str(cluster.spec.data_dir)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            words = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "proxy" in words and any(w.startswith(data_dir) for w in words):
            return int(proc.name)
    raise RuntimeError("proxy process not found")


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # Linux: reset VmHWM to the current RSS


def pattern_chunks(size: int, seed: bytes) -> Iterator[bytes]:
    """Cheap non-constant bytes: a 4 MiB random block repeated."""
    block = hashlib.shake_256(seed).digest(CHUNK)
    left = size
    while left > 0:
        yield block[:min(left, CHUNK)]
        left -= CHUNK


def file_chunks(path: Path, first: int, size: int) -> Iterator[bytes]:
    with path.open("rb") as src:
        src.seek(first)
        left = size
        while left > 0:
            chunk = src.read(min(left, CHUNK))
            if not chunk:
                raise RuntimeError("source file ended early")
            left -= len(chunk)
            yield chunk


class Sized:
    """An iterable body of known length: requests then sends Content-Length
    and streams it (a bare generator would go chunked)."""

    def __init__(self, chunks: Iterator[bytes], size: int) -> None:
        self.chunks, self.size = chunks, size

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def __len__(self) -> int:
        return self.size


def put_segments(api: tuple[str, dict[str, str]], container: str, sizes: list[int],
                 make_chunks) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    url, headers = api
    requests.put(f"{url}/{container}", headers=headers, timeout=30).raise_for_status()
    manifest = []
    for index, size in enumerate(sizes):
        digest = hashlib.md5()

        def body(index: int = index, size: int = size) -> Iterator[bytes]:
            for chunk in make_chunks(index, size):
                digest.update(chunk)
                yield chunk

        name = f"seg/{index:05d}"
        answer = requests.put(f"{url}/{container}/{name}", data=Sized(body(), size), headers=headers,
                              timeout=600)
        answer.raise_for_status()
        assert answer.headers["ETag"].strip('"') == digest.hexdigest()
        manifest.append({"path": f"/{container}/{name}", "etag": digest.hexdigest(), "size_bytes": size})
    return manifest


def get_md5(url: str, headers: dict[str, str]) -> tuple[str, int, float]:
    digest, total = hashlib.md5(), 0
    started = time.perf_counter()
    with requests.get(url, headers=headers, stream=True, timeout=600) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(CHUNK):
            digest.update(chunk)
            total += len(chunk)
    return digest.hexdigest(), total, time.perf_counter() - started


def row(phase: str, size: int, seconds: float, extra: str = "") -> None:
    print(f"{phase:<34} {size / MIB:>10.0f} {seconds:>9.1f} {size / seconds / 1e6:>9.1f}  {extra}")


def get_and_check(cluster: RunningCluster, url: str, headers: dict[str, str], size: int,
                  chunks: Iterator[bytes], phase: str) -> None:
    """GET ``url`` as one object, check its length and md5 against ``chunks``
    (the bytes uploaded), and print its row with the proxy's peak RSS
    during the GET alone."""
    expected = hashlib.md5()
    for chunk in chunks:
        expected.update(chunk)
    pid = proxy_pid(cluster)
    reset_peak(pid)
    digest, total, seconds = get_md5(url, headers)
    assert total == size and digest == expected.hexdigest(), f"{phase}: other bytes came back"
    row(phase, size, seconds, f"proxy peak RSS {vm_hwm_mib(pid):.1f} MiB")


def slo_get(cluster: RunningCluster, size: int, segment: int) -> None:
    url, token = cluster.auth()
    api = (url, {"X-Auth-Token": token})
    sizes = [segment] * (size // segment) + ([size % segment] if size % segment else [])
    started = time.perf_counter()
    manifest = put_segments(api, "bench_segs", sizes, lambda i, n: pattern_chunks(n, b"seg%d" % i))
    row(f"PUT {len(sizes)} segments", size, time.perf_counter() - started)
    requests.put(f"{url}/bench", headers=api[1], timeout=30).raise_for_status()
    requests.put(f"{url}/bench/big?multipart-manifest=put", data=json.dumps(manifest),
                 headers=api[1], timeout=60).raise_for_status()
    uploaded = (chunk for index, n in enumerate(sizes) for chunk in pattern_chunks(n, b"seg%d" % index))
    get_and_check(cluster, f"{url}/bench/big", api[1], size, uploaded, "GET SLO manifest (md5 checked)")


def beyond_5gib(cluster: RunningCluster, workdir: Path) -> None:
    url, token = cluster.auth()
    api = (url, {"X-Auth-Token": token})
    size = 5 * GIB + MIB
    source = workdir / "sparse.bin"
    with source.open("wb") as sparse:
        sparse.truncate(size)  # holes: no disk, reads as zeros
    requests.put(f"{url}/huge", headers=api[1], timeout=30).raise_for_status()
    # The proxy refuses on the declared length, before any body byte: send none.
    plain = requests.put(f"{url}/huge/plain", data=Sized(iter(()), size), headers=api[1], timeout=60)
    print(f"plain PUT of {size} bytes -> {plain.status_code}")
    assert plain.status_code == 413
    sizes = [GIB] * 5 + [MIB]
    offsets = [i * GIB for i in range(len(sizes))]
    started = time.perf_counter()
    manifest = put_segments(api, "huge_segs", sizes, lambda i, n: file_chunks(source, offsets[i], n))
    row(f"PUT {len(sizes)} segments (sparse src)", size, time.perf_counter() - started)
    requests.put(f"{url}/huge/big?multipart-manifest=put", data=json.dumps(manifest),
                 headers=api[1], timeout=60).raise_for_status()
    head = requests.head(f"{url}/huge/big", headers=api[1], timeout=30)
    assert int(head.headers["Content-Length"]) == size
    get_and_check(cluster, f"{url}/huge/big", api[1], size, file_chunks(source, 0, size),
                  "GET >5 GiB SLO (md5 checked)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--segment-mib", type=int, default=256)
    parser.add_argument("--beyond-5gib", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="martlet-lo-bench-"))
    cluster = start_cluster(workdir / "cluster")
    try:
        print(f"{'phase':<34} {'MiB':>10} {'seconds':>9} {'MB/s':>9}")
        slo_get(cluster, int(args.size_gib * GIB), args.segment_mib * MIB)
        if args.beyond_5gib:
            beyond_5gib(cluster, workdir)
    finally:
        cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
