"""S3's XML documents: building them from records, and reading the few a
client sends (CompleteMultipartUpload, Delete). Pure functions.

Every answer document is in S3's namespace
(``http://s3.amazonaws.com/doc/2006-03-01/``). Requests are parsed with
the standard library's ElementTree, which expands no external entities;
their size is bounded by the caller before they get here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from xml.sax.saxutils import escape

from proxy.s3api.errors import S3Error

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'

Node = tuple[str, "str | int | bool | list[Node] | None"]


def element(name: str, value: str | int | bool | list[Node] | None) -> str:
    """``<name>value</name>``; a list nests elements; None leaves it out.
    ``name`` may carry attributes after a space (``Grantee xsi:type="..."``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "".join(element(n, v) for n, v in value)
    else:
        text = escape(str(value))
    return f"<{name}>{text}</{name.split(' ', 1)[0]}>"


def document(root: str, children: Iterable[Node]) -> bytes:
    body = "".join(element(n, v) for n, v in children)
    return f'{HEADER}<{root} xmlns="{NAMESPACE}">{body}</{root}>'.encode("utf-8")


def text_document(root: str, text: str) -> bytes:
    """``<root>text</root>`` in S3's namespace (GetBucketLocation)."""
    return f'{HEADER}<{root} xmlns="{NAMESPACE}">{escape(text)}</{root}>'.encode("utf-8")


def parse(body: bytes, root: str) -> ET.Element:
    """The document's root, which must be ``root`` (any namespace), or
    MalformedXML."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise S3Error("MalformedXML")
    try:
        tree = ET.fromstring(body)
    except ET.ParseError:
        raise S3Error("MalformedXML") from None
    if local(tree.tag) != root:
        raise S3Error("MalformedXML")
    return tree


def local(tag: str) -> str:
    """A tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if local(child.tag) == name]


def child_text(node: ET.Element, name: str) -> str | None:
    found = children(node, name)
    return (found[0].text or "") if found else None
