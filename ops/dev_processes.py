"""The processes of a dev cluster: start, wait for, stop and kill them.

Every daemon is a ``martlet`` command in its own process (``martlet_argv``),
started in a session of its own so that a Ctrl-C reaches the launcher alone
and the launcher stops them in order. ``martlet dev`` runs them all; the
cluster and probe tests run all or some of them on ephemeral ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ops.dev_cluster import BACKGROUND, DevSpec


def martlet_argv(*args: str) -> list[str]:
    """``martlet ARGS`` as a process of this interpreter, installed or not."""
    return [sys.executable, "-m", "ops.main", *args]


def process_commands(spec: DevSpec) -> list[tuple[str, list[str]]]:
    """(name, argv) of every process of the cluster, storage daemons first."""
    nodes = range(len(spec.storage_ports))
    commands = [(f"storage{i + 1}", martlet_argv("storage", "--config", str(spec.storage_conf(i)))) for i in nodes]
    commands.append(("proxy", martlet_argv("proxy", "--config", str(spec.proxy_conf))))
    for command in BACKGROUND:
        commands += [(f"{command}{i + 1}", martlet_argv(command, "--config", str(spec.storage_conf(i)))) for i in nodes]
    return commands


class DevCluster:
    """The running processes of a dev cluster."""

    def __init__(self, spec: DevSpec, log_dir: Path | None = None) -> None:
        self.spec = spec
        self.log_dir = log_dir or spec.data_dir / "logs"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, names: list[str] | None = None) -> None:
        """Start every process (or only ``names``) with output in log files."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # The proxy listens where the spec says: proxy.conf's port, unless
        # `martlet dev --port` chose another for this run (proxy.conf stays
        # as the operator left it).
        proxy_env = {**os.environ, "MARTLET_PROXY_BIND_PORT": str(self.spec.proxy_port)}
        for name, argv in process_commands(self.spec):
            if names is not None and name not in names:
                continue
            if name in self.processes and self.processes[name].poll() is None:
                continue
            with open(self.log_dir / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=proxy_env if name == "proxy" else None,
                    start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                )

    def health_urls(self) -> dict[str, str]:
        urls = {f"storage{i + 1}": f"http://127.0.0.1:{port}/healthcheck"
                for i, port in enumerate(self.spec.storage_ports)}
        urls["proxy"] = f"http://127.0.0.1:{self.spec.proxy_port}/healthcheck"
        return urls

    def wait_ready(self, timeout: float = 30.0, names: list[str] | None = None) -> None:
        """Until every HTTP daemon answers its healthcheck; RuntimeError if one
        exits or the time is up."""
        deadline = time.monotonic() + timeout
        pending = {n: u for n, u in self.health_urls().items() if names is None or n in names}
        while pending:
            for name, url in list(pending.items()):
                process = self.processes.get(name)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir / name}.log")
                try:
                    with urllib.request.urlopen(url, timeout=1.0) as answer:
                        if answer.status == 200:
                            del pending[name]
                except OSError:
                    pass
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout}s: {', '.join(sorted(pending))}")
                time.sleep(0.1)

    def stop(self, names: list[str] | None = None, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL what is left."""
        chosen = {n: p for n, p in self.processes.items() if names is None or n in names}
        for process in chosen.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in chosen.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            del self.processes[name]

    def kill(self, name: str) -> None:
        """SIGKILL one process (probe-style tests)."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()
