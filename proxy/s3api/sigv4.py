"""AWS Signature Version 4, as S3 checks it: pure functions, no I/O.

A request carries its signature either in the ``Authorization`` header
(``AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/s3/aws4_request,
SignedHeaders=..., Signature=...``) or in the query of a presigned URL
(``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``). Either
way the server rebuilds the *canonical request* from what it received,
hashes it into the *string to sign*, derives the *signing key* from the
secret and the scope, and compares signatures in constant time
(``hmac.compare_digest``).

S3 differs from the other AWS services in two points kept here: the path
is encoded once, never normalised (``a//b`` and ``a/./b`` are keys), and
the payload hash is the ``x-amz-content-sha256`` header's value as sent
(a hex digest, ``UNSIGNED-PAYLOAD``, or a streaming marker), which the
caller checks against the body separately.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, unquote_to_bytes

from proxy.s3api.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600  # S3's limit: one week
_SPACES = re.compile(r"\s+")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class SignedRequest:
    """What a request says about its signature, before it is checked."""

    access_key: str
    date: str  # the scope's yyyymmdd
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # yyyymmddThhmmssZ
    payload_hash: str
    presigned: bool = False
    expires: int = 0  # seconds, presigned only
    # Set once the signature holds: what an aws-chunked body's chunk
    # signatures are made with (``chunked``).
    signing_key: bytes = b""

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def uri_encode(data: str | bytes, safe: str = "-_.~") -> str:
    """AWS's URI encoding: every byte but unreserved ones as %XX (upper case)."""
    return quote(data, safe=safe)


def canonical_uri(raw_path: str) -> str:
    """The path as S3 signs it: decoded once, encoded once, never normalised."""
    return uri_encode(unquote_to_bytes(raw_path), safe="/-_.~")


def canonical_query(pairs: Sequence[tuple[str, str]]) -> str:
    """``pairs`` (decoded names and values) encoded and sorted, as signed."""
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def split_raw_query(raw_query: str) -> list[tuple[str, str]]:
    """The decoded ``name=value`` pairs of a raw query string (``+`` stays
    ``+``: AWS clients encode a space as ``%20``)."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((_decode(name), _decode(value)))
    return pairs


def _decode(text: str) -> str:
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")


def canonical_headers(headers: Mapping[str, str] | Sequence[tuple[str, str]], signed: Sequence[str]) -> str:
    """``name:value\\n`` for each signed header, values trimmed and inner
    runs of spaces folded; repeated headers joined with commas."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    values: dict[str, list[str]] = {}
    for name, value in items:
        values.setdefault(name.lower(), []).append(_SPACES.sub(" ", value.strip()))
    lines = []
    for name in signed:
        if name not in values:
            raise S3Error("AccessDenied", f"The header {name} is signed but not sent")
        lines.append(f"{name}:{','.join(values[name])}\n")
    return "".join(lines)


def canonical_request(method: str, raw_path: str, query: Sequence[tuple[str, str]],
                      headers: Mapping[str, str] | Sequence[tuple[str, str]], signed: Sequence[str],
                      payload_hash: str) -> str:
    return "\n".join([method, canonical_uri(raw_path), canonical_query(query),
                      canonical_headers(headers, signed), ";".join(signed), payload_hash])


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The key of a day's signatures: it depends on nothing else, so it
    is derived once per secret and day (four HMACs), not per request."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii", "replace"), given.encode("ascii", "replace"))


# --- Reading a request's signature ------------------------------------------


