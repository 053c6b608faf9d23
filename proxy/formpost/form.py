"""FormPOST's pure parts: a streaming multipart/form-data splitter, the
``Content-Disposition`` of a part, and the form's signature and settings.

The splitter is fed the body as it arrives and hands back events - a part's
headers, pieces of its data, its end - holding back only as many bytes as
a boundary could span, so a file of any size passes through in pieces.

A form's signature is an HMAC, keyed by an account's or container's
``Temp-URL-Key[-2]``, over ``path``, ``redirect``, ``max_file_size``,
``max_file_count`` and ``expires`` joined by ``\\n`` (the path decoded, from
``/v1/`` on; an absent field signs as ``''`` for the redirect and ``0`` for
the numbers). Its form is a temp URL signature's (``proxy.tempurl.signature``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from proxy.tempurl.signature import hex_hmac

# The most of a plain field's value kept (the rest is read and dropped).
MAX_VALUE_LENGTH = 4096
# The most bytes of one part's header block.
MAX_HEADER_BLOCK = 8192

_DISPOSITION_ATTR = re.compile(r';\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


class FormInvalid(ValueError):
    """A form that cannot be read: a 400 ``FormPost: <message>``."""


class FormUnauthorized(ValueError):
    """A form whose signature does not hold: a 401."""


@dataclass(frozen=True)
class PartStart:
    headers: Mapping[str, str]  # lowercase names


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnd:
    last: bool  # the closing boundary followed it


Event = PartStart | PartData | PartEnd


class MultipartSplitter:
    """Splits a multipart body fed in pieces into events.

    As Swift reads a form: blank lines may come before the first boundary
    but nothing else (``FormInvalid('invalid starting boundary')``); each
    part's data ends at ``CRLF--boundary``; what follows the closing
    boundary is ignored.
    """

    def __init__(self, boundary: bytes) -> None:
        self._delimiter = b"--" + boundary
        self._buffer = b""
        self._state = "start"  # start -> headers -> data -> (headers | done)

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while True:
            before = (self._state, len(self._buffer))
            if self._state == "start":
                self._start()
            elif self._state == "headers":
                self._headers(events)
            elif self._state == "data":
                self._data(events)
            else:
                self._buffer = b""
            if (self._state, len(self._buffer)) == before:
                return events

    def finish(self) -> None:
        """The body has ended: it must have ended with the closing boundary."""
        if self._state == "start":
            raise FormInvalid("invalid starting boundary")
        if self._state != "done":
            raise FormInvalid("unexpected end of form")

    def _start(self) -> None:
        while self._buffer.startswith(b"\r\n"):
            self._buffer = self._buffer[2:]
        line_end = self._buffer.find(b"\r\n")
        if line_end < 0:
            if len(self._buffer) > len(self._delimiter) + 2 and not self._buffer.startswith(self._delimiter):
                raise FormInvalid("invalid starting boundary")
            return
        if self._buffer[:line_end].strip() != self._delimiter:
            raise FormInvalid("invalid starting boundary")
        self._buffer = self._buffer[line_end + 2:]
        self._state = "headers"

    def _headers(self, events: list[Event]) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if self._buffer.startswith(b"\r\n"):
            end, block = 0, b""
        elif end < 0:
            if len(self._buffer) > MAX_HEADER_BLOCK:
                raise FormInvalid("part headers too long")
            return
        else:
            block = self._buffer[:end]
        if end > MAX_HEADER_BLOCK:
            raise FormInvalid("part headers too long")
        self._buffer = self._buffer[end + (2 if not block else 4):]
        events.append(PartStart(parse_part_headers(block)))
        self._state = "data"

    def _data(self, events: list[Event]) -> None:
        marker = b"\r\n" + self._delimiter
        at = self._buffer.find(marker)
        if at < 0:
            # keep what could be the start of the marker
            keep = len(marker) - 1
            if len(self._buffer) > keep:
                events.append(PartData(self._buffer[:-keep]))
                self._buffer = self._buffer[-keep:]
            return
        after = self._buffer[at + len(marker):]
        if len(after) < 2:
            if at:
                events.append(PartData(self._buffer[:at]))
                self._buffer = self._buffer[at:]
            return
        if at:
            events.append(PartData(self._buffer[:at]))
        if after.startswith(b"--"):
            events.append(PartEnd(last=True))
            self._buffer = b""
            self._state = "done"
            return
        line_end = after.find(b"\r\n")
        if line_end < 0:
            self._buffer = self._buffer[at:]
            if len(after) > 256:
                raise FormInvalid("bad boundary line")
            return
        if after[:line_end].strip():
            raise FormInvalid("bad boundary line")
        events.append(PartEnd(last=False))
        self._buffer = after[line_end + 2:]
        self._state = "headers"


def parse_part_headers(block: bytes) -> dict[str, str]:
    """A part's header lines, names lowercased (bad lines are skipped)."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "surrogateescape").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers


def parse_disposition(value: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="f"; filename="a.txt"`` -> ``("form-data",
    {"name": "f", "filename": "a.txt"})`` (attribute names lowercased)."""
    kind, _, rest = value.partition(";")
    attrs = {}
    for match in _DISPOSITION_ATTR.finditer(";" + rest):
        quoted, plain = match.group(2), match.group(3)
        attrs[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain.strip()
    return kind.strip().lower(), attrs


def field_value(data: bytes) -> str:
    """A plain field's value as the form gives it: UTF-8, trailing CR, LF
    and ``-`` dropped (Swift's reading)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormInvalid("field value is not UTF-8") from exc
    return text.rstrip("\r\n-")


def form_integer(attributes: Mapping[str, str], name: str, message: str) -> int:
    """An integer field (absent or empty: 0), or ``FormInvalid(message)``."""
    try:
        return int(attributes.get(name) or 0)
    except ValueError:
        raise FormInvalid(message) from None


def expiry_headers(attributes: Mapping[str, str]) -> dict[str, str]:
    """``X-Delete-At`` / ``X-Delete-After`` of the form's ``x_delete_at`` /
    ``x_delete_after`` (each must be an integer when given)."""
    headers = {}
    for name, header, message in (
            ("x_delete_at", "X-Delete-At", "x_delete_at not an integer: Unix timestamp required."),
            ("x_delete_after", "X-Delete-After", "x_delete_after not an integer: Number of seconds required.")):
        if name in attributes:
            try:
                headers[header] = str(int(attributes[name]))
            except ValueError:
                raise FormInvalid(message) from None
    return headers


def form_hmac(path: str, attributes: Mapping[str, str], key: str, digest: str) -> str:
    body = "\n".join([path, attributes.get("redirect") or "", attributes.get("max_file_size") or "0",
                      attributes.get("max_file_count") or "0", attributes.get("expires") or "0"])
    return hex_hmac(key, body, digest)


def signature_holds(path: str, attributes: Mapping[str, str], keys: Sequence[str], digest: str,
                    sig_hex: str) -> bool:
    """Does one of ``keys`` sign this form? Every key is tried, each in
    constant time."""
    found = False
    for key in keys:
        if hmac.compare_digest(sig_hex.encode("ascii", "replace"), form_hmac(path, attributes, key, digest).encode()):
            found = True
    return found


def redirect_location(redirect: str, status: int, message: str) -> str:
    """Where the browser goes after the form: the redirect with the
    outcome's ``status`` and ``message`` added to its query."""
    joiner = "&" if "?" in redirect else "?"
    return f"{redirect}{joiner}status={status}&message={quote(message)}"
