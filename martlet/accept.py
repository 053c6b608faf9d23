"""``Accept`` negotiation (pure): which of the types a server can render a
client wants most. Listings (storage) and bulk results (proxy) offer the
same four text types and choose among them here.
"""

from __future__ import annotations

from collections.abc import Sequence

from martlet.errors import BadRequest

# What listings and bulk results can be rendered as, in Swift's order of
# preference on ties.
TEXT_FORMATS = ("text/plain", "application/json", "application/xml", "text/xml")


def parse_accept(accept: str) -> list[tuple[str, float]]:
    """``(media range, q)`` pairs; 400 for a q that is not a number."""
    ranges = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        quality = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    raise BadRequest("invalid Accept header") from None
        ranges.append((fields[0].lower(), quality))
    return ranges


def media_quality(offer: str, ranges: list[tuple[str, float]]) -> float:
    """q of the most specific range that matches ``offer`` (0 if none)."""
    best, specificity = 0.0, -1
    kind = offer.split("/")[0]
    for media, quality in ranges:
        if media == offer:
            rank = 2
        elif media == f"{kind}/*":
            rank = 1
        elif media == "*/*":
            rank = 0
        else:
            continue
        if rank > specificity:
            best, specificity = quality, rank
    return best


def best_match(accept: str | None, offered: Sequence[str] = TEXT_FORMATS) -> str | None:
    """The offered type the client wants most (the first offered when it
    sends no Accept), or None when it accepts none of them."""
    if not accept:
        return offered[0]
    ranges = parse_accept(accept)
    best, best_q = None, 0.0
    for offer in offered:
        quality = media_quality(offer, ranges)
        if quality > best_q:
            best, best_q = offer, quality
    return best
