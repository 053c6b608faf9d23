"""Request header names as eventlet takes them: any visible ASCII.

aiohttp's parser refuses a request whose header names are not RFC 9110
tokens (``x-amz-meta-(``, ``x-amz-meta-"``...) with a 400 before any
handler runs, where Swift (eventlet) serves it: S3 clients send such user
metadata, and S3 stores the ones it allows and ignores the rest.

``VisibleNamesParser`` takes a header line whose name is not a token but
is visible ASCII (``!`` to ``~``: no space, tab, control character or
byte above 0x7F; no colon, which ends the name) out of what aiohttp's own
parser sees, lets that parser judge every other line as it always does,
then adds the line back, its value checked as aiohttp checks values. No
such name can be, or be read as, a header that frames the message
(``Content-Length``, ``Transfer-Encoding``, ``Host``...): those are
tokens, a name is compared whole, and a name with white space or control
characters, the material of request smuggling, is still refused.
"""

from __future__ import annotations

import re

from aiohttp import http_exceptions, http_parser
from multidict import CIMultiDict, CIMultiDictProxy

_TOKEN = re.compile(rb"[0-9A-Za-z!#$%&'*+\-.^_`|~]+")
_VISIBLE = re.compile(rb"[\x21-\x7e]+")
# What no header value may hold (RFC 9110 5.5: controls but HTAB).
_FORBIDDEN_IN_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

RawHeaders = tuple[tuple[bytes, bytes], ...]


def split_visible(lines: list[bytes]) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """(lines for aiohttp's parser, (name, value) of the visible-ASCII
    names that are not tokens). Every other line, bad ones included, is
    left for aiohttp's parser to judge."""
    kept: list[bytes] = []
    taken: list[tuple[bytes, bytes]] = []
    for index, line in enumerate(lines):
        if not line:  # the end of the headers: the rest is aiohttp's
            kept.extend(lines[index:])
            break
        name, colon, value = line.partition(b":")
        if colon and name and not _TOKEN.fullmatch(name) and _VISIBLE.fullmatch(name):
            value = value.strip(b" \t")
            if _FORBIDDEN_IN_VALUE.search(value):
                raise http_exceptions.InvalidHeader(value)
            taken.append((name, value))
        else:
            kept.append(line)
    return kept, taken


class VisibleNamesParser(http_parser.HeadersParser):
    """aiohttp's ``HeadersParser``, taking visible-ASCII names too."""

    def parse_headers(self, lines: list[bytes]) -> tuple[CIMultiDictProxy[str], RawHeaders]:
        kept, taken = split_visible(lines)
        headers, raw = super().parse_headers(kept)
        if not taken:
            return headers, raw
        merged: CIMultiDict[str] = CIMultiDict(headers)
        for name, value in taken:
            merged.add(name.decode("ascii"), value.decode("utf-8", "surrogateescape"))
        return CIMultiDictProxy(merged), (*raw, *taken)


def visible_names(parser: http_parser.HeadersParser) -> VisibleNamesParser:
    """The same parser (its limits), taking visible-ASCII names."""
    return VisibleNamesParser(parser.max_line_size, parser.max_headers, parser.max_field_size, parser._lax)
