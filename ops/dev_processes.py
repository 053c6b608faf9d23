"""The processes of a dev cluster: start, wait for, stop and kill them.

One process per storage node, ``martlet node --config storage<N>.conf``
(named ``storage<N>``: the node's storage daemon and its background daemons
under one supervisor), and one for the proxy: 5 for the 4-node cluster.
Each is a ``martlet`` command of this interpreter (``martlet_argv``),
started in a session of its own so that a Ctrl-C reaches the launcher alone
and the launcher stops them in order. ``martlet dev`` runs them all; the
cluster and probe tests run all or some of them on ephemeral ports (the
probes' nodes run their storage daemon only, ``[node] daemons = storage``).
Killing a node's process (``kill``) is a power cut of that node: every
daemon of it ends at once and nothing restarts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ops.dev_cluster import DevSpec


def martlet_argv(*args: str) -> list[str]:
    """``martlet ARGS`` as a process of this interpreter, installed or not."""
    return [sys.executable, "-m", "ops.main", *args]


def process_commands(spec: DevSpec) -> list[tuple[str, list[str]]]:
    """(name, argv) of every process of the cluster, storage nodes first."""
    nodes = range(len(spec.storage_ports))
    commands = [(f"storage{i + 1}", martlet_argv("node", "--config", str(spec.storage_conf(i)))) for i in nodes]
    commands.append(("proxy", martlet_argv("proxy", "--config", str(spec.proxy_conf))))
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

    def exit_message(self, name: str) -> str:
        """One line on a process that ended: its code, and its own one-line
        reason when it left one (``martlet node: ...`` as its last line)."""
        log = self.log_dir / f"{name}.log"
        try:
            lines = log.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        reason = f": {lines[-1]}" if lines and lines[-1].startswith("martlet ") else ""
        return f"{name} exited with {self.processes[name].returncode}{reason}; see {log}"

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
                    raise RuntimeError(self.exit_message(name))
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

    def stop(self, names: list[str] | None = None, timeout: float = 15.0) -> None:
        """SIGTERM, wait up to ``timeout`` (a node gives its daemons 10 s,
        then cancels them), then SIGKILL what is left."""
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
        """SIGKILL one process (probe-style tests): for a node, every daemon of it."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()
