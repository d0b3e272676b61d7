"""boto3 with SigV4 `Authorization` headers and SigV4 pre-signed URLs, through the gateway to
its embedded store. Every upload is read back and compared byte for byte."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from s3util import BUCKET, MiB, client, fetch, sha256, sha256_file, tamper_query_param


def test_put_get_head_delete(s3, prefix):
    key = prefix + "object.bin"
    body = os.urandom(MiB + 17)

    put = s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/x-interop")
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()

    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body)

    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    assert head["ContentType"] == "application/x-interop"

    ranged = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=1000-1999")
    assert ranged["Body"].read() == body[1000:2000]

    deleted = s3.delete_object(Bucket=BUCKET, Key=key)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=BUCKET, Key=key)
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# Keys whose canonical URI differs from their raw form: the gateway must canonicalise the path
# exactly as the client did (S3 does not normalise). '+' is here but never listed (s3s-fs
# mis-encodes '+' in encoding-type=url listings).
# Keys with empty or dot segments (a//b, a/../b) are refused by the gateway by design.
@pytest.mark.parametrize(
    "name",
    [
        "with space.txt",
        "ünïcødé/ø.bin",
        "reserved+=&;,@$:.txt",
        "unreserved~(paren)!*'.txt",
        "per%cent",
        "question?and#hash",
    ],
)
def test_keys_that_need_encoding(s3, prefix, name):
    key = prefix + name
    body = name.encode() * 3
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(body)
    s3.delete_object(Bucket=BUCKET, Key=key)


def test_list_objects_v2(s3, prefix):
    sizes = {f"{prefix}a.txt": 1, f"{prefix}b/c d.txt": 22, f"{prefix}b/é.txt": 333}
    for key, size in sizes.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * size)

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    assert {o["Key"]: o["Size"] for o in listed["Contents"]} == sizes
    assert listed["KeyCount"] == 3

    by_folder = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix, Delimiter="/")
    assert [o["Key"] for o in by_folder["Contents"]] == [f"{prefix}a.txt"]
    assert [p["Prefix"] for p in by_folder["CommonPrefixes"]] == [f"{prefix}b/"]

    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix, PaginationConfig={"PageSize": 1}
    )
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert sorted(keys) == sorted(sizes)


def test_multipart_upload_and_download_40_mib(s3, prefix, big_file, tmp_path):
    path, digest = big_file
    key = prefix + "forty-mib.bin"
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)

    s3.upload_file(str(path), BUCKET, key, Config=config)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == 40 * MiB
    assert head["ETag"].endswith('-5"'), head["ETag"]  # five 8 MiB parts: a multipart ETag

    out = tmp_path / "down.bin"
    s3.download_file(BUCKET, key, str(out), Config=config)
    assert sha256_file(out) == digest
    s3.delete_object(Bucket=BUCKET, Key=key)


def test_presigned_v4_put_then_get(s3, prefix):
    key = prefix + "presigned v4.bin"
    body = os.urandom(3 * MiB + 5)

    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600
    )
    assert "X-Amz-Signature=" in put_url
    put = fetch("PUT", put_url, body)
    assert put.status == 200, put.body

    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600
    )
    got = fetch("GET", get_url)
    assert got.status == 200, got.body
    assert sha256(got.body) == sha256(body)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_presigned_v4_response_overrides(s3, prefix):
    key = prefix + "report.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"a,b\n1,2\n")
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": BUCKET,
            "Key": key,
            "ResponseContentDisposition": 'attachment; filename="r.csv"',
            "ResponseContentType": "text/csv",
        },
        ExpiresIn=600,
    )
    got = fetch("GET", url)
    assert got.status == 200, got.body
    assert got.body == b"a,b\n1,2\n"
    assert got.headers["content-type"] == "text/csv"
    assert got.headers["content-disposition"] == 'attachment; filename="r.csv"'


def test_wrong_secret_is_refused_and_stores_nothing(prefix, exists):
    key = prefix + "forged.bin"
    forged = client("s3v4", secret="not-the-secret")
    with pytest.raises(ClientError) as e:
        forged.put_object(Bucket=BUCKET, Key=key, Body=b"should never be stored")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert not exists(key)

    with pytest.raises(ClientError) as e:
        forged.get_object(Bucket=BUCKET, Key="hello.txt")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    "claim",
    [
        {"ContentMD5": base64.b64encode(hashlib.md5(b"another body").digest()).decode()},
        {"ChecksumCRC32": "AAAAAA=="},  # the CRC32 of an empty body
    ],
    ids=["content-md5", "x-amz-checksum-crc32"],
)
def test_body_that_does_not_match_its_checksum_is_refused_and_not_stored(s3, prefix, exists, claim):
    key = prefix + "mismatch.bin"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"the body actually sent", **claim)
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert not exists(key), "refused with BadDigest, yet the object was stored"


def test_presigned_v4_with_one_signature_character_changed(s3, prefix, exists):
    key = prefix + "tampered.bin"
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "hello.txt"}, ExpiresIn=600
    )
    assert fetch("GET", get_url).status == 200
    bad = fetch("GET", tamper_query_param(get_url, "X-Amz-Signature"))
    assert (bad.status, bad.error_code) == (403, "SignatureDoesNotMatch"), bad.body

    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600
    )
    bad = fetch("PUT", tamper_query_param(put_url, "X-Amz-Signature"), b"never stored")
    assert (bad.status, bad.error_code) == (403, "SignatureDoesNotMatch"), bad.body
    assert not exists(key)


def test_refused_upload_still_gets_its_error_response(s3, prefix, exists):
    # http.client, urllib and requests send the whole body before they read the answer. The
    # gateway refuses on the signature before reading the body; it must still let the client
    # read that 403 (drain the refused body, or close only after the client stopped sending)
    # instead of closing on unread bytes, which resets the connection under the client.
    key = prefix + "refused-8-mib.bin"
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600
    )
    try:
        bad = fetch("PUT", tamper_query_param(url, "X-Amz-Signature"), os.urandom(8 * MiB))
    except (BrokenPipeError, ConnectionResetError) as e:
        pytest.fail(f"the 403 never reached the client: {e!r}")
    assert (bad.status, bad.error_code) == (403, "SignatureDoesNotMatch"), bad.body
    assert not exists(key)
