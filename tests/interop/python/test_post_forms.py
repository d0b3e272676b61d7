"""boto3's generate_presigned_post (SigV4, and SigV2 with `signature_version='s3'`): the form
it generates, posted as a browser posts it (fields, then the file last), is accepted and stored
byte for byte; the same form with its policy, signature, key, file size or fields tampered with
is refused with S3's error and stores nothing."""

from __future__ import annotations

import os
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from s3util import BUCKET, ENDPOINT, post_form

LIMIT = 64 * 1024


def presigned_post(client, key: str) -> dict:
    """A form for `key` (which may end in ${filename}): answer 201, a file of 1..LIMIT bytes,
    a Content-Type under image/."""
    return client.generate_presigned_post(
        BUCKET,
        key,
        Fields={"success_action_status": "201", "Content-Type": "image/png"},
        Conditions=[
            {"success_action_status": "201"},
            ["content-length-range", 1, LIMIT],
            ["starts-with", "$Content-Type", "image/"],
        ],
        ExpiresIn=600,
    )


def changed(value: str) -> str:
    """`value` with one alphanumeric character near its middle changed."""
    j = len(value) // 2
    while not value[j].isalnum():
        j += 1
    c = value[j]
    new = {"0": "1", "a": "b", "A": "B"}.get(c, "0" if c != "0" else "1")
    return value[:j] + new + value[j + 1 :]


def assert_created(resp, key: str) -> str:
    """A 201 with a PostResponse document naming the bucket and key; returns its ETag."""
    assert resp.status == 201, resp.body
    doc = ET.fromstring(resp.body)
    assert doc.tag.rsplit("}", 1)[-1] == "PostResponse", resp.body
    got = {el.tag.rsplit("}", 1)[-1]: el.text for el in doc}
    assert got["Bucket"] == BUCKET, resp.body
    assert got["Key"] == key, resp.body
    location = f"{ENDPOINT}/{BUCKET}/{urllib.parse.quote(key, safe='/~')}"
    assert got["Location"] == location, resp.body
    assert resp.headers.get("location") == location
    assert got["ETag"] and got["ETag"] == resp.headers.get("etag"), resp.body
    return got["ETag"]


def assert_stored(s3, key: str, data: bytes, etag: str, content_type: str = "image/png"):
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == data
    assert got["ContentType"] == content_type
    assert got["ETag"] == etag


def test_presigned_post_v4_as_generated(s3, prefix):
    key = prefix + "avatar.png"
    form = presigned_post(s3, key)
    assert form["url"].endswith("/" + BUCKET), form["url"]
    assert {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} <= (
        form["fields"].keys()
    ), form["fields"]
    data = os.urandom(LIMIT)  # exactly the top of the range

    resp = post_form(form["url"], form["fields"], data, filename="local name.png")
    etag = assert_created(resp, key)
    assert_stored(s3, key, data, etag)


def test_presigned_post_v4_with_filename(s3, prefix):
    key = prefix + "${filename}"
    form = presigned_post(s3, key)
    data = os.urandom(1)  # the bottom of the range

    resp = post_form(form["url"], form["fields"], data, filename="photo ü 1.png")
    stored = prefix + "photo ü 1.png"
    etag = assert_created(resp, stored)
    assert_stored(s3, stored, data, etag)


def test_presigned_post_v4_default_status_is_204(s3, prefix):
    key = prefix + "plain.bin"
    form = s3.generate_presigned_post(BUCKET, key, ExpiresIn=600)
    data = os.urandom(3000)
    resp = post_form(form["url"], form["fields"], data)
    assert resp.status == 204, resp.body
    assert resp.body == b""
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == data
    assert got["ETag"] == resp.headers.get("etag")


def tamper_policy(form, prefix):
    form["fields"]["policy"] = changed(form["fields"]["policy"])
    return prefix + "never.png"


def tamper_signature(form, prefix):
    form["fields"]["x-amz-signature"] = changed(form["fields"]["x-amz-signature"])
    return prefix + "never.png"


def key_outside_starts_with(form, prefix):
    key = prefix.rstrip("/") + "-elsewhere/never.png"
    form["fields"]["key"] = key
    return key


def content_type_outside_starts_with(form, prefix):
    form["fields"]["Content-Type"] = "text/html"
    return prefix + "never.png"


def extra_field(form, prefix):
    form["fields"]["x-amz-meta-note"] = "not in the policy"
    return prefix + "never.png"


def file_too_large(form, prefix):
    form["data"] = os.urandom(LIMIT + 1)
    return prefix + "never.png"


def empty_file(form, prefix):
    form["data"] = b""
    return prefix + "never.png"


@pytest.mark.parametrize(
    "tamper, status, code, message",
    [
        (tamper_policy, 403, "SignatureDoesNotMatch", ""),
        (tamper_signature, 403, "SignatureDoesNotMatch", ""),
        (key_outside_starts_with, 403, "AccessDenied", "Invalid according to Policy"),
        (content_type_outside_starts_with, 403, "AccessDenied", "Invalid according to Policy"),
        (extra_field, 403, "AccessDenied", "Invalid according to Policy: Extra input fields"),
        (file_too_large, 400, "EntityTooLarge", ""),
        (empty_file, 400, "EntityTooSmall", ""),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_presigned_post_v4_tampered_is_refused(s3, prefix, exists, tamper, status, code, message):
    form = presigned_post(s3, prefix + "${filename}")
    form["data"] = os.urandom(1000)
    key = tamper(form, prefix)

    resp = post_form(form["url"], form["fields"], form["data"], filename="never.png")
    assert (resp.status, resp.error_code) == (status, code), resp.body
    assert resp.error_message.startswith(message), resp.body
    assert not exists(key)
    assert not exists(prefix + "never.png")


def test_presigned_post_v2_as_generated(s3, s3_v2, prefix):
    key = prefix + "v2 ${filename}"
    form = presigned_post(s3_v2, key)
    assert {"AWSAccessKeyId", "signature", "policy"} <= form["fields"].keys(), form["fields"]
    assert "x-amz-signature" not in form["fields"]
    data = os.urandom(LIMIT - 7)

    resp = post_form(form["url"], form["fields"], data, filename="shot.png")
    stored = prefix + "v2 shot.png"
    etag = assert_created(resp, stored)
    assert_stored(s3, stored, data, etag)


def test_presigned_post_v2_tampered_is_refused(s3_v2, prefix, exists):
    key = prefix + "v2-never.png"
    form = presigned_post(s3_v2, key)
    data = os.urandom(1000)

    bad = dict(form["fields"], signature=changed(form["fields"]["signature"]))
    resp = post_form(form["url"], bad, data)
    assert (resp.status, resp.error_code) == (403, "SignatureDoesNotMatch"), resp.body

    big = post_form(form["url"], form["fields"], os.urandom(LIMIT + 1))
    assert (big.status, big.error_code) == (400, "EntityTooLarge"), big.body
    assert not exists(key)
