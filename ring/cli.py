"""``martlet ring``: build rings and look up where a path lives.

Two shapes share the command, so the words after ``ring`` are parsed here
rather than by one argparse tree: ``martlet ring get-nodes ...`` looks a path
up in a ring file; anything else is ``martlet ring BUILDER VERB ...``. Bad
input raises ``RingError``/``UsageError``, which the ``martlet`` command prints as one
line with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from martlet.cluster import load_cluster_config
from martlet.errors import RingError, UsageError
from martlet.hashing import hash_path
from martlet.netaddr import host_port

from ring.builder import RingBuilder
from ring.device import Device, parse_device_spec
from ring.ring_file import load_builder, load_ring, save_builder, save_ring

USAGE = """\
martlet ring BUILDER create PART_POWER REPLICAS MIN_PART_HOURS
       martlet ring BUILDER add --region R --zone Z --ip IP --port P --device NAME --weight W [--meta M]
       martlet ring BUILDER add r<R>z<Z>-<IP>:<PORT>/<DEVICE>[_<META>] WEIGHT [SPEC WEIGHT ...]
       martlet ring BUILDER remove ID|SEARCH [--all]
       martlet ring BUILDER set-weight ID|SEARCH WEIGHT [--all]
       martlet ring BUILDER rebalance [--seed N]
       martlet ring BUILDER pretend-min-part-hours-passed
       martlet ring BUILDER show
       martlet ring BUILDER write-ring
       martlet ring get-nodes [--config FILE] RING ACCOUNT [CONTAINER [OBJECT]]"""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one-line UsageErrors."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ring",
        help="build rings and look up where paths live",
        usage=USAGE,
        description="Build ring builder files, write rings, and look up partitions.",
    )
    parser.add_argument("words", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    words: list[str] = list(args.words)
    if not words:
        raise UsageError("expected a builder file or get-nodes; see martlet ring --help")
    if words[0] == "get-nodes":
        return get_nodes(words[1:])
    if len(words) < 2:
        raise UsageError(f"expected a verb after {words[0]} ({', '.join(VERBS)})")
    builder_path, verb, rest = Path(words[0]), words[1], words[2:]
    if verb not in VERBS:
        raise UsageError(f"unknown verb {verb!r} (expected one of {', '.join(VERBS)})")
    return VERBS[verb](builder_path, rest)


# -- verbs ---------------------------------------------------------------------------
def create(path: Path, words: Sequence[str]) -> int:
    parser = _Parser(prog="martlet ring BUILDER create")
    parser.add_argument("part_power", type=int)
    parser.add_argument("replicas", type=int)
    parser.add_argument("min_part_hours", type=int)
    parser.add_argument("--force", action="store_true", help="overwrite an existing builder")
    args = parser.parse_args(words)
    if path.exists() and not args.force:
        raise RingError(f"{path} already exists (use --force to overwrite)")
    builder = RingBuilder(args.part_power, args.replicas, args.min_part_hours)
    save_builder(builder, path)
    print(f"Created {path}: 2^{args.part_power} partitions, {args.replicas} replicas, "
          f"min_part_hours {args.min_part_hours}")
    return 0


def add(path: Path, words: Sequence[str]) -> int:
    builder = load_builder(path)
    if words and not words[0].startswith("-"):
        if len(words) % 2:
            raise UsageError("add takes SPEC WEIGHT pairs, e.g. r1z1-127.0.0.1:6200/d1 100")
        added = [
            _add_spec(builder, spec, _weight(weight)) for spec, weight in zip(words[::2], words[1::2])
        ]
    else:
        parser = _Parser(prog="martlet ring BUILDER add")
        for name, kind in (("region", int), ("zone", int), ("ip", str), ("port", int),
                           ("device", str), ("weight", _weight)):
            parser.add_argument(f"--{name}", type=kind, required=True)
        parser.add_argument("--meta", default="")
        a = parser.parse_args(words)
        added = [builder.add_device(a.region, a.zone, a.ip, a.port, a.device, a.weight, a.meta)]
    save_builder(builder, path)
    for dev in added:
        print(f"Device d{dev.id} {dev.spec()} weight {dev.weight:g} added")
    return 0


def _add_spec(builder: RingBuilder, spec: str, weight: float) -> Device:
    s = parse_device_spec(spec)
    return builder.add_device(s.region, s.zone, s.ip, s.port, s.device, weight, s.meta)


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"bad weight {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"bad weight {text!r}: must be a finite number >= 0")
    return value


def _select(builder: RingBuilder, search: str, allow_many: bool) -> list[Device]:
    found = builder.search(search)
    if not found:
        raise RingError(f"no device matches {search!r}")
    if len(found) > 1 and not allow_many:
        raise RingError(f"{search!r} matches {len(found)} devices; be more specific or pass --all")
    return found


def remove(path: Path, words: Sequence[str]) -> int:
    parser = _Parser(prog="martlet ring BUILDER remove")
    parser.add_argument("search")
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args(words)
    builder = load_builder(path)
    devices = _select(builder, args.search, args.all)
    for dev in devices:
        builder.remove_device(dev.id)
    save_builder(builder, path)
    for dev in devices:
        print(f"Device d{dev.id} {dev.spec()} removed; run rebalance to move its partitions")
    return 0


def set_weight(path: Path, words: Sequence[str]) -> int:
    parser = _Parser(prog="martlet ring BUILDER set-weight")
    parser.add_argument("search")
    parser.add_argument("weight", type=_weight)
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args(words)
    builder = load_builder(path)
    devices = _select(builder, args.search, args.all)
    for dev in devices:
        builder.set_weight(dev.id, args.weight)
    save_builder(builder, path)
    for dev in devices:
        print(f"Device d{dev.id} {dev.spec()} weight {dev.weight:g} -> {args.weight:g}")
    return 0


def ring_path_for(builder_path: Path) -> Path:
    """object.builder -> object.ring, beside it."""
    return builder_path.with_suffix(".ring")


def rebalance(path: Path, words: Sequence[str]) -> int:
    parser = _Parser(prog="martlet ring BUILDER rebalance")
    parser.add_argument("--seed", type=int, default=None,
                        help="make the outcome repeatable (default: random)")
    args = parser.parse_args(words)
    builder = load_builder(path)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    result = builder.rebalance(seed=seed, now=time.time())
    save_builder(builder, path)
    ring_path = ring_path_for(path)
    save_ring(builder.get_ring(), ring_path)
    print(f"Reassigned {result.moved} partition-replicas ({result.moved_partitions} partitions). "
          f"Balance is now {result.balance:.2f}%. Dispersion is now {result.dispersion:.2f}%.")
    if abs(result.weight_balance - result.balance) > 0.01:
        print(f"Balance against weight alone is {result.weight_balance:.2f}%: "
              "dispersion overrides some weights (see show).")
    print(f"Wrote {ring_path}")
    return 0


def pretend_min_part_hours_passed(path: Path, words: Sequence[str]) -> int:
    _Parser(prog="martlet ring BUILDER pretend-min-part-hours-passed").parse_args(words)
    builder = load_builder(path)
    builder.pretend_min_part_hours_passed()
    save_builder(builder, path)
    print(f"{path}: the next rebalance may move any partition")
    return 0


def write_ring(path: Path, words: Sequence[str]) -> int:
    _Parser(prog="martlet ring BUILDER write-ring").parse_args(words)
    ring_path = ring_path_for(path)
    save_ring(load_builder(path).get_ring(), ring_path)
    print(f"Wrote {ring_path}")
    return 0


def show(path: Path, words: Sequence[str]) -> int:
    _Parser(prog="martlet ring BUILDER show").parse_args(words)
    builder = load_builder(path)
    live = builder.live_devices()
    print(f"{path}, version {builder.version}")
    print(f"{builder.partitions} partitions, {builder.replicas} replicas, "
          f"{len({d.region for d in live})} regions, {len({(d.region, d.zone) for d in live})} zones, "
          f"{len(live)} devices, min_part_hours {builder.min_part_hours}")
    stats = builder.stats() if builder.assignment is not None and len(live) >= builder.replicas else None
    if stats is None:
        print("The builder has not been rebalanced yet.")
    else:
        print(f"Balance {stats.balance:.2f}%, dispersion {stats.dispersion:.2f}%, "
              f"balance against weight alone {stats.weight_balance:.2f}%")
    rows = [("id", "region", "zone", "ip:port", "device", "weight", "partitions", "balance", "meta")]
    for dev in live:
        parts = int(stats.parts[dev.id]) if stats is not None else 0
        bal = f"{stats.device_balance(dev.id):.2f}" if stats is not None else "-"
        rows.append((str(dev.id), str(dev.region), str(dev.zone), _host(dev), dev.device,
                     f"{dev.weight:.2f}", str(parts), bal, dev.meta))
    _table(rows)
    return 0


def get_nodes(words: Sequence[str]) -> int:
    parser = _Parser(prog="martlet ring get-nodes")
    parser.add_argument("--config", default=None, help="martlet.conf with [hash] prefix and suffix")
    parser.add_argument("ring")
    parser.add_argument("account")
    parser.add_argument("container", nargs="?")
    parser.add_argument("obj", nargs="?", metavar="object")
    args = parser.parse_args(words)
    settings = load_cluster_config(args.config).hash
    ring = load_ring(args.ring, settings)
    part, primaries = ring.get_nodes(args.account, args.container, args.obj)
    print(f"Partition {part}")
    print(f"Hash {hash_path(args.account, args.container, args.obj, settings=settings)}")
    rows: list[tuple[str, ...]] = [("", "region", "zone", "ip:port", "device", "id")]
    rows += [("primary",) + _node_row(d) for d in primaries]
    rows += [("handoff",) + _node_row(d) for d in ring.get_more_nodes(part)]
    _table(rows)
    return 0


def _host(dev: Device) -> str:
    return host_port(dev.ip, dev.port)


def _node_row(dev: Device) -> tuple[str, ...]:
    return (str(dev.region), str(dev.zone), _host(dev), dev.device, str(dev.id))


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    sys.stdout.flush()


VERBS: dict[str, Callable[[Path, Sequence[str]], int]] = {
    "create": create,
    "add": add,
    "remove": remove,
    "set-weight": set_weight,
    "rebalance": rebalance,
    "pretend-min-part-hours-passed": pretend_min_part_hours_passed,
    "show": show,
    "write-ring": write_ring,
}
