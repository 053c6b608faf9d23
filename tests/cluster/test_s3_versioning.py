"""S3 bucket versioning (``proxy.s3api.versioning``) over object
versioning, through boto3 on a cluster started like ``martlet dev``:
versions kept and read by id, delete markers, ListObjectVersions with its
markers, deleting versions (the newest left becomes current), copies and
part copies from a version, a versioned multipart upload, the same
versions seen through the Swift API, and bad input with S3's errors."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture
from tests.cluster.feature_helpers import call
from tests.cluster.s3_helpers import error_code, s3_client

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("s3versioning")
MIB5 = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def s3(cluster: RunningCluster) -> Any:
    return s3_client(cluster)


def _versioned(s3: Any, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _status(exc: ClientError) -> int:
    return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])


def test_enable_suspend_and_read_back(s3: Any, cluster: RunningCluster) -> None:
    s3.create_bucket(Bucket="vconf")
    assert "Status" not in s3.get_bucket_versioning(Bucket="vconf")
    s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket="vconf")["Status"] == "Suspended"
    s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="vconf")["Status"] == "Enabled"
    # the same flag through the Swift API
    assert call(cluster, "HEAD", "vconf").headers["X-Versions-Enabled"].lower() == "true"
    s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Suspended"})
    assert call(cluster, "HEAD", "vconf").headers["X-Versions-Enabled"].lower() == "false"
    s3.delete_bucket(Bucket="vconf")


def test_versions_read_by_id_and_listed(s3: Any, cluster: RunningCluster) -> None:
    _versioned(s3, "vread")
    first = s3.put_object(Bucket="vread", Key="k", Body=b"one")
    second = s3.put_object(Bucket="vread", Key="k", Body=b"two")
    assert first["VersionId"] != second["VersionId"]
    got = s3.get_object(Bucket="vread", Key="k")
    assert got["Body"].read() == b"two" and got["VersionId"] == second["VersionId"]
    old = s3.get_object(Bucket="vread", Key="k", VersionId=first["VersionId"])
    assert old["Body"].read() == b"one" and old["VersionId"] == first["VersionId"]
    head = s3.head_object(Bucket="vread", Key="k", VersionId=first["VersionId"])
    assert head["ETag"] == f'"{hashlib.md5(b"one").hexdigest()}"' and head["ContentLength"] == 3
    # the current version is what ListObjects shows (its size and ETag)
    [entry] = s3.list_objects_v2(Bucket="vread")["Contents"]
    assert (entry["Key"], entry["Size"], entry["ETag"]) == ("k", 3, f'"{hashlib.md5(b"two").hexdigest()}"')
    listed = s3.list_object_versions(Bucket="vread")
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in listed["Versions"]] == [
        (second["VersionId"], True, 3), (first["VersionId"], False, 3)]
    assert "DeleteMarkers" not in listed
    # the same versions through the Swift API
    rows = call(cluster, "GET", "vread?versions&format=json").json()
    assert [row["version_id"] for row in rows] == [second["VersionId"], first["VersionId"]]


def test_delete_marker_and_deleting_versions(s3: Any) -> None:
    _versioned(s3, "vdel")
    first = s3.put_object(Bucket="vdel", Key="k", Body=b"one")
    second = s3.put_object(Bucket="vdel", Key="k", Body=b"two")
    marker = s3.delete_object(Bucket="vdel", Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"]
    with pytest.raises(ClientError) as gone:
        s3.get_object(Bucket="vdel", Key="k")
    assert error_code(gone.value) == "NoSuchKey"
    listed = s3.list_object_versions(Bucket="vdel")
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker["VersionId"], True)]
    assert [v["IsLatest"] for v in listed["Versions"]] == [False, False]
    # a delete marker read by its id has nothing to read
    with pytest.raises(ClientError) as is_marker:
        s3.head_object(Bucket="vdel", Key="k", VersionId=marker["VersionId"])
    assert _status(is_marker.value) == 405
    assert is_marker.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    # deleting the marker brings the newest version back
    assert s3.delete_object(Bucket="vdel", Key="k", VersionId=marker["VersionId"])["VersionId"] \
        == marker["VersionId"]
    assert s3.get_object(Bucket="vdel", Key="k")["Body"].read() == b"two"
    # deleting the current version makes the one before it current
    s3.delete_object(Bucket="vdel", Key="k", VersionId=second["VersionId"])
    got = s3.get_object(Bucket="vdel", Key="k")
    assert got["Body"].read() == b"one" and got["VersionId"] == first["VersionId"]
    s3.delete_object(Bucket="vdel", Key="k", VersionId=first["VersionId"])
    assert "Versions" not in s3.list_object_versions(Bucket="vdel")
    s3.delete_bucket(Bucket="vdel")


def test_list_versions_pages_with_key_and_version_markers(s3: Any) -> None:
    _versioned(s3, "vpage")
    ids = {key: [s3.put_object(Bucket="vpage", Key=key, Body=str(n).encode())["VersionId"] for n in range(3)]
           for key in ("a", "b")}
    seen: list[tuple[str, str]] = []
    kwargs: dict[str, str] = {}
    for _ in range(10):
        page = s3.list_object_versions(Bucket="vpage", MaxKeys=2, **kwargs)
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == [(key, vid) for key in ("a", "b") for vid in reversed(ids[key])]


def test_copy_and_part_copy_from_a_version(s3: Any) -> None:
    _versioned(s3, "vsrc")
    s3.create_bucket(Bucket="vdst")
    big = b"a" * MIB5
    first = s3.put_object(Bucket="vsrc", Key="src", Body=big)
    s3.put_object(Bucket="vsrc", Key="src", Body=b"newer")
    copied = s3.copy_object(Bucket="vdst", Key="copy",
                            CopySource={"Bucket": "vsrc", "Key": "src", "VersionId": first["VersionId"]})
    assert copied["CopySourceVersionId"] == first["VersionId"]
    assert s3.head_object(Bucket="vdst", Key="copy")["ContentLength"] == MIB5
    upload = s3.create_multipart_upload(Bucket="vdst", Key="mpu")
    part = s3.upload_part_copy(Bucket="vdst", Key="mpu", UploadId=upload["UploadId"], PartNumber=1,
                               CopySource={"Bucket": "vsrc", "Key": "src", "VersionId": first["VersionId"]})
    assert part["CopyPartResult"]["ETag"] == f'"{hashlib.md5(big).hexdigest()}"'
    s3.abort_multipart_upload(Bucket="vdst", Key="mpu", UploadId=upload["UploadId"])


def test_versioned_multipart_upload(s3: Any) -> None:
    _versioned(s3, "vmpu")
    s3.put_object(Bucket="vmpu", Key="big", Body=b"small first")
    upload = s3.create_multipart_upload(Bucket="vmpu", Key="big", Metadata={"kind": "mpu"})
    parts = []
    for number, data in ((1, b"x" * MIB5), (2, b"tail")):
        put = s3.upload_part(Bucket="vmpu", Key="big", UploadId=upload["UploadId"], PartNumber=number, Body=data)
        parts.append({"PartNumber": number, "ETag": put["ETag"]})
    done = s3.complete_multipart_upload(Bucket="vmpu", Key="big", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-2"') and done["VersionId"]
    head = s3.head_object(Bucket="vmpu", Key="big")
    assert head["ETag"] == done["ETag"] and head["VersionId"] == done["VersionId"]
    assert head["Metadata"] == {"kind": "mpu"} and head["ContentLength"] == MIB5 + 4
    by_id = s3.head_object(Bucket="vmpu", Key="big", VersionId=done["VersionId"])
    assert by_id["ETag"] == done["ETag"]
    [entry] = s3.list_objects(Bucket="vmpu")["Contents"]
    assert entry["ETag"] == done["ETag"] and entry["Size"] == MIB5 + 4
    latest = s3.list_object_versions(Bucket="vmpu")["Versions"][0]
    assert (latest["VersionId"], latest["ETag"], latest["IsLatest"]) == (done["VersionId"], done["ETag"], True)
    # Restored as the current version (a newer one deleted), it lists with its S3 ETag still.
    newer = s3.put_object(Bucket="vmpu", Key="big", Body=b"newer")
    s3.delete_object(Bucket="vmpu", Key="big", VersionId=newer["VersionId"])
    [entry] = s3.list_objects(Bucket="vmpu")["Contents"]
    assert entry["ETag"] == done["ETag"] and entry["Size"] == MIB5 + 4


def test_bad_versioning_input(s3: Any, cluster: RunningCluster) -> None:
    s3.create_bucket(Bucket="vbad")
    s3.put_object(Bucket="vbad", Key="k", Body=b"x")
    raw = s3_client(cluster)

    def send(body: bytes) -> ClientError:
        def swap_body(request: Any, **_: Any) -> None:
            request.data = body
        raw.meta.events.register("before-sign.s3.PutBucketVersioning", swap_body, unique_id="swap")
        try:
            with pytest.raises(ClientError) as refused:
                raw.put_bucket_versioning(Bucket="vbad", VersioningConfiguration={"Status": "Enabled"})
        finally:
            raw.meta.events.unregister("before-sign.s3.PutBucketVersioning", unique_id="swap")
        return refused.value

    for body in (b"<VersioningConfiguration><Status>...</Status></VersioningConfiguration>",
                 b"<foo><Status>Enabled</Status></foo>", b"not xml",
                 b"<VersioningConfiguration><Status></Status></VersioningConfiguration>"):
        refused = send(body)
        assert (error_code(refused), _status(refused)) == ("MalformedXML", 400)
    assert "Status" not in s3.get_bucket_versioning(Bucket="vbad")
    # a versionId on a bucket never versioned names no version
    with pytest.raises(ClientError) as unversioned:
        s3.get_object(Bucket="vbad", Key="k", VersionId="1796400086.93039")
    assert (error_code(unversioned.value), _status(unversioned.value)) == ("NoSuchVersion", 404)
    assert s3.get_object(Bucket="vbad", Key="k", VersionId="null")["Body"].read() == b"x"
    # a malformed id
    with pytest.raises(ClientError) as malformed:
        s3.get_object(Bucket="vbad", Key="k", VersionId="not-a-version")
    assert (error_code(malformed.value), _status(malformed.value)) == ("InvalidArgument", 400)
    # an unknown id in a versioned bucket
    s3.put_bucket_versioning(Bucket="vbad", VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ClientError) as unknown:
        s3.head_object(Bucket="vbad", Key="k", VersionId="1000000000.00000")
    assert _status(unknown.value) == 404
    with pytest.raises(ClientError) as unknown_get:
        s3.get_object(Bucket="vbad", Key="k", VersionId="1000000000.00000")
    assert error_code(unknown_get.value) == "NoSuchVersion"
    with pytest.raises(ClientError) as marker_alone:
        s3.list_object_versions(Bucket="vbad", VersionIdMarker="1000000000.00000")
    assert error_code(marker_alone.value) == "InvalidArgument"
    with pytest.raises(ClientError) as no_bucket:
        s3.put_bucket_versioning(Bucket="vnothere", VersioningConfiguration={"Status": "Enabled"})
    assert error_code(no_bucket.value) == "NoSuchBucket"
    # the object is still there, unchanged
    assert s3.get_object(Bucket="vbad", Key="k")["Body"].read() == b"x"
