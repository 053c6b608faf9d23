"""glibc's buffer thresholds (martlet.memory), checked in child processes:
a burst of 1 MiB buffers, freed and made again, faults its pages in again
unless the process keeps them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# Eight 1 MiB buffers alive at once, freed, fifty times over: the page
# faults of the last fifty bursts (the first one may fault either way).
CHILD = """
import resource, sys
from martlet.memory import keep_large_buffers
print(keep_large_buffers() if sys.argv[1] == "keep" else None)
def burst():
    held = [bytes(1 << 20) for _ in range(8)]
    del held
burst()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    burst()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run_child(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**clean, "PYTHONPATH": str(ROOT), **env}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_buffers_are_not_faulted_in_again() -> None:
    _, faults_default = run_child("default")
    kept, faults_kept = run_child("keep")
    assert kept == "True"
    # 50 bursts of 8 MiB would be 102,400 faults at most; glibc's own
    # policy hands the burst back each time, the kept one barely faults.
    assert faults_kept * 3 < faults_default, (faults_kept, faults_default)


def test_an_operators_malloc_setting_wins() -> None:
    kept, _ = run_child("keep", MALLOC_TRIM_THRESHOLD_="1048576")
    assert kept == "False"
