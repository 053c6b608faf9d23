"""A new cluster's first-run set-up, shared by ``martlet ring-init`` (the
compose file's one-shot service) and ``martlet dev``.

Given a ``ClusterLayout`` (which storage nodes hold which devices, where the
proxy listens), ``init_cluster`` writes into one folder:

- ``storage<N>.conf`` (one per storage node, numbered in layout order) and
  ``proxy.conf``, unless they exist (an operator's edits survive);
- ``account``/``container``/``object`` ``.builder`` and ``.ring`` for every
  ring that does not exist yet, and ``object-N`` for each further storage
  policy, each device in its own zone as the layout says, ``replicas``
  replicas (each object ring rebalanced with its own seed, so policies
  place objects differently);
- ``martlet.conf`` with a random ``path_suffix`` and ``secret`` and the
  layout's storage policies (``[storage-policy:N]``, the first the
  default), last and only if missing: its presence marks a complete folder,
  and regenerating it would move every object and void every token. An
  existing martlet.conf's policies (none: policy 0 alone) decide which
  object rings there are.

Running it again is harmless, which is what a compose service that runs on
every ``docker compose up`` needs.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from martlet.cluster import RING_KINDS
from martlet.hashing import HashSection
from martlet.policies import SECTION_PREFIX, StoragePolicy, build_policies, policy_string

# The users of a fresh cluster, `martlet dev` and compose alike: the ones
# Swift's functional tests expect (Swift's all-in-one has the same), so that
# those tests run against martlet as they are. ``user_<account>_<user> =
# <key> [groups]`` lines of proxy.conf's [auth] (``proxy.auth.parse_users``);
# operators replace them before real use. test5:tester5 is in the group
# ``service``, whose service tokens open the SERVICE_ accounts (below).
DEMO_USERS: Mapping[str, str] = {
    "user_test_tester": "testing .admin",
    "user_test_tester2": "testing2 .admin",
    "user_test_tester3": "testing3",
    "user_test2_tester2": "testing2 .admin",
    "user_test5_tester5": "testing5 service",
    "user_admin_admin": "admin .admin .reseller_admin",
}
# The rest of that [auth] (``proxy.auth.parse_resellers``), as in Swift's
# all-in-one: SERVICE_<project> accounts, which a project's admin reaches
# only with a service token of a user in the group ``service`` too.
DEMO_RESELLERS: Mapping[str, str] = {
    "reseller_prefix": "AUTH, SERVICE",
    "SERVICE_require_group": "service",
}

# The optional proxy features (proxy.conf sections, see proxy.app.FEATURES),
# all on in a fresh cluster, as in Swift's all-in-one: clients and Swift's
# functional tests look for them in /info.
DEMO_FEATURES = ("bulk", "account_quotas", "container_quotas", "etag_quoter", "cors", "versioned_writes",
                 "object_versioning", "symlink", "staticweb", "tempurl", "formpost", "s3api")


# The storage policies of a fresh cluster (index = position, the first the
# default): two replicated policies, as Swift's all-in-one has, so that
# clients and Swift's functional tests find more than one.
DEFAULT_POLICIES = ("Policy-0", "silver")


@dataclass(frozen=True)
class StorageNode:
    """One storage daemon and the devices it serves (usually one)."""

    ip: str
    port: int
    devices: tuple[str, ...]
    zone: int
    region: int = 1
    # [storage] devices of its storage.conf: where its device dirs live.
    devices_root: str = "/srv/node"
    weight: float = 100.0


@dataclass(frozen=True)
class ClusterLayout:
    directory: Path
    nodes: tuple[StorageNode, ...]
    proxy_ip: str = "127.0.0.1"
    proxy_port: int = 8080
    part_power: int = 10
    replicas: int = 3
    min_part_hours: int = 1
    fsync: bool = True
    users: Mapping[str, str] = field(default_factory=lambda: dict(DEMO_USERS))
    resellers: Mapping[str, str] = field(default_factory=lambda: dict(DEMO_RESELLERS))
    # Extra [proxy] keys (tests shorten timeouts and caches).
    proxy_options: Mapping[str, str] = field(default_factory=dict)
    # Extra sections of every storage<N>.conf (`martlet dev`: short
    # intervals for the node's background daemons); a "storage" entry adds
    # its keys to the [storage] section the layout writes.
    node_sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Storage policy names by index; written to a new martlet.conf only.
    policies: tuple[str, ...] = DEFAULT_POLICIES

    @property
    def cluster_conf(self) -> Path:
        return self.directory / "martlet.conf"

    @property
    def proxy_conf(self) -> Path:
        return self.directory / "proxy.conf"

    def storage_conf(self, index: int) -> Path:
        return self.directory / f"storage{index + 1}.conf"


@dataclass(frozen=True)
class InitReport:
    """What ``init_cluster`` wrote (names of files), for its one-line report."""

    created: tuple[str, ...]
    kept: tuple[str, ...]


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_ini(sections: Mapping[str, Mapping[str, str]], header: str = "") -> str:
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    if lines:
        lines.append("")
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {value}" for key, value in keys.items())
        lines.append("")
    return "\n".join(lines)


def new_cluster_secrets() -> dict[str, dict[str, str]]:
    """The secret sections of a new martlet.conf: a random hash suffix and
    cluster secret (what ``ring-init --env-file`` keeps in a .env)."""
    return {
        "hash": {"path_prefix": "", "path_suffix": secrets.token_hex(16)},
        "cluster": {"secret": secrets.token_hex(32)},
    }


def policy_sections(policies: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """A ``[storage-policy:N]`` per policy name, the first the default."""
    return {
        f"{SECTION_PREFIX}{index}": {"name": name, **({"default": "yes"} if index == 0 else {})}
        for index, name in enumerate(policies)
    }


def storage_sections(layout: ClusterLayout, node: StorageNode) -> dict[str, dict[str, str]]:
    storage = {
        "devices": node.devices_root,
        "bind_ip": node.ip,
        "bind_port": str(node.port),
        "cluster_conf": "martlet.conf",
        "fsync": "true" if layout.fsync else "false",
    }
    sections = {name: dict(keys) for name, keys in layout.node_sections.items()}
    return {"storage": {**sections.pop("storage", {}), **storage}, **sections}


def proxy_sections(layout: ClusterLayout) -> dict[str, dict[str, str]]:
    proxy = {
        "bind_ip": layout.proxy_ip,
        "bind_port": str(layout.proxy_port),
        "cluster_conf": "martlet.conf",
        **layout.proxy_options,
    }
    features = {name: {"enabled": "true"} for name in DEMO_FEATURES}
    return {"proxy": proxy, "auth": {**layout.resellers, **layout.users}, **features}


def write_role_configs(layout: ClusterLayout) -> tuple[list[str], list[str]]:
    """proxy.conf and storage<N>.conf, those that are missing: an existing
    one is an operator's to edit (users, keys) and is kept."""
    created: list[str] = []
    kept: list[str] = []
    files = [(layout.proxy_conf, proxy_sections(layout))]
    files += [(layout.storage_conf(i), storage_sections(layout, n)) for i, n in enumerate(layout.nodes)]
    for path, sections in files:
        if path.exists():
            kept.append(path.name)
            continue
        write_text_atomic(path, render_ini(sections, "written by martlet ring-init / martlet dev"))
        created.append(path.name)
    return created, kept


