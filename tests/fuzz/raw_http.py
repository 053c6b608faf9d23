"""Requests as raw bytes over a socket, and what the cluster's logs said.

A client library quotes, refuses or normalises exactly the inputs a fuzz
suite is after (bytes that are no UTF-8 in a path, a NUL, two
Content-Lengths, a header name with a space), so ``RawRequest`` is written
on the wire as it is. The answer is read with ``http.client``'s parser,
which handles what the server may answer with: a length, chunks, or a
close.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass, field
from pathlib import Path

# A request that gets no answer within this long has hung the server: a
# cap on the wait, not a measurement (every answer here takes milliseconds).
READ_TIMEOUT = 60.0
# http.client refuses an answer of more than 100 headers; an object with
# Swift's 90 metadata items and the standard headers has more.
http.client._MAXHEADERS = 1000  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RawRequest:
    """One HTTP/1.1 request, every part bytes. ``framing`` is how the body
    goes: ``length`` (a correct Content-Length), ``chunked`` (correct
    chunks), or the literal framing headers in ``headers`` (``raw``)."""

    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    framing: str = "length"

    def wire(self, host: bytes) -> bytes:
        lines = [self.method + b" " + self.target + b" HTTP/1.1", b"Host: " + host]
        lines += [name + b": " + value for name, value in self.headers]
        body = self.body
        if self.framing == "length":
            lines.append(b"Content-Length: %d" % len(body))
        elif self.framing == "chunked":
            lines.append(b"Transfer-Encoding: chunked")
            body = chunked(body)
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    def __repr__(self) -> str:
        """The request as it goes on the wire (long runs cut), to paste."""
        wire = self.wire(b"x")
        return f"RawRequest<{len(wire)} bytes: {wire[:1500]!r}{'...' if len(wire) > 1500 else ''}>"

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def chunked(body: bytes, size: int = 7) -> bytes:
    """``body`` as HTTP/1.1 chunks of ``size`` bytes, and the last chunk."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def send(port: int, request: RawRequest) -> Reply | None:
    """Send ``request`` to 127.0.0.1:``port`` and read the answer; None when
    the server closed the connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as sock:
        try:
            sock.sendall(request.wire(b"127.0.0.1:%d" % port))
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (and closed) before the body was read: read the answer
        method = "HEAD" if request.method == b"HEAD" else "GET"
        answer = http.client.HTTPResponse(sock, method=method)
        try:
            answer.begin()
            body = answer.read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        finally:
            answer.close()
    return Reply(answer.status, {k.lower(): v for k, v in answer.getheaders()}, body)


@dataclass
class LogWatch:
    """Tracebacks written to the cluster's logs since the last look: only
    the bytes each log has gained are read."""

    log_dir: Path
    offsets: dict[Path, int] = field(default_factory=dict)

    def skip_to_end(self) -> None:
        for path in self.log_dir.glob("*.log"):
            self.offsets[path] = path.stat().st_size

    def new_tracebacks(self) -> list[str]:
        found = []
        for path in sorted(self.log_dir.glob("*.log")):
            with open(path, "rb") as log:
                log.seek(self.offsets.get(path, 0))
                text = log.read()
                self.offsets[path] = log.tell()
            found += [f"{path.name}: {line[:2000]!r}" for line in text.splitlines() if b"Traceback" in line]
        return found
