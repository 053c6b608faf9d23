"""What a bulk request reports, and how (pure).

A bulk request always answers 200: its work takes long, so the status is
sent before the work is done, and the outcome is in the body - Swift's
``Response Status``, ``Response Body``, the counters and ``Errors`` (the
items that failed, each with its status), as text, JSON or XML by the
request's ``Accept``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import quote, unquote_to_bytes
from xml.sax.saxutils import escape

from martlet.accept import TEXT_FORMATS, best_match
from martlet.errors import MartletError

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Swift's words where Python's differ.
_PHRASES = {413: "Request Entity Too Large", 499: "Client Disconnect"}


def status_line(code: int) -> str:
    """``"404 Not Found"``: an item's status as Swift reports it."""
    if code in _PHRASES:
        return f"{code} {_PHRASES[code]}"
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def result_format(accept: str | None) -> str | None:
    """The body's media type, or None (a 406 reported in a plain body)."""
    try:
        return best_match(accept, TEXT_FORMATS)
    except MartletError:
        return None


@dataclass
class Outcome:
    """A bulk request's report: ``counters`` in Swift's names
    (``Number Deleted``...), the failed items as ``(quoted name, status)``."""

    status: int
    counters: dict[str, int]
    errors: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""

    def fail(self, error: MartletError) -> None:
        """The whole request failed with ``error``."""
        self.status, self.body = error.http_status, error.reason


def render(outcome: Outcome, media_type: str | None, root_tag: str) -> bytes:
    """The report in Swift's shapes (XML without its declaration, which a
    heartbeat may have sent first)."""
    fields: dict[str, object] = {"Response Status": status_line(outcome.status), "Response Body": outcome.body,
                                 **outcome.counters}
    if media_type == "application/json":
        return json.dumps({**fields, "Errors": [list(e) for e in outcome.errors]}).encode("ascii")
    if media_type is not None and media_type.endswith("/xml"):
        out = [f"<{root_tag}>\n"]
        for key in sorted(fields):
            tag = key.replace(" ", "_").lower()
            out.append(f"<{tag}>{escape(str(fields[key]))}</{tag}>\n")
        out.append("<errors>\n")
        out += [f"<object><name>{escape(name)}</name><status>{escape(status)}</status></object>\n"
                for name, status in outcome.errors]
        out.append(f"</errors>\n</{root_tag}>\n")
        return "".join(out).encode("utf-8")
    lines = [f"{key}: {fields[key]}\n" for key in sorted(fields)]
    lines.append("Errors:\n")
    lines += [f"{name}, {status}\n" for name, status in outcome.errors]
    return "".join(lines).encode("utf-8")


def quoted(name: str) -> str:
    """An item's name as reported: percent-quoted (its bytes as received)."""
    return quote(name.encode("utf-8", "surrogateescape"), safe="/")


def unquoted(line: bytes) -> str:
    """One line of a bulk-delete list: percent-decoded, its bytes that are
    no UTF-8 kept (they fail later, as that item's 412)."""
    return unquote_to_bytes(line.strip()).decode("utf-8", "surrogateescape")
