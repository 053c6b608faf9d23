"""The one exception taxonomy of martlet.

Each domain error carries the HTTP status it maps to; ``martlet.http``'s
middleware turns it into a response once, at the edge, so handlers never
repeat try/except ladders. The message is the short reason a client sees:
it must never contain a traceback or internal paths.
"""

from __future__ import annotations


class MartletError(Exception):
    """Base of every error that has an HTTP meaning."""

    http_status = 500
    default_reason = "Internal Server Error"

    def __init__(self, reason: str | None = None, *, headers: dict[str, str] | None = None):
        self.reason = reason or self.default_reason
        self.headers = dict(headers or {})
        super().__init__(self.reason)


class BadRequest(MartletError):
    http_status = 400
    default_reason = "Bad Request"


class Unauthorized(MartletError):
    http_status = 401
    default_reason = "Unauthorized"


class Forbidden(MartletError):
    http_status = 403
    default_reason = "Forbidden"


class NotFound(MartletError):
    http_status = 404
    default_reason = "Not Found"


class MethodNotAllowed(MartletError):
    http_status = 405
    default_reason = "Method Not Allowed"


class NotAcceptable(MartletError):
    """No representation matches the request's Accept header."""

    http_status = 406
    default_reason = "Not Acceptable"


class Conflict(MartletError):
    http_status = 409
    default_reason = "Conflict"


class RequestTimeout(MartletError):
    """The client stopped sending a body it had announced."""

    http_status = 408
    default_reason = "Request Timeout"


class LengthRequired(MartletError):
    http_status = 411
    default_reason = "Length Required"


class PreconditionFailed(MartletError):
    http_status = 412
    default_reason = "Precondition Failed"


class EntityTooLarge(MartletError):
    http_status = 413
    default_reason = "Request Entity Too Large"


class RangeNotSatisfiable(MartletError):
    http_status = 416
    default_reason = "Requested Range Not Satisfiable"


class Unprocessable(MartletError):
    """The body does not match what the request promised (e.g. its ETag)."""

    http_status = 422
    default_reason = "Unprocessable Entity"


class ClientDisconnect(MartletError):
    """The client went away or sent less than it announced (nginx's 499)."""

    http_status = 499
    default_reason = "Client Disconnect"


class Unsupported(MartletError):
    """A request the server does not implement (a Transfer-Encoding it
    cannot decode)."""

    http_status = 501
    default_reason = "Not Implemented"


class ServiceUnavailable(MartletError):
    """No quorum, or a backend timed out."""

    http_status = 503
    default_reason = "Service Unavailable"


class DeviceUnavailable(MartletError):
    """The device is missing, unmounted or full."""

    http_status = 507
    default_reason = "Insufficient Storage"


class ConfigError(Exception):
    """A configuration file or value is wrong. Not an HTTP error: it stops a
    daemon from starting, with a message naming the file, section and key."""


class RingError(Exception):
    """A ring or builder file is missing, truncated, corrupt or of an unknown
    version, or a builder operation is invalid."""


class UsageError(Exception):
    """Bad command-line input. Not an HTTP error: the ``martlet`` command
    prints it as one line and exits with code 2, never a traceback."""