def build_ring(layout: ClusterLayout, name: str, hash_settings: HashSection, seed: int = 0) -> None:
    """One builder and its ring (files ``<name>.builder``, ``<name>.ring``)
    over every device of the layout."""
    import ring
    from ring.builder import RingBuilder

    builder = RingBuilder(layout.part_power, layout.replicas, layout.min_part_hours)
    for node in layout.nodes:
        for device in node.devices:
            builder.add_device(node.region, node.zone, node.ip, node.port, device, node.weight)
    builder.rebalance(seed=seed, now=time.time())
    # The builder first: operators grow the cluster from it (docs/operations.md).
    ring.save_builder(builder, layout.directory / f"{name}.builder")
    ring.save_ring(builder.get_ring(hash_settings), layout.directory / f"{name}.ring")


def init_cluster(layout: ClusterLayout, cluster_sections: Mapping[str, Mapping[str, str]] | None = None) -> InitReport:
    """Create whatever of the cluster folder is missing (see module docstring);
    a new martlet.conf holds ``cluster_sections`` (default: new random ones)."""
    if not layout.nodes:
        raise ValueError("a cluster needs at least one storage node")
    # Bad policy names stop it before anything is written (ConfigError).
    build_policies([StoragePolicy(i, (name,), i == 0) for i, name in enumerate(layout.policies)])
    layout.directory.mkdir(parents=True, exist_ok=True)
    created, kept = write_role_configs(layout)
    if layout.cluster_conf.exists():
        from martlet.cluster import load_cluster_config

        cluster_sections = None
        existing = load_cluster_config(layout.cluster_conf)
        hash_settings, policies = existing.hash, existing.policies.indexes
    else:
        # The secrets may come from the caller (an .env); the policies come from the layout.
        cluster_sections = {**(cluster_sections or new_cluster_secrets()), **policy_sections(layout.policies)}
        hash_settings = HashSection(**cluster_sections["hash"])
        policies = tuple(range(len(layout.policies))) or (0,)
    rings = [(kind, 0) for kind in RING_KINDS if kind != "object"]
    rings += [(policy_string("object", index), index) for index in policies]
    for name, seed in rings:
        if not (layout.directory / f"{name}.ring").exists():
            build_ring(layout, name, hash_settings, seed)
            created.append(f"{name}.ring")
        else:
            kept.append(f"{name}.ring")
    if cluster_sections is not None:
        # Written last: its presence marks a complete cluster folder.
        header = "written by martlet ring-init / martlet dev: keep it identical on every node"
        write_text_atomic(layout.cluster_conf, render_ini(cluster_sections, header))
        created.append("martlet.conf")
    else:
        kept.append("martlet.conf")
    return InitReport(tuple(created), tuple(kept))


def nodes_from_specs(specs: list[str], devices_root: str, weight: float = 100.0) -> tuple[StorageNode, ...]:
    """``r1z1-10.0.0.1:6200/d1`` device specs grouped into nodes by ip:port,
    in the order each node first appears."""
    from ring.device import parse_device_spec

    nodes: dict[tuple[str, int], StorageNode] = {}
    for text in specs:
        spec = parse_device_spec(text)
        key = (spec.ip, spec.port)
        node = nodes.get(key)
        if node is None:
            nodes[key] = StorageNode(spec.ip, spec.port, (spec.device,), spec.zone, spec.region,
                                     devices_root, weight)
        elif (node.zone, node.region) != (spec.zone, spec.region):
            raise ValueError(f"{text}: {spec.ip}:{spec.port} was given another region/zone before")
        else:
            nodes[key] = StorageNode(node.ip, node.port, (*node.devices, spec.device), node.zone,
                                     node.region, devices_root, weight)
    return tuple(nodes.values())