def parse_authorization(value: str, headers: Mapping[str, str]) -> SignedRequest:
    """The signature of a header-signed request (``value`` is its
    ``Authorization``), or an S3 error naming what is malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise S3Error("AccessDenied", "Unsupported Authorization Type")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, text = item.strip().partition("=")
        if sep:
            fields[name] = text
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if n not in fields]
    if missing:
        raise S3Error("AuthorizationHeaderMalformed",
                      f"The authorization header is malformed; missing {missing[0]}.")
    amz_date = headers.get("x-amz-date") or _from_http_date(headers.get("date", ""))
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    return _signed(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date, payload)


def parse_presigned(query: Mapping[str, str]) -> SignedRequest:
    """The signature of a presigned URL's query."""
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        raise S3Error("AuthorizationQueryParametersError",
                      "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    needed = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
    missing = [n for n in needed if n not in query]
    if missing:
        raise S3Error("AuthorizationQueryParametersError", f"Query-string authentication requires {missing[0]}")
    text = query["X-Amz-Expires"]
    try:
        expires = int(text)
    except ValueError:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires should be a number") from None
    if expires >= 2 ** 63:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires should be a number")
    if expires < 0:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGN_EXPIRES:
        raise S3Error("AuthorizationQueryParametersError",
                      f"X-Amz-Expires must be less than {MAX_PRESIGN_EXPIRES} seconds")
    signed = _signed(query["X-Amz-Credential"], query["X-Amz-SignedHeaders"], query["X-Amz-Signature"],
                     query["X-Amz-Date"], UNSIGNED_PAYLOAD)
    return SignedRequest(**{**signed.__dict__, "presigned": True, "expires": expires})


def _signed(credential: str, signed_headers: str, signature: str, amz_date: str, payload: str) -> SignedRequest:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed; "
                      "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
    access_key, date, region, service, _ = parts
    names = tuple(signed_headers.lower().split(";"))
    if "host" not in names:
        raise S3Error("AccessDenied", "Host must be a signed header")
    if amz_day(amz_date) != date:
        raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed; "
                      f"Invalid credential date \"{date}\". This date is not the same as X-Amz-Date: \"{amz_date[:8]}\".")
    if service != "s3":
        raise S3Error("AuthorizationHeaderMalformed", f"The authorization header is malformed; "
                      f"incorrect service \"{service}\". This endpoint belongs to \"s3\".")
    return SignedRequest(access_key, date, region, service, names, signature, amz_date, payload)


@functools.lru_cache(maxsize=1024)
def parse_amz_date(text: str) -> datetime:
    """An ``x-amz-date`` (cached: the requests of a second share one, and
    ``strptime`` is slow)."""
    try:
        return datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None


@functools.lru_cache(maxsize=1024)
def amz_day(text: str) -> str:
    """The ``yyyymmdd`` of an ``x-amz-date``, as a credential scope names
    it (cached with the parse: ``strftime`` costs as much as the rest of
    reading a signature)."""
    return parse_amz_date(text).strftime("%Y%m%d")


def _from_http_date(text: str) -> str:
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None
    return when.astimezone(timezone.utc).strftime(AMZ_DATE_FORMAT)


def check_time(signed: SignedRequest, now: float, max_skew: float) -> None:
    """A header signature must be within ``max_skew`` seconds of now; a
    presigned one must not have expired (nor be from the future)."""
    when = parse_amz_date(signed.amz_date).timestamp()
    if signed.presigned:
        if when - max_skew > now:
            raise S3Error("AccessDenied", "Request is not valid yet")
        if now > when + signed.expires:
            raise S3Error("AccessDenied", "Request has expired")
        return
    if abs(now - when) > max_skew:
        raise S3Error("RequestTimeTooSkewed", "The difference between the request time and the current "
                      "time is too large.", extra={"MaxAllowedSkewMilliseconds": str(int(max_skew * 1000))})


def check_payload_hash(value: str) -> None:
    """A signed payload's hash is 64 hex digits or one of the markers."""
    if value in (UNSIGNED_PAYLOAD, STREAMING_PAYLOAD) or _HEX64.match(value) or value.startswith("STREAMING-"):
        return  # the other STREAMING- forms are refused where a body is read
    raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.")


def expected_signature(signed: SignedRequest, secret: str, method: str, raw_path: str,
                       query: Sequence[tuple[str, str]], headers: Sequence[tuple[str, str]]) -> str:
    """The signature the holder of ``secret`` would have sent."""
    if signed.presigned:
        query = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    canonical = canonical_request(method, raw_path, query, headers, signed.signed_headers, signed.payload_hash)
    key = signing_key(secret, signed.date, signed.region, signed.service)
    return sign(key, string_to_sign(signed.amz_date, signed.scope, canonical))
