"""``martlet healthcheck --config FILE``: is the process this config
describes healthy? Made for container health checks, which must work in
any image with martlet installed (no curl, no ``python`` on PATH needed):
``python3 -m ops.health --config FILE`` is the same check without the
``martlet`` command's start-up (it loads every component, seconds on a
busy host), which is what the compose file runs.

The role comes from the file: a proxy.conf (``[proxy]``) is healthy when
``GET /healthcheck`` answers 200; a storage.conf (``[storage]``) when the
storage daemon answers ``GET /recon`` and, under ``martlet node``, every
daemon of the node is running (one in backoff after a failure, or still
starting, is not). Each daemon gets a line, so ``docker inspect`` shows
which one is down. The address is the config's ``bind_ip``/``bind_port``
(environment overrides applied); a wildcard ``bind_ip`` is asked on
loopback.

Asking (HTTP) and judging (``judge_node``, pure) are apart.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from martlet.config import load_config
from martlet.errors import ConfigError
from martlet.netaddr import host_port

WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class Target:
    role: str  # "proxy" or "node"
    url: str


def target_of(config_path: str) -> Target:
    """What to ask, from the config: ConfigError (one line) if it cannot tell."""
    config = load_config(config_path)
    for section, role, path in (("proxy", "proxy", "/healthcheck"), ("storage", "node", "/recon")):
        if not config.has_section(section):
            continue
        ip = (config.value(section, "bind_ip") or "").strip()
        port = (config.value(section, "bind_port") or "").strip()
        if not port.isdigit() or port == "0":
            raise ConfigError(f"{config_path}: [{section}] bind_port: a health check needs a fixed port, got {port!r}")
        return Target(role, f"http://{host_port(WILDCARDS.get(ip, ip), int(port))}{path}")
    raise ConfigError(f"{config_path}: neither [proxy] nor [storage]: not a proxy or storage config")


def judge_node(recon: Mapping[str, Any], now: float) -> tuple[bool, list[str]]:
    """Pure: healthy or not, and one line per daemon of the node."""
    node = recon.get("node")
    if not isinstance(node, dict):
        return True, ["storage daemon answers (not under martlet node)"]
    daemons = node.get("daemons")
    if not isinstance(daemons, dict) or not daemons:
        return False, ["node reports no daemons"]
    healthy = True
    lines = []
    for name, state in daemons.items():
        state = state if isinstance(state, dict) else {}
        current = str(state.get("state", "unknown"))
        since = state.get("since")
        age = f" for {max(0.0, now - since):.0f}s" if isinstance(since, (int, float)) else ""
        line = f"{name}: {current}{age}, restarts {state.get('restarts', 0)}"
        if state.get("last_error"):
            line += f", last error: {state['last_error']}"
        lines.append(line)
        healthy = healthy and current == "running"
    return healthy, lines


def check(config_path: str, timeout: float = 3.0) -> tuple[bool, list[str]]:
    """Ask the process; (healthy, lines to print)."""
    target = target_of(config_path)
    try:
        with urllib.request.urlopen(target.url, timeout=timeout) as answer:
            body = answer.read()
    except urllib.error.HTTPError as exc:
        return False, [f"{target.url}: HTTP {exc.code}"]
    except OSError as exc:
        return False, [f"{target.url}: {getattr(exc, 'reason', None) or exc}"]
    if target.role == "proxy":
        return True, [f"proxy answers at {target.url}"]
    try:
        recon = json.loads(body)
    except ValueError:
        return False, [f"{target.url}: not JSON"]
    if not isinstance(recon, dict):
        return False, [f"{target.url}: unexpected answer"]
    return judge_node(recon, time.time())


def main(argv: list[str] | None = None) -> int:
    """``python3 -m ops.health --config FILE``: ``martlet healthcheck``
    without loading every component, for health checks on a busy host."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python3 -m ops.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="proxy.conf or storage.conf")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    try:
        healthy, lines = check(args.config, args.timeout)
    except ConfigError as exc:
        print(f"martlet healthcheck: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines), flush=True)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
