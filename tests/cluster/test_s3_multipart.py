"""S3 multipart uploads on a real cluster: parts stored as segments in
``<bucket>+segments`` plus an SLO manifest, read back through both APIs."""

from __future__ import annotations

import binascii
import hashlib
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture
from tests.cluster.feature_helpers import call
from tests.cluster.s3_helpers import error_code, s3_client

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("s3multipart")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(cluster: RunningCluster) -> Any:
    client = s3_client(cluster)
    client.create_bucket(Bucket="mpu")
    client.put_object(Bucket="mpu", Key="source", Body=bytes(range(256)) * 4096)  # 1 MiB
    return client


def _etag_of(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def test_twenty_megabytes_in_five_megabyte_parts(cluster: RunningCluster, s3: Any) -> None:
    data = os.urandom(20 * MIB + 123)
    chunks = [data[i:i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
    upload = s3.create_multipart_upload(Bucket="mpu", Key="big é", ContentType="application/x-big",
                                        Metadata={"kind": "multipart"})
    upload_id = upload["UploadId"]
    assert upload_id in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="mpu")["Uploads"]]
    done = []
    for number, chunk in enumerate(chunks, 1):
        answer = s3.upload_part(Bucket="mpu", Key="big é", UploadId=upload_id, PartNumber=number, Body=chunk)
        assert answer["ETag"] == f'"{hashlib.md5(chunk).hexdigest()}"'
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    listed = s3.list_parts(Bucket="mpu", Key="big é", UploadId=upload_id)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3, 4, 5]
    assert [p["Size"] for p in listed["Parts"]] == [len(c) for c in chunks]
    finished = s3.complete_multipart_upload(Bucket="mpu", Key="big é", UploadId=upload_id,
                                            MultipartUpload={"Parts": done})
    assert finished["ETag"] == _etag_of(chunks)
    got = s3.get_object(Bucket="mpu", Key="big é")
    assert got["ContentLength"] == len(data) and got["Body"].read() == data
    assert got["ETag"] == finished["ETag"] == s3.head_object(Bucket="mpu", Key="big é")["ETag"]
    matched = s3.get_object(Bucket="mpu", Key="big é", IfMatch=finished["ETag"], Range="bytes=0-3")
    assert matched["Body"].read() == data[:4]
    assert matched["ETag"] == finished["ETag"]  # the S3 ETag the conditions read, shown
    with pytest.raises(ClientError) as changed:
        s3.get_object(Bucket="mpu", Key="big é", IfMatch='"' + "0" * 32 + '-5"')
    assert error_code(changed.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as unchanged:
        s3.head_object(Bucket="mpu", Key="big é", IfNoneMatch=finished["ETag"])
    assert unchanged.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert got["Metadata"] == {"kind": "multipart"} and got["ContentType"] == "application/x-big"
    ranged = s3.get_object(Bucket="mpu", Key="big é", Range=f"bytes={5 * MIB - 2}-{5 * MIB + 1}")
    assert ranged["Body"].read() == data[5 * MIB - 2:5 * MIB + 2]
    swift = call(cluster, "GET", "mpu/big%20%C3%A9")
    assert swift.status_code == 200 and swift.content == data
    assert call(cluster, "GET", "mpu%2Bsegments", params={"format": "json"}).json()  # the parts, as segments
    assert upload_id not in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="mpu").get("Uploads", [])]
    listed_etags = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket="mpu")["Contents"]}
    assert listed_etags["big é"] == finished["ETag"]


def test_abort(cluster: RunningCluster, s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket="mpu", Key="aborted")["UploadId"]
    s3.upload_part(Bucket="mpu", Key="aborted", UploadId=upload_id, PartNumber=1, Body=b"x" * 100)
    s3.abort_multipart_upload(Bucket="mpu", Key="aborted", UploadId=upload_id)
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket="mpu", Key="aborted", UploadId=upload_id)
    assert error_code(gone.value) == "NoSuchUpload"
    with pytest.raises(ClientError) as part:
        s3.upload_part(Bucket="mpu", Key="aborted", UploadId=upload_id, PartNumber=2, Body=b"y")
    assert error_code(part.value) == "NoSuchUpload"
    leftovers = call(cluster, "GET", "mpu%2Bsegments", params={"format": "json", "prefix": "aborted/"}).json()
    assert leftovers == []


def _upload(s3: Any, key: str, sizes: list[int]) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket="mpu", Key=key)["UploadId"]
    parts = []
    for number, size in enumerate(sizes, 1):
        etag = s3.upload_part(Bucket="mpu", Key=key, UploadId=upload_id, PartNumber=number,
                              Body=bytes([number]) * size)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    return upload_id, parts


