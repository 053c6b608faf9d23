"""Temp URL signatures, as pure functions: what a temp URL's query says,
when it expires, which digest signs it, the HMAC each key gives, and which
key (if any) the request's signature matches.

A signature is an HMAC, keyed by one of the account's or the container's
``Temp-URL-Key`` / ``Temp-URL-Key-2``, over lines joined by ``\\n``:
``ip=<range>`` (only when ``temp_url_ip_range`` is given; first, so a path
with a newline cannot pass for it), the method, the expiry as a unix time,
and the path ``/v1/<account>/<container>/<object>`` (decoded) or, for a
``temp_url_prefix``, ``prefix:/v1/<account>/<container>/<prefix>``.

The signature is given as lowercase hex (its length names the digest: 40
sha1, 64 sha256, 128 sha512) or as ``<digest>:<base64>`` (standard or
URL-safe alphabet, padding optional).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
_B64 = re.compile(r"[A-Za-z0-9+/]*")
ISO8601 = "%Y-%m-%dT%H:%M:%SZ"

ACCOUNT_SCOPE = "account"
CONTAINER_SCOPE = "container"
# Metadata names (as the info caches keep them: lowercase, prefix stripped).
KEY_NAMES = ("temp-url-key", "temp-url-key-2")
# On a write, these would let a temp URL reach data it was not signed for.
DISALLOWED_HEADERS = ("x-object-manifest", "x-symlink-target", "x-copy-from")


@dataclass(frozen=True)
class TempUrlQuery:
    """The temp URL parameters of a query (each None when absent)."""

    sig: str | None = None
    expires: str | None = None
    prefix: str | None = None
    filename: str | None = None
    inline: bool = False
    ip_range: str | None = None

    @classmethod
    def of(cls, query: Mapping[str, str]) -> TempUrlQuery:
        return cls(query.get("temp_url_sig"), query.get("temp_url_expires"), query.get("temp_url_prefix"),
                   query.get("filename"), "inline" in query, query.get("temp_url_ip_range"))

    @property
    def present(self) -> bool:
        """Does the request try to be a temp URL at all?"""
        return self.sig is not None or self.expires is not None

    def kept_query(self) -> dict[str, str]:
        """The query the request goes on with: its temp URL parameters only
        (a temp URL grants exactly the request it was signed for, not
        ``?multipart-manifest=get`` or ``?symlink=get`` added to it)."""
        kept = {"temp_url_sig": self.sig or "", "temp_url_expires": self.expires or ""}
        if self.prefix is not None:
            kept["temp_url_prefix"] = self.prefix
        if self.filename:
            kept["filename"] = self.filename
        if self.inline:
            kept["inline"] = ""
        return kept


def parse_expires(value: str, now: float) -> int:
    """The expiry as a unix time (an integer, or ISO 8601 UTC
    ``2026-12-04T10:00:00Z``); 0 when it is neither or already past."""
    try:
        expires = int(value)
    except ValueError:
        try:
            expires = calendar.timegm(time.strptime(value, ISO8601))
        except ValueError:
            return 0
    return expires if expires >= now else 0


def split_signature(sig: str) -> tuple[str, str]:
    """``(digest name, lowercase-or-as-given hex)`` of a signature; raises
    ValueError for one that decodes to nothing usable."""
    if ":" in sig:
        digest, encoded = sig.split(":", 1)
        if ("-" in encoded or "_" in encoded) and not ("+" in encoded or "/" in encoded):
            encoded = encoded.replace("-", "+").replace("_", "/")
        encoded = encoded.rstrip("=")
        if not _B64.fullmatch(encoded) or len(encoded) % 4 == 1:
            raise ValueError("bad base64 signature")
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
        return digest, raw.hex()
    try:
        binascii.unhexlify(sig)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("bad hex signature") from exc
    digest_name = _HEX_LENGTHS.get(len(sig))
    if digest_name is None:
        raise ValueError("a hex signature of no known digest's length")
    return digest_name, sig


def signed_path(account: str, container: str, obj: str, prefix: str | None) -> str:
    """What the signature covers: the object, or the prefix it was given for."""
    if prefix is None:
        return f"/v1/{account}/{container}/{obj}"
    return f"prefix:/v1/{account}/{container}/{prefix}"


def compute_hmac(method: str, expires: int, path: str, key: str, digest: str = "sha256",
                 ip_range: str | None = None) -> str:
    """The hex HMAC a temp URL for ``method`` on ``path`` carries."""
    lines = [method, str(expires), path]
    if ip_range:
        lines.insert(0, f"ip={ip_range}")
    return hex_hmac(key, "\n".join(lines), digest)


def hex_hmac(key: str, message: str, digest: str) -> str:
    """The hex HMAC of ``message`` under ``key``, both as the client's
    bytes (names and keys may hold any byte, kept by surrogateescape);
    the one signature rule temp URLs and form posts share."""
    raw_key = key.encode("utf-8", "surrogateescape")
    return hmac.new(raw_key, message.encode("utf-8", "surrogateescape"), DIGESTS[digest]).hexdigest()


def keys_of(meta: Mapping[str, str]) -> list[str]:
    """The temp URL keys in an account's or container's metadata."""
    return [value for name, value in meta.items() if name.lower() in KEY_NAMES]


def signing_methods(method: str) -> tuple[str, ...]:
    """The methods whose signature lets ``method`` through: a HEAD may use
    a temp URL signed for HEAD, GET, POST or PUT."""
    return ("HEAD", "GET", "POST", "PUT") if method == "HEAD" else (method,)


def matching_scope(sig_hex: str, method: str, expires: int, path: str, digest: str,
                   scoped_keys: Sequence[tuple[str, str]], ip_range: str | None = None) -> str | None:
    """The scope (``account`` / ``container``) of the key whose HMAC is the
    signature, or None. Every candidate is compared in constant time."""
    found = None
    for signing_method in signing_methods(method):
        for key, scope in scoped_keys:
            expected = compute_hmac(signing_method, expires, path, key, digest, ip_range)
            if hmac.compare_digest(sig_hex.encode("ascii", "replace"), expected.encode("ascii")) and found is None:
                found = scope
    return found


@dataclass(frozen=True)
class HeaderRule:
    """Names to remove unless allowed; a name ending in ``*`` is a prefix."""

    remove: tuple[str, ...]
    allow: tuple[str, ...] = ()

    @classmethod
    @functools.cache
    def of(cls, remove: tuple[str, ...], allow: tuple[str, ...]) -> HeaderRule:
        """The rule of a config's two lists, built once per config."""
        return cls(_words(remove), _words(allow))

    def drops(self, name: str) -> bool:
        lower = name.lower()
        return _matches(lower, self.remove) and not _matches(lower, self.allow)


