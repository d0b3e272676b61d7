"""Shared by the interop tests: where the gateway is, clients signed the way each tool signs,
and plain HTTP for fetching pre-signed URLs and posting forms exactly as a browser or curl
would."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.parse
from dataclasses import dataclass

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get("GUESTPASS_INTEROP_ENDPOINT", "")
ACCESS_KEY = os.environ.get("GUESTPASS_INTEROP_ACCESS_KEY", "GUESTPASSDEMO")
SECRET_KEY = os.environ.get(
    "GUESTPASS_INTEROP_SECRET_KEY", "guestpass-demo-secret-not-for-production"
)
BUCKET = os.environ.get("GUESTPASS_INTEROP_BUCKET", "demo")
REGION = "us-east-1"
MiB = 1024 * 1024


def client(signature_version: str = "s3v4", secret: str | None = None, **config):
    """A boto3 S3 client for the gateway, path-style. `signature_version='s3'` is SigV2."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY if secret is None else secret,
        config=Config(
            signature_version=signature_version,
            s3={"addressing_style": "path"},
            # A retry would hide a flaky answer; a read timeout bounds every call.
            retries={"total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=120,
            **config,
        ),
    )


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error_code(self) -> str | None:
        """The S3 error `<Code>` of an XML error body."""
        m = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return m.group(1).decode() if m else None

    @property
    def error_message(self) -> str:
        """The S3 error `<Message>` of an XML error body ("" if none)."""
        m = re.search(rb"<Message>([^<]*)</Message>", self.body)
        return m.group(1).decode() if m else ""


def fetch(method: str, url: str, body: bytes | None = None, headers=None) -> Response:
    """One request with http.client: it sends the URL as given and adds no Content-Type (which
    a SigV2 pre-signed PUT signs as empty), unlike urllib."""
    u = urllib.parse.urlsplit(url)
    assert u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost"), url
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        target = u.path + ("?" + u.query if u.query else "")
        conn.request(method, target, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def post_form(
    url: str,
    fields,
    data: bytes,
    filename: str = "upload.bin",
    file_content_type: str = "application/octet-stream",
) -> Response:
    """A browser POST upload: `fields` (a dict or (name, value) pairs, sent in that order)
    then the file part last, as multipart/form-data with a Content-Length, as a browser's
    <form enctype="multipart/form-data"> sends it. Names and values go as UTF-8."""
    boundary = "----guestpass-interop-" + os.urandom(12).hex()
    items = fields.items() if isinstance(fields, dict) else fields
    out = bytearray()
    for name, value in items:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += str(value).encode() + b"\r\n"
    out += (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {file_content_type}\r\n\r\n"
    ).encode()
    out += data + f"\r\n--{boundary}--\r\n".encode()
    return fetch(
        "POST",
        url,
        bytes(out),
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def tamper_query_param(url: str, name: str) -> str:
    """The same URL with one character of query parameter `name` changed (and everything else,
    including the other parameters' encoding and order, left exactly as it was)."""
    u = urllib.parse.urlsplit(url)
    pairs = u.query.split("&")
    for i, pair in enumerate(pairs):
        k, sep, v = pair.partition("=")
        if urllib.parse.unquote(k) != name:
            continue
        value = urllib.parse.unquote(v)
        j = len(value) // 2
        while not value[j].isalnum():
            j += 1
        swap = {"0": "1", "a": "b", "A": "B"}
        c = value[j]
        new = swap.get(c, "0" if c != "0" else "1")
        changed = value[:j] + new + value[j + 1 :]
        assert changed != value
        pairs[i] = k + sep + urllib.parse.quote(changed, safe="")
        return urllib.parse.urlunsplit(u._replace(query="&".join(pairs)))
    raise AssertionError(f"{name} not in {url}")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
