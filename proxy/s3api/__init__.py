"""The S3 API beside the Swift API, on the same data (``[s3api]``).

A request signed with AWS Signature V4 (``Authorization: AWS4-HMAC-SHA256
...`` or a presigned URL's ``X-Amz-*`` query) is an S3 request: the
feature (``proxy.s3api.feature``) checks its signature against the
caller's secret (``credentials``), names its bucket and key
(``target``), and does what it asks as the equivalent Swift requests of
the caller's account, sent down the rest of the pipeline with the
caller's identity, so they are authorized exactly like Swift requests. A
bucket is a container, an object an object, a multipart upload segments
in ``<bucket>+segments`` plus an SLO manifest, as Swift's s3api does.

This package's ``__init__`` imports nothing, so that ``proxy.config`` can
read the credentials module without importing the pipeline.
"""
