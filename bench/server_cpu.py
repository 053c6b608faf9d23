"""Server CPU time of a running cluster's processes, read from /proc (Linux).

A benchmark phase's cost is the CPU its server processes spent on it (user
and system time, utime and stime of /proc/<pid>/stat) divided by its
operations: a figure that barely moves with the noise of a shared machine,
unlike ops/s. The load generator is not counted.

Which processes are the cluster's: given root pids, those and all their
descendants; by default, the ``martlet dev`` launcher that is the parent of
the proxy serving the benchmark's port, and all of its descendants (the
proxy and the node processes), or the proxy alone when it has no such parent.

Imported by cluster_bench.py as a sibling module.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    user: float  # seconds
    system: float
    peak_rss_kib: int


@dataclass(frozen=True)
class CpuSample:
    user: float  # seconds, summed over the processes
    system: float
    processes: int
    peak_rss_kib: int  # summed VmHWM

    def minus(self, before: CpuSample) -> CpuSample:
        return CpuSample(self.user - before.user, self.system - before.system,
                         self.processes, self.peak_rss_kib)


def parse_stat(raw: str) -> tuple[int, float, float]:
    """(ppid, user seconds, system seconds) of a /proc/<pid>/stat line; the
    command name in brackets may hold spaces and brackets itself."""
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[11]) / _TICK, int(fields[12]) / _TICK


def _peak_rss_kib(pid: int) -> int:
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_table() -> dict[int, ProcStat]:
    table = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid, user, system = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        table[int(entry.name)] = ProcStat(ppid, user, system, 0)
    return table


def descendants(table: dict[int, ProcStat], roots: Iterable[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        stack.extend(children.get(pid, []))
    return seen


def sample(roots: Iterable[int]) -> CpuSample:
    table = proc_table()
    pids = descendants(table, roots)
    return CpuSample(sum(table[p].user for p in pids), sum(table[p].system for p in pids),
                     len(pids), sum(_peak_rss_kib(p) for p in pids))


def _argv(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [word.decode(errors="replace") for word in raw.split(b"\0") if word]


def proxy_pid(port: int) -> int | None:
    """The `martlet proxy` whose config binds ``port``."""
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        words = _argv(int(entry.name))
        if "proxy" not in words or "--config" not in words:
            continue
        config = Path(words[words.index("--config") + 1])
        try:
            if not config.is_absolute():
                config = Path(os.readlink(entry / "cwd")) / config
            if f"bind_port = {port}" in config.read_text():
                return int(entry.name)
        except OSError:
            continue
    return None


def cluster_roots(port: int) -> list[int]:
    """The root pids of the cluster serving ``port``: the `martlet dev`
    launcher above its proxy, else the proxy alone; empty when not found."""
    pid = proxy_pid(port)
    if pid is None:
        return []
    table = proc_table()
    parent = table[pid].ppid if pid in table else 0
    if "dev" in _argv(parent):
        return [parent]
    return [pid]


def proxy_peak_rss(port: int) -> str:
    pid = proxy_pid(port)
    if pid is None:
        return "unknown (proxy process not found)"
    return f"{_peak_rss_kib(pid) / 1024:.1f} MiB (pid {pid})"
