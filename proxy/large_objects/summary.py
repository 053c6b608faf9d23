"""The summary bodies of long large-object operations, pure: no I/O.

A manifest DELETE (``?multipart-manifest=delete``) and a heartbeating
manifest PUT (``?multipart-manifest=put&heartbeat=on``) cannot tell their
outcome in the status line (a DELETE answers 200 whatever happened to the
segments; a heartbeating PUT has answered 202 before it knows), so the
body says it, in Swift's bulk-operation form: plain text by default, JSON
or XML as the client's ``Accept`` asks::

    Number Deleted: 5          {"Number Deleted": 5, ...,      <delete>
    Response Status: 200 OK     "Errors": [["/c/o", "..."]]}    <number_deleted>5</number_deleted>
    Errors:                                                     <errors>...</errors>
    /c/o, 409 Conflict                                          </delete>

Fields are written in name order, then the errors as (quoted path, reason).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from xml.sax.saxutils import escape

TEXT, JSON, XML = "text/plain", "application/json", "application/xml"

# Swift's reason phrases and default bodies where Python's differ or have none.
_PHRASES = {422: "Unprocessable Entity"}
_EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
    422: "Unable to process the contained instructions",
}


def summary_format(accept: str | None) -> str:
    """The body's content type for a client's ``Accept`` (text unless it
    names JSON or XML)."""
    accept = (accept or "").lower()
    if "application/json" in accept:
        return JSON
    if "application/xml" in accept or "text/xml" in accept:
        return XML
    return TEXT


def status_line(status: int) -> str:
    """``201 Created``: the ``Response Status`` field of a summary."""
    phrase = _PHRASES.get(status)
    if phrase is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
    return f"{status} {phrase}".strip()


def error_body(status: int, reason: str | None = None) -> str:
    """A failed step's ``Response Body``: its phrase, then why (Swift's
    default explanation when there is no reason of our own)."""
    why = reason or _EXPLANATIONS.get(status, "")
    phrase = status_line(status).partition(" ")[2]
    return f"{phrase}\n{why}" if why and why != phrase else phrase


@dataclass(frozen=True)
class Summary:
    """An outcome to report: its fields and its (quoted path, reason) errors."""

    fields: Mapping[str, object]
    errors: Sequence[tuple[str, str]] = ()


def summary_body(content_type: str, fields: Mapping[str, object], errors: Sequence[tuple[str, str]],
                 root: str) -> bytes:
    """The summary in ``content_type`` (from ``summary_format``); ``root``
    names the XML document (``delete``, ``upload``)."""
    if content_type == JSON:
        return json.dumps({**fields, "Errors": [list(e) for e in errors]}).encode("utf-8")
    if content_type == XML:
        out = [f"<{root}>\n"]
        for key in sorted(fields):
            tag = key.replace(" ", "_").lower()
            out.append(f"<{tag}>{escape(str(fields[key]))}</{tag}>\n")
        out.append("<errors>\n")
        out.extend(f"<object><name>{escape(name)}</name><status>{escape(status)}</status></object>\n"
                   for name, status in errors)
        out.append(f"</errors>\n</{root}>\n")
        return "".join(out).encode("utf-8")
    lines = [f"{key}: {fields[key]}\n" for key in sorted(fields)]
    lines.append("Errors:\n")
    lines.extend(f"{name}, {status}\n" for name, status in errors)
    return "".join(lines).encode("utf-8")
