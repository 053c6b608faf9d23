"""boto3 clients against a test cluster's proxy, path-style, as the
``test:tester`` user's S3 key pair (``proxy.s3api.credentials``)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from tests.cluster.cluster_harness import RunningCluster

ACCESS, SECRET = "test:tester", "testing"


def s3_client(cluster: RunningCluster, access: str = ACCESS, secret: str = SECRET, **config: Any) -> Any:
    options = {"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 1}, **config}
    return boto3.client("s3", endpoint_url=cluster.proxy, aws_access_key_id=access,
                        aws_secret_access_key=secret, region_name="us-east-1", config=Config(**options))


def error_code(exc: Any) -> str:
    return str(exc.response["Error"]["Code"])
