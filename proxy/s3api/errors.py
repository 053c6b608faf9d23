"""S3's errors: a code, its HTTP status, and the XML document that carries
them (``<Error><Code>...</Code><Message>...</Message>...<RequestId>``).

One exception, ``S3Error``, raised anywhere under ``proxy.s3api`` and
turned into its document once, by the feature's entry point; a Swift
status that comes back from the pipeline is mapped to the S3 code a
client expects for that operation (``from_swift_status``).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape

# S3's code -> (status, default message), from S3's error table.
CODES: Mapping[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied."),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": (400, "Error parsing the X-Amz-Credential parameter."),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we received."),
    "BucketAlreadyExists": (409, "The requested bucket name is not available."),
    "BucketAlreadyOwnedByYou": (409, "Your previous request to create the named bucket succeeded and you "
                                     "already own it."),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed object size."),
    "IncompleteBody": (400, "You did not provide the number of bytes specified by the Content-Length HTTP "
                            "header."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (403, "The AWS Access Key Id you provided does not exist in our records."),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified was invalid."),
    "InvalidPart": (400, "One or more of the specified parts could not be found. The part might not have "
                         "been uploaded, or the specified entity tag might not have matched the part's "
                         "entity tag."),
    "InvalidPartOrder": (400, "The list of parts was not in ascending order. Parts must be ordered by part "
                              "number."),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidURI": (400, "Couldn't parse the specified URI."),
    "KeyTooLongError": (400, "Your key is too long."),
    "MalformedXML": (400, "The XML you provided was not well-formed or did not validate against our "
                          "published schema."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchVersion": (404, "The specified version does not exist."),
    "NoSuchUpload": (404, "The specified multipart upload does not exist. The upload ID might be invalid, "
                          "or the multipart upload might have been aborted or completed."),
    "NotImplemented": (501, "The requested resource is not implemented"),
    "PreconditionFailed": (412, "At least one of the preconditions you specified did not hold."),
    "RequestTimeTooSkewed": (403, "The difference between the request time and the current time is too large."),
    "RequestTimeout": (400, "Your socket connection to the server was not read from or written to within "
                            "the timeout period."),
    "ServiceUnavailable": (503, "Please reduce your request rate."),
    "SignatureDoesNotMatch": (403, "The request signature we calculated does not match the signature you "
                                   "provided. Check your key and signing method."),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' header does not match what was "
                                       "computed."),
}


class S3Error(Exception):
    """An S3 error: ``code`` names its status and default message;
    ``extra`` are more elements of its document (``BucketName``...),
    ``headers`` headers of its answer (``x-amz-delete-marker``...)."""

    def __init__(self, code: str, message: str | None = None, *, extra: Mapping[str, str] | None = None,
                 status: int | None = None, headers: Mapping[str, str] | None = None) -> None:
        known = CODES.get(code, (500, code))
        self.code = code
        self.status = status if status is not None else known[0]
        self.message = message or known[1]
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        super().__init__(f"{code}: {self.message}")


def error_document(error: S3Error, resource: str, request_id: str) -> bytes:
    """The XML body of ``error``'s answer."""
    parts = [f"<Code>{escape(error.code)}</Code>", f"<Message>{escape(error.message)}</Message>"]
    parts += [f"<{name}>{escape(value)}</{name}>" for name, value in error.extra.items()]
    # No <Resource>, as Swift's s3api: it would echo a client's path into the answer.
    parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode("utf-8")


def from_swift_status(status: int, reason: str, *, bucket: str | None = None, key: str | None = None,
                      missing: str = "NoSuchKey") -> S3Error:
    """The S3 error for a Swift error status of a subrequest on a bucket
    (``missing`` is the code of its 404: NoSuchKey for an object,
    NoSuchBucket for a bucket)."""
    extra = {}
    if missing == "NoSuchBucket" and bucket is not None:
        extra["BucketName"] = bucket
    elif key is not None and missing == "NoSuchKey":
        extra["Key"] = key
    table: dict[int, S3Error] = {
        401: S3Error("AccessDenied"),
        403: S3Error("AccessDenied"),
        404: S3Error(missing, extra=extra),
        408: S3Error("RequestTimeout"),
        411: S3Error("MissingContentLength"),
        412: S3Error("PreconditionFailed"),
        413: S3Error("EntityTooLarge"),
        416: S3Error("InvalidRange"),
        422: S3Error("BadDigest"),
        499: S3Error("RequestTimeout"),
        503: S3Error("ServiceUnavailable"),
    }
    if status == 409 and missing == "NoSuchBucket":
        return S3Error("BucketNotEmpty", extra=extra)
    if status in table:
        return table[status]
    if 400 <= status < 500:
        return S3Error("InvalidArgument", reason or None, status=400)
    return S3Error("InternalError", status=500)
