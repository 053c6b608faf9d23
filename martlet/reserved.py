"""Reserved names: the namespace clients can never name (pure: no I/O).

A reserved name starts with NUL and joins its parts with NUL
(``get_reserved_name("versions", "c") == "\\x00versions\\x00c"``). NUL is
the smallest character, so every reserved name sorts before every client
name: a listing hides them by starting just past ``\\x00`` (``RESERVED_END``).

Clients cannot name one: the proxy refuses a path with NUL (412 "Invalid
UTF8 or contains NULL") and drops every ``X-Backend-*`` header a client
sends. Storage servers refuse a NUL in a name, and hide reserved names from
listings, unless the request carries ``X-Backend-Allow-Reserved-Names:
true``, which ``martlet.backend`` adds to every backend request whose path
names a reserved name and which a feature adds to a listing of them.
"""

from __future__ import annotations

from collections.abc import Mapping

RESERVED = "\x00"
# The least string above every reserved name: a listing that must not show
# them starts here.
RESERVED_END = "\x01"
ALLOW_RESERVED_HEADER = "X-Backend-Allow-Reserved-Names"


def get_reserved_name(*parts: str) -> str:
    """``parts`` joined into one reserved name; a part may not hold NUL."""
    if not parts:
        raise ValueError("a reserved name needs at least one part")
    if any(RESERVED in part for part in parts):
        raise ValueError("a reserved name part may not hold NUL")
    return RESERVED + RESERVED.join(parts)


def split_reserved_name(name: str) -> list[str]:
    """The parts of a reserved name; ValueError for a client name."""
    if not is_reserved(name):
        raise ValueError(f"not a reserved name: {name!r}")
    return name[1:].split(RESERVED)


def is_reserved(name: str | None) -> bool:
    return bool(name) and name.startswith(RESERVED)  # type: ignore[union-attr]


def allows_reserved(headers: Mapping[str, str]) -> bool:
    """Did the proxy (never a client) allow reserved names on this request?"""
    return headers.get(ALLOW_RESERVED_HEADER, "").strip().lower() == "true"