@pytest.mark.parametrize("case,code", [("order", "InvalidPartOrder"), ("missing", "InvalidPart"),
                                       ("etag", "InvalidPart"), ("small", "EntityTooSmall")])
def test_bad_completions(s3: Any, case: str, code: str) -> None:
    sizes = [1000, 1000] if case == "small" else [5 * MIB, 1000]
    upload_id, parts = _upload(s3, f"bad-{case}", sizes)
    if case == "order":
        parts = parts[::-1]
    elif case == "missing":
        parts = parts + [{"PartNumber": 3, "ETag": parts[0]["ETag"]}]
    elif case == "etag":
        parts = [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}, parts[1]]
    with pytest.raises(ClientError) as bad:
        s3.complete_multipart_upload(Bucket="mpu", Key=f"bad-{case}", UploadId=upload_id,
                                     MultipartUpload={"Parts": parts})
    assert error_code(bad.value) == code
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError):
        s3.head_object(Bucket="mpu", Key=f"bad-{case}")


def test_unknown_upload_and_bad_part_number(s3: Any) -> None:
    with pytest.raises(ClientError) as unknown:
        s3.upload_part(Bucket="mpu", Key="k", UploadId="0" * 32, PartNumber=1, Body=b"x")
    assert error_code(unknown.value) == "NoSuchUpload"
    upload_id = s3.create_multipart_upload(Bucket="mpu", Key="k")["UploadId"]
    with pytest.raises(ClientError) as bad:
        s3.upload_part(Bucket="mpu", Key="k", UploadId=upload_id, PartNumber=0, Body=b"x")
    assert error_code(bad.value) == "InvalidArgument"


def test_upload_part_copy_with_range(s3: Any) -> None:
    source = bytes(range(256)) * 4096
    upload_id = s3.create_multipart_upload(Bucket="mpu", Key="copied")["UploadId"]
    first = s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": "mpu", "Key": "source"})
    second = s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=upload_id, PartNumber=2,
                                 CopySource="mpu/source", CopySourceRange="bytes=10-19")
    assert second["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[10:20]).hexdigest()}"'
    parts = [{"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]
    with pytest.raises(ClientError) as small:  # a 1 MiB first part is below S3's 5 MiB
        s3.complete_multipart_upload(Bucket="mpu", Key="copied", UploadId=upload_id,
                                     MultipartUpload={"Parts": parts})
    assert error_code(small.value) == "EntityTooSmall"
    listed = s3.list_parts(Bucket="mpu", Key="copied", UploadId=upload_id)["Parts"]
    assert [p["Size"] for p in listed] == [len(source), 10]
    assert binascii.hexlify(hashlib.md5(source).digest()).decode() in listed[0]["ETag"]


def test_list_uploads_after_markers(s3: Any) -> None:
    ids = {key: s3.create_multipart_upload(Bucket="mpu", Key=key)["UploadId"] for key in ("m1", "m2 é", "m3")}
    after = s3.list_multipart_uploads(Bucket="mpu", Prefix="m", KeyMarker="m1")
    assert [u["Key"] for u in after["Uploads"]] == ["m2 é", "m3"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpu", Prefix="m", KeyMarker="m3")
    for key, upload_id in ids.items():
        s3.abort_multipart_upload(Bucket="mpu", Key=key, UploadId=upload_id)


def test_complete_again_succeeds_and_carries_the_content_headers(s3: Any) -> None:
    # Swift's s3api: a retried Complete of a finished upload answers as the
    # first did; the headers given at the start are the object's.
    s3.create_bucket(Bucket="mpu-retry")
    upload_id = s3.create_multipart_upload(Bucket="mpu-retry", Key="k", ContentEncoding="gzip",
                                           ContentLanguage="en-US", CacheControl="no-cache")["UploadId"]
    etag = s3.upload_part(Bucket="mpu-retry", Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    parts = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
    first = s3.complete_multipart_upload(Bucket="mpu-retry", Key="k", UploadId=upload_id, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket="mpu-retry", Key="k", UploadId=upload_id, MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]
    head = s3.head_object(Bucket="mpu-retry", Key="k")
    assert (head["ContentEncoding"], head["ContentLanguage"], head["CacheControl"]) == ("gzip", "en-US", "no-cache")
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(Bucket="mpu-retry", Key="k", UploadId="not-" + upload_id, MultipartUpload=parts)
    assert error_code(caught.value) == "NoSuchUpload"
