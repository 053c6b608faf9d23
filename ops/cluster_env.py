"""A cluster's secrets in a ``.env`` file: ``martlet ring-init --env-file``.

The compose file's ring-init keeps the secrets of its cluster in the
project folder's ``.env`` (dotenv: ``NAME=value`` lines), so that none is
committed and the operator finds the user keys in one place. On every run:

- each secret of a new ``martlet.conf`` (every key ``new_cluster_secrets``
  generates: hash suffix, cluster secret, and any added later) is named as
  the config loader's override of that key, ``MARTLET_<SECTION>_<KEY>``,
  e.g. ``MARTLET_HASH_PATH_SUFFIX``; each user of ``proxy.conf``'s [auth]
  (``user_<account>_<user>``) as ``MARTLET_KEY_<ACCOUNT>_<USER>``, its key
  (roles stay those of the layout);
- where a config does not exist yet, its secrets come from ``.env``, or are
  generated (users get random keys, never the demo ones);
- where it exists, it decides: a cluster's hash suffix never changes (data
  would be lost), so a ``.env`` value that differs is reported and left;
- names ``.env`` lacks are appended (the rest of the file is kept, so it
  can also hold compose's own variables, e.g. ``MARTLET_PORT``); a new file
  is created readable by its owner only, owned like its folder (ring-init
  runs as root in compose).

Reading and merging are pure (``settle``); ``apply_env_file`` does the I/O.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from martlet.config import ConfigFile, env_key

from ops.init_cluster import ClusterLayout, new_cluster_secrets, write_text_atomic

HEADER = ("# This cluster's secrets, written by `martlet ring-init --env-file` (see docs/operations.md).\n"
          "# Keep it safe and out of version control; back it up with the builders.\n")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_env(text: str) -> dict[str, str]:
    """``NAME=value`` lines; ``#`` comments and blank lines skipped, one
    pair of surrounding quotes removed."""
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            value = match[2]
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[match[1]] = value
    return values


def user_env_name(auth_key: str) -> str:
    """``user_test_tester`` -> ``MARTLET_KEY_TEST_TESTER``."""
    return "MARTLET_KEY_" + auth_key.removeprefix("user_").upper().replace("-", "_")


@dataclass(frozen=True)
class Settled:
    """What ring-init writes: martlet.conf's sections (if it is new), the
    layout's users with their keys, the names to add to ``.env`` and the
    differences it leaves alone."""

    cluster_sections: dict[str, dict[str, str]]
    users: dict[str, str]
    additions: dict[str, str]
    conflicts: tuple[str, ...]


def settle(env: Mapping[str, str], fresh: Mapping[str, Mapping[str, str]], users: Mapping[str, str],
           existing_cluster: Mapping[str, Mapping[str, str]] | None,
           existing_users: Mapping[str, str] | None) -> Settled:
    """Pure: which value every secret takes (see module docstring).
    ``fresh``: a new martlet.conf's generated sections; ``users``: the
    layout's [auth] lines; ``existing_*``: what the configs hold, None when
    a config does not exist yet."""
    additions: dict[str, str] = {}
    conflicts: list[str] = []

    def choose(name: str, current: str | None, generated: str) -> str:
        value = current if current is not None else env.get(name) or generated
        if name not in env:
            additions[name] = value
        elif env[name] != value:
            conflicts.append(name)
        return value

    sections = {
        section: {key: choose(env_key(section, key), (existing_cluster or {}).get(section, {}).get(key), generated)
                  for key, generated in keys.items()}
        for section, keys in fresh.items()
    }
    settled_users = {}
    for name, line in users.items():
        roles = line.split()[1:]
        current = existing_users.get(name, "").split()[:1] if existing_users is not None else []
        key = choose(user_env_name(name), current[0] if current else None, secrets.token_urlsafe(18))
        settled_users[name] = " ".join([key, *roles])
    return Settled(sections, settled_users, additions, tuple(conflicts))


def _existing_cluster(layout: ClusterLayout, fresh: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]] | None:
    if not layout.cluster_conf.exists():
        return None
    config = ConfigFile(layout.cluster_conf, environ={})
    return {s: {k: v for k in keys if (v := config.value(s, k)) is not None} for s, keys in fresh.items()}


def apply_env_file(layout: ClusterLayout, path: Path) -> tuple[ClusterLayout, dict[str, dict[str, str]], Settled]:
    """Settle the secrets with ``path`` and update it; the layout (users
    with their keys) and martlet.conf's sections for ``init_cluster``."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    fresh = new_cluster_secrets()
    existing_users = ConfigFile(layout.proxy_conf, environ={}).raw("auth") if layout.proxy_conf.exists() else None
    settled = settle(parse_env(text), fresh, layout.users, _existing_cluster(layout, fresh), existing_users)
    if settled.additions:
        lines = [f"{name}={value}" for name, value in settled.additions.items()]
        prefix = text if text else HEADER
        if prefix and not prefix.endswith("\n"):
            prefix += "\n"
        _write_private(path, prefix + "\n".join(lines) + "\n", new=not text)
    return replace(layout, users=settled.users), settled.cluster_sections, settled


def _write_private(path: Path, text: str, new: bool) -> None:
    """Write ``path`` keeping its mode and owner; a new one readable by its
    owner only and, when root writes it, owned like its folder (the
    operator's, not root's)."""
    before = path.parent.stat() if new else path.stat()
    write_text_atomic(path, text)
    os.chmod(path, 0o600 if new else before.st_mode & 0o777)
    if os.geteuid() == 0:
        os.chown(path, before.st_uid, before.st_gid)
