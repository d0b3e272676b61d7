"""boto3 with `signature_version='s3'`: Signature Version 2 pre-signed URLs (AWSAccessKeyId,
Expires, Signature) and `Authorization: AWS id:signature` headers, as older tools still send."""

from __future__ import annotations

import os
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from s3util import BUCKET, MiB, client, fetch, sha256, tamper_query_param


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def test_presigned_v2_get(s3, s3_v2, prefix):
    key = prefix + "v2 get ü.bin"
    body = os.urandom(2 * MiB + 3)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    url = s3_v2.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600
    )
    assert {"AWSAccessKeyId", "Signature", "Expires"} <= query(url).keys(), url
    assert "X-Amz-Signature" not in url
    got = fetch("GET", url)
    assert got.status == 200, got.body
    assert sha256(got.body) == sha256(body)


def test_presigned_v2_put_then_get(s3, s3_v2, prefix):
    key = prefix + "v2 put.bin"
    body = os.urandom(MiB + 11)

    url = s3_v2.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600
    )
    assert {"AWSAccessKeyId", "Signature", "Expires"} <= query(url).keys(), url
    put = fetch("PUT", url, body)
    assert put.status == 200, put.body

    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_presigned_v2_get_with_response_overrides(s3, s3_v2, prefix):
    # response-* parameters are sub-resources in the SigV2 string to sign, decoded.
    key = prefix + "v2-report.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x,y\n")
    url = s3_v2.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": BUCKET,
            "Key": key,
            "ResponseContentType": "text/csv; charset=utf-8",
            "ResponseContentDisposition": 'attachment; filename="v2 report.csv"',
        },
        ExpiresIn=600,
    )
    got = fetch("GET", url)
    assert got.status == 200, got.body
    assert got.body == b"x,y\n"
    assert got.headers["content-type"] == "text/csv; charset=utf-8"


def test_presigned_v2_with_one_signature_character_changed(s3_v2, prefix, exists):
    url = s3_v2.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "hello.txt"}, ExpiresIn=600
    )
    bad = fetch("GET", tamper_query_param(url, "Signature"))
    assert (bad.status, bad.error_code) == (403, "SignatureDoesNotMatch"), bad.body

    key = prefix + "v2-tampered.bin"
    url = s3_v2.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600
    )
    bad = fetch("PUT", tamper_query_param(url, "Signature"), b"never stored")
    assert (bad.status, bad.error_code) == (403, "SignatureDoesNotMatch"), bad.body
    assert not exists(key)


def test_header_v2_put_get_head_list_delete(s3_v2, prefix):
    key = prefix + "v2 header é.bin"
    body = os.urandom(MiB + 1)
    s3_v2.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata={"origin": "interop"})
    got = s3_v2.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == body
    assert got["Metadata"] == {"origin": "interop"}
    assert s3_v2.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(body)
    listed = s3_v2.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    assert [o["Key"] for o in listed["Contents"]] == [key]
    s3_v2.delete_object(Bucket=BUCKET, Key=key)


def test_header_v2_wrong_secret_is_refused(prefix, exists):
    key = prefix + "v2-forged.bin"
    forged = client("s3", secret="not-the-secret")
    with pytest.raises(ClientError) as e:
        forged.put_object(Bucket=BUCKET, Key=key, Body=b"never stored")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert not exists(key)
