"""Storage policies: which object ring (and which object directories) a
container's objects use, declared once for the whole cluster in
``martlet.conf``, as Swift's ``swift.conf`` declares them::

    [storage-policy:0]
    name = Policy-0
    default = yes

    [storage-policy:1]
    name = silver
    aliases = fast, ssd

Policy 0 keeps ``object.ring`` and ``objects/``; policy N uses
``object-N.ring`` and ``objects-N/``, ``tmp-N/``, ``async_pending-N/``
(``policy_string``). A container gets its policy when it is created
(``X-Storage-Policy: <name>``, else the default one) and keeps it for life;
its objects are placed by that policy's ring, and every object request to a
storage node says which policy with ``X-Backend-Storage-Policy-Index``.

The rules are Swift's: indexes are integers >= 0; names (the first is the
policy's name, the others aliases) are letters, digits and ``-``, unique
across the cluster ignoring case; ``Policy-0`` belongs to index 0 alone;
exactly one default, which may not be deprecated (with one policy it is the
default without saying so); a deprecated policy takes no new containers but
keeps serving the ones it has. A cluster that declares no policy has the one
policy 0, named ``Policy-0``, so a ``martlet.conf`` made before policies
existed keeps working unchanged. Once any policy is declared, policy 0 must
be too.

Pure: sections in, typed records out; ``ConfigError`` for anything wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from martlet.config import ConfigFile
from martlet.errors import ConfigError

# Backend headers: the policy an object request is for (object servers,
# container rows and container PUTs), and the policy a container PUT falls
# back to when the client named none (only a new container takes it).
POLICY_INDEX_HEADER = "X-Backend-Storage-Policy-Index"
POLICY_DEFAULT_HEADER = "X-Backend-Storage-Policy-Default"
# The client's header on container PUT, and the container's answer.
POLICY_NAME_HEADER = "X-Storage-Policy"

LEGACY_NAME = "Policy-0"
SECTION_PREFIX = "storage-policy:"
_NAME_RE = re.compile(r"^[A-Za-z0-9-]+$")
_INDEX_RE = re.compile(r"^[0-9]+$")


def policy_string(base: str, index: int) -> str:
    """``base`` for policy 0, ``base-N`` for policy N: how rings
    (``object-1``) and directories (``objects-1``) are named, as Swift's."""
    if index < 0:
        raise ValueError(f"invalid storage policy index {index}")
    return base if index == 0 else f"{base}-{index}"


def parse_index(text: str | None) -> int | None:
    """A policy index header's value: None when absent, ValueError when it
    is not a non-negative integer (whether the policy exists is the
    caller's question)."""
    if text is None:
        return None
    value = text.strip()
    if not _INDEX_RE.match(value):
        raise ValueError(f"invalid storage policy index {text!r}")
    return int(value)


@dataclass(frozen=True)
class StoragePolicySection:
    """``[storage-policy:N]`` of martlet.conf."""

    name: str = ""
    # Other names the policy answers to (comma-separated).
    aliases: tuple[str, ...] = ()
    # The policy of containers created without X-Storage-Policy.
    default: bool = False
    # No new containers in it; existing ones keep working.
    deprecated: bool = False


@dataclass(frozen=True)
class StoragePolicy:
    """One policy: its index and names (the first is its name)."""

    index: int
    names: tuple[str, ...]
    is_default: bool = False
    is_deprecated: bool = False

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def ring_name(self) -> str:
        """The stem of its object ring's files: ``object``, ``object-N``."""
        return policy_string("object", self.index)


@dataclass(frozen=True)
class StoragePolicies:
    """Every policy of a cluster, by index; built only by ``build_policies``
    (so the rules above hold)."""

    policies: tuple[StoragePolicy, ...] = field(
        default_factory=lambda: (StoragePolicy(0, (LEGACY_NAME,), is_default=True),)
    )

    def __iter__(self) -> Iterator[StoragePolicy]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    @property
    def default(self) -> StoragePolicy:
        return next(p for p in self.policies if p.is_default)

    @property
    def indexes(self) -> tuple[int, ...]:
        return tuple(p.index for p in self.policies)

    def get(self, index: int) -> StoragePolicy | None:
        return next((p for p in self.policies if p.index == index), None)

    def by_name(self, name: str) -> StoragePolicy | None:
        """The policy one of whose names is ``name``, ignoring case."""
        wanted = name.strip().upper()
        return next((p for p in self.policies if wanted in (n.upper() for n in p.names)), None)


def build_policies(declared: Sequence[StoragePolicy]) -> StoragePolicies:
    """Check ``declared`` against the rules (module docstring); none
    declared means the legacy policy 0 alone."""
    if not declared:
        return StoragePolicies()
    seen_names: dict[str, int] = {}
    indexes: set[int] = set()
    for policy in declared:
        if policy.index in indexes:
            raise ConfigError(f"storage policy {policy.index} is declared twice")
        indexes.add(policy.index)
        if not policy.names or not policy.names[0]:
            raise ConfigError(f"[storage-policy:{policy.index}] needs a name")
        if len({n.upper() for n in policy.names}) != len(policy.names):
            raise ConfigError(f"[storage-policy:{policy.index}] names a name twice")
        for name in policy.names:
            _check_name(policy.index, name)
            if seen_names.setdefault(name.upper(), policy.index) != policy.index:
                raise ConfigError(f"storage policy name {name!r} is used twice")
        if policy.is_default and policy.is_deprecated:
            raise ConfigError(f"[storage-policy:{policy.index}] a deprecated policy cannot be the default")
    if 0 not in indexes:
        raise ConfigError("[storage-policy:0] must be declared when other storage policies are")
    if all(p.is_deprecated for p in declared):
        raise ConfigError("every storage policy is deprecated")
    defaults = [p for p in declared if p.is_default]
    if len(defaults) > 1:
        raise ConfigError(f"storage policies {', '.join(str(p.index) for p in defaults)} are all the default")
    ordered = sorted(declared, key=lambda p: p.index)
    if not defaults:
        if len(ordered) > 1:
            raise ConfigError("one storage policy must be the default (default = yes)")
        only = ordered[0]
        ordered = [StoragePolicy(only.index, only.names, True, only.is_deprecated)]
    return StoragePolicies(tuple(ordered))


def _check_name(index: int, name: str) -> None:
    if not _NAME_RE.match(name):
        raise ConfigError(f"[storage-policy:{index}] name {name!r}: only letters, digits and '-' "
                          "(names are used in HTTP headers)")
    if name.upper() == LEGACY_NAME.upper() and index != 0:
        raise ConfigError(f"[storage-policy:{index}] the name {LEGACY_NAME} is reserved for policy 0")


def policies_from(config: ConfigFile) -> StoragePolicies:
    """The ``[storage-policy:N]`` sections of a parsed martlet.conf."""
    declared = []
    for section in config.parser.sections():
        if not section.startswith(SECTION_PREFIX):
            continue
        index_text = section[len(SECTION_PREFIX):]
        if not _INDEX_RE.match(index_text):
            raise ConfigError(f"{config.path}: [{section}]: the policy index must be an integer >= 0")
        values = config.section(section, StoragePolicySection)
        name = values.name.strip()
        names = (name, *(a for a in values.aliases if a != name))
        declared.append(StoragePolicy(int(index_text), names, values.default, values.deprecated))
    try:
        return build_policies(declared)
    except ConfigError as exc:
        raise ConfigError(f"{config.path}: {exc}") from None