def _words(items: Iterable[str]) -> tuple[str, ...]:
    """Config lists: comma-separated items that may themselves hold
    space-separated words (Swift's own form)."""
    return tuple(word.lower() for item in items for word in item.split())


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def disposition(kind: str, filename: str) -> str:
    """``Content-Disposition`` naming a file (RFC 6266, with the RFC 5987
    ``filename*`` form for any character)."""
    return f"{kind}; filename=\"{quote(filename, safe=' /')}\"; filename*=UTF-8''{quote(filename)}"


def answer_disposition(query: TempUrlQuery, existing: str | None, obj: str) -> str:
    """The ``Content-Disposition`` of a temp URL's GET/HEAD answer: as the
    query asks (``inline``, ``filename``), else the object's own, else an
    attachment named after the object's last path segment."""
    if query.inline:
        value = disposition("inline", query.filename) if query.filename else "inline"
    elif query.filename:
        value = disposition("attachment", query.filename)
    elif existing:
        value = existing
    else:
        value = disposition("attachment", ("/" + obj).rstrip("/").rsplit("/", 1)[-1])
    return value.replace("\n", "%0A")


@functools.cache
def allowed_digests(configured: tuple[str, ...]) -> frozenset[str]:
    """The configured digests we know (all of them when none is); worked
    out once per config."""
    names = {word.lower() for word in _words(configured)} & set(DIGESTS)
    return frozenset(names or DIGESTS)
