"""Swift-style timestamps.

A timestamp is seconds since the epoch, normalized as ``%016.05f`` so that
the string form sorts the same way as the number. An optional ``offset``
orders internal events that share one wall-clock time (e.g. a container
update replayed after the object write it describes); its internal form is
``<normal>_<offset as 16 hex digits>``, which still sorts correctly as a
string because the normal part has a fixed width.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import total_ordering

from martlet.errors import BadRequest

PRECISION = 1e-5
TICKS_PER_SECOND = 100_000
# Ten digits of integer seconds cover the years up to 2286; one more digit
# than that would break fixed-width string ordering, so it is refused.
MAX_SECONDS = 9_999_999_999.99999


@total_ordering
@dataclass(frozen=True, slots=True)
class Timestamp:
    """A point in time at 10 microsecond resolution, plus an ordering offset."""

    ticks: int  # units of PRECISION since the epoch; exact, unlike a float
    offset: int = 0

    def __post_init__(self) -> None:
        if self.ticks < 0 or self.ticks > round(MAX_SECONDS / PRECISION):
            raise BadRequest(f"timestamp out of range: {self.ticks * PRECISION!r}")
        if self.offset < 0 or self.offset >= 1 << 64:
            raise BadRequest(f"timestamp offset out of range: {self.offset}")

    @classmethod
    def now(cls) -> Timestamp:
        return cls.from_float(time.time())

    @classmethod
    def from_float(cls, seconds: float, offset: int = 0) -> Timestamp:
        return cls(round(seconds / PRECISION), offset)

    @classmethod
    def parse(cls, value: str | float | int | Timestamp) -> Timestamp:
        """Parse ``1700000000.12345``, ``1700000000``, or the internal form.

        Raises BadRequest (400) for anything else, so a bad ``X-Timestamp``
        header is the client's mistake, never a 500.
        """
        if isinstance(value, Timestamp):
            return value
        if isinstance(value, (int, float)):
            return cls.from_float(float(value))
        text = value.strip()
        offset = 0
        if "_" in text:
            text, _, hex_offset = text.partition("_")
            try:
                offset = int(hex_offset, 16)
            except ValueError:
                raise BadRequest(f"invalid timestamp offset: {value!r}") from None
        whole, _, frac = text.partition(".")
        if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 5:
            raise BadRequest(f"invalid timestamp: {value!r}")
        ticks = int(whole) * 100_000 + int(frac.ljust(5, "0") or "0")
        return cls(ticks, offset)

    @property
    def seconds(self) -> float:
        # Division by the exact integer rounds once; ticks * 1e-5 would not
        # (1700000000.00000 came out as 1700000000.0000002, a second late
        # once rounded up for Last-Modified).
        return self.ticks / TICKS_PER_SECOND

    @property
    def normal(self) -> str:
        """The ``%016.05f`` form: what clients and file names see."""
        whole, frac = divmod(self.ticks, 100_000)
        return f"{whole:010d}.{frac:05d}"

    @property
    def internal(self) -> str:
        """The normal form, with the offset appended when there is one."""
        if self.offset:
            return f"{self.normal}_{self.offset:016x}"
        return self.normal

    def with_offset(self, offset: int) -> Timestamp:
        return Timestamp(self.ticks, offset)

    def __str__(self) -> str:
        return self.internal

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Timestamp):
            return NotImplemented
        return (self.ticks, self.offset) < (other.ticks, other.offset)


# An object's X-Delete-At is whole seconds, at most ten digits (Swift's cap,
# for the same fixed-width ordering): later times are clamped to it.
MAX_DELETE_AT = 9_999_999_999
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")
_HUGE_DIGITS = 40


def parse_integer(value: str, name: str) -> int:
    """An integer header (``X-Delete-At``, ``X-Delete-After``) in ASCII
    digits of any size; 400 ``Non-integer <name>`` for anything else
    (``1.5``, ``inf``, ``1e400``)."""
    if not _INTEGER.fullmatch(value):
        raise BadRequest(f"Non-integer {name}")
    text = value.strip()
    if len(text) > _HUGE_DIGITS:  # int() refuses thousands of digits; the sign is all that matters
        return -(10**_HUGE_DIGITS) if text.startswith("-") else 10**_HUGE_DIGITS
    return int(text)


def clamp_delete_at(seconds: int) -> int:
    """An expiry time within what is stored: 0 to ``MAX_DELETE_AT``."""
    return min(max(0, seconds), MAX_DELETE_AT)
