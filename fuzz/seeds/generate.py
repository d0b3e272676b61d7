#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/.

Seeds come from the test vectors under testdata/sigv4 and from requests signed here with
a small independent SigV4 / SigV2 signer (standard library only), so the fuzzer starts
from inputs that get past the cheap checks and reach the crypto. Run it from anywhere:

    python3 fuzz/seeds/generate.py

The output is deterministic; the checked-in seeds are its output.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import struct
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(ROOT, "testdata", "sigv4")

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
EMPTY = hashlib.sha256(b"").hexdigest()
DOC_DATE = "20130524T000000Z"
DOC_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
NOW = 1369353900  # 2013-05-24T00:05:00Z, the harness default


def h(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def signing_key(day):
    k = h(("AWS4" + SECRET).encode(), day)
    for part in (REGION, "s3", "aws4_request"):
        k = h(k, part)
    return k


def enc(s, safe=""):
    return urllib.parse.quote(s, safe="-_.~" + safe)


def canonical_query(params):
    pairs = sorted((enc(k), enc(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def sigv4_header(method, path, query, headers, payload, amz_date=DOC_DATE):
    """Signs with the Authorization header; `headers` lower-case, `host` included."""
    headers = dict(headers)
    headers["x-amz-date"] = amz_date
    headers["x-amz-content-sha256"] = payload
    names = sorted(headers)
    creq = "\n".join(
        [
            method,
            path,
            canonical_query(query),
            "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
            ";".join(names),
            payload,
        ]
    )
    day = amz_date[:8]
    scope = f"{day}/{REGION}/s3/aws4_request"
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    sig = hmac.new(signing_key(day), sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    )
    return headers, sig


def sigv4_query(method, path, query, host, expires=3600, amz_date=DOC_DATE):
    day = amz_date[:8]
    scope = f"{day}/{REGION}/s3/aws4_request"
    params = list(query) + [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{AKID}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    creq = f"{method}\n{path}\n{canonical_query(params)}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    sig = hmac.new(signing_key(day), sts.encode(), hashlib.sha256).hexdigest()
    params.append(("X-Amz-Signature", sig))
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in params)


def sigv2(string_to_sign):
    return base64.b64encode(hmac.new(SECRET.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()


def chunk_sig(prev, data, amz_date=DOC_DATE):
    day = amz_date[:8]
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            amz_date,
            f"{day}/{REGION}/s3/aws4_request",
            prev,
            EMPTY,
            hashlib.sha256(data).hexdigest(),
        ]
    )
    return hmac.new(signing_key(day), sts.encode(), hashlib.sha256).hexdigest()


def trailer_sig(prev, canonical, amz_date=DOC_DATE):
    day = amz_date[:8]
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            amz_date,
            f"{day}/{REGION}/s3/aws4_request",
            prev,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    return hmac.new(signing_key(day), sts.encode(), hashlib.sha256).hexdigest()


def chunked(data, sizes, seed=None, trailer=None, signed_trailer=False):
    """An aws-chunked body; signed when `seed` is given; `trailer` is (name, value)."""
    out, prev, at, i = b"", seed, 0, 0
    pieces = []
    while at < len(data):
        n = sizes[i % len(sizes)]
        pieces.append(data[at : at + n])
        at += n
        i += 1
    pieces.append(b"")
    for p in pieces:
        out += f"{len(p):x}".encode()
        if seed:
            prev = chunk_sig(prev, p)
            out += f";chunk-signature={prev}".encode()
        out += b"\r\n"
        if p:
            out += p + b"\r\n"
    if seed and not signed_trailer:
        return out + b"\r\n"
    canonical = ""
    if trailer:
        out += f"{trailer[0]}:{trailer[1]}\r\n".encode()
        canonical = f"{trailer[0]}:{trailer[1]}\n"
    if seed:
        out += f"x-amz-trailer-signature:{trailer_sig(prev, canonical)}\r\n".encode()
    return out + b"\r\n"


def crc32_b64(data):
    return base64.b64encode(struct.pack(">I", zlib.crc32(data))).decode()


def request_text(method, target, headers, body=b"", now=NOW):
    head = f"@{now}\n{method} {target} HTTP/1.1\n" + "".join(f"{k}: {v}\n" for k, v in headers.items())
    return head.encode() + b"\n" + body


def doc_vectors():
    with open(os.path.join(VECTORS, "s3-docs", "s3_docs_vectors.json")) as f:
        return json.load(f)


def main():
    seeds = {}

    def add(target, name, data):
        seeds.setdefault(target, []).append((name, data.encode() if isinstance(data, str) else data))

    docs = doc_vectors()

    # authorization_header, presigned_query, canonical_query: straight from the vectors.
    for v in docs:
        if v["kind"] == "sigv4-header":
            add("authorization_header", v["name"], v["authorization"])
        if v["kind"] == "sigv4-query":
            add("presigned_query", v["name"], v["url"].split("?", 1)[1])
            add("canonical_query", v["name"], v["url"].split("?", 1)[1])
    suite = os.path.join(VECTORS, "aws-sig-v4-test-suite")
    for case in ["get-vanilla-query-order-key-case", "post-header-key-sort", "get-header-value-trim"]:
        with open(os.path.join(suite, case, case + ".authz")) as f:
            add("authorization_header", case, f.read())
    c_auth = os.path.join(VECTORS, "aws-c-auth", "v4")
    for case in [
        "get-vanilla-query-order-key-case",
        "get-vanilla-query-order-encoded",
        "get-vanilla-utf8-query",
        "get-vanilla-empty-query-key",
        "get-vanilla-query-unreserved",
    ]:
        with open(os.path.join(c_auth, case, "query-signed-request.txt")) as f:
            line = f.readline().split(" ")[1]
        query = line.split("?", 1)[1] if "?" in line else ""
        add("presigned_query", case, query)
        add("canonical_query", case, query)
    add("presigned_query", "duplicate", "X-Amz-Signature=a&X-Amz-%53ignature=b&x-amz-date=1")
    add("canonical_query", "plus-and-escapes", "b=2&a=z&a=y&c&X-Amz-Signature=abc&%41=1&s=a+b%2Bc&%zz=%F0%9F%A6%80")

    # authenticate: the documented requests, then fresh ones for every scheme and body.
    for v in docs:
        if v["kind"] == "sigv4-header":
            headers = dict(v["headers"])
            headers["authorization"] = v["authorization"]
            path = v["canonical_uri"] + (("?" + v["canonical_query"]) if v["canonical_query"] else "")
            add("authenticate", v["name"], request_text(v["method"], path, headers))
        if v["kind"] == "sigv4-query":
            target = "/" + v["url"].split("/", 3)[3]
            add("authenticate", v["name"], request_text("GET", target, {"host": "examplebucket.s3.amazonaws.com"}))
        if v["kind"] == "sigv2-query":
            target = "/" + v["url"].split("/", 3)[3]
            host = v["url"].split("/")[2]
            add("authenticate", v["name"], request_text("GET", target, {"host": host}, now=v["expires_epoch"] - 60))

    host = "localhost:9000"
    h, _ = sigv4_header("GET", "/bkt/a%20b/%E2%9C%93", [("versionId", "1"), ("acl", "")], {"host": host, "range": "bytes=0-9"}, EMPTY)
    add("authenticate", "v4-header-get", request_text("GET", "/bkt/a%20b/%E2%9C%93?versionId=1&acl", h))
    h, _ = sigv4_header("PUT", "/bkt/key", [], {"host": host, "x-amz-meta-a": "b"}, "UNSIGNED-PAYLOAD")
    add("authenticate", "v4-header-unsigned", request_text("PUT", "/bkt/key", h, b"hello"))

    q = sigv4_query("PUT", "/bkt/dir/..//k", [("partNumber", "2"), ("uploadId", "x y")], host)
    add("authenticate", "v4-query-put", request_text("PUT", "/bkt/dir/..//k?" + q, {"host": host}))

    data = b"hello aws-chunked world, in three chunks"
    base = {"host": host, "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    h, seed = sigv4_header("PUT", "/bkt/chunked", [], base, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    add("authenticate", "v4-streaming-signed", request_text("PUT", "/bkt/chunked", h, chunked(data, [16], seed)))
    trailer = ("x-amz-checksum-crc32", crc32_b64(data))
    h, seed = sigv4_header(
        "PUT",
        "/bkt/chunked",
        [],
        dict(base, **{"x-amz-trailer": "x-amz-checksum-crc32"}),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    )
    add("authenticate", "v4-streaming-signed-trailer", request_text("PUT", "/bkt/chunked", h, chunked(data, [16], seed, trailer, True)))
    h, _ = sigv4_header(
        "PUT",
        "/bkt/chunked",
        [],
        dict(base, **{"x-amz-trailer": "x-amz-checksum-crc32"}),
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
    add("authenticate", "v4-streaming-unsigned-trailer", request_text("PUT", "/bkt/chunked", h, chunked(data, [16], None, trailer)))

    date = "Fri, 24 May 2013 00:00:00 GMT"
    sts = f"GET\n\n\n{date}\nx-amz-meta-a:b\n/bkt/k?acl"
    add(
        "authenticate",
        "v2-header",
        request_text("GET", "/bkt/k?acl", {"host": host, "date": date, "x-amz-meta-a": "b", "authorization": f"AWS {AKID}:{sigv2(sts)}"}),
    )
    sts = f"PUT\n\ntext/plain\n{NOW + 600}\n/bkt/k?uploadId=u 1"
    add(
        "authenticate",
        "v2-query-vhost",
        request_text(
            "PUT",
            f"/k?uploadId=u%201&AWSAccessKeyId={AKID}&Expires={NOW + 600}&Signature={enc(sigv2(sts))}",
            {"host": "bkt.s3.amazonaws.com", "content-type": "text/plain"},
        ),
    )

    # aws_chunked: raw bodies (header: mode, checksum, flags=0, declared, frame sizes).
    def chunk_seed(mode, alg, structured, word, pieces, rest):
        return bytes([mode, alg, structured]) + struct.pack("<H", word & 0xFFFF) + bytes(pieces) + rest

    data = b"0123456789abcdefghijklmnopqrstuvwxyz"
    add("aws_chunked", "raw-signed", chunk_seed(0, 0, 0, len(data), [1, 7, 64, 3], chunked(data, [10], DOC_SEED)))
    add("aws_chunked", "raw-signed-trailer-crc32", chunk_seed(1, 1, 0, len(data), [5, 200, 2, 9], chunked(data, [8], DOC_SEED, ("x-amz-checksum-crc32", crc32_b64(data)), True)))
    add("aws_chunked", "raw-unsigned-crc32", chunk_seed(2, 1, 0, len(data), [3, 3, 3, 250], chunked(data, [7], None, ("x-amz-checksum-crc32", crc32_b64(data)))))
    add("aws_chunked", "raw-unsigned-no-checksum", chunk_seed(2, 0, 0, len(data), [255, 1, 1, 1], chunked(data, [36])))
    # Built bodies: n sizes, m flips (offset u16 LE, xor), then the data.
    add("aws_chunked", "built-signed", chunk_seed(0, 0, 1, 0, [4, 4, 4, 4], bytes([2, 5, 9, 0]) + data))
    add("aws_chunked", "built-signed-trailer-sha256", chunk_seed(1, 4, 1, 0, [1, 2, 3, 4], bytes([1, 3, 0]) + data))
    add("aws_chunked", "built-unsigned-crc32c-flip", chunk_seed(2, 2, 1, 0, [64, 64, 64, 64], bytes([1, 6, 1, 12, 0, 0x20]) + data))

    # addressing
    for name, text in [
        ("path-style", "localhost:8080\n/bkt/a%20b/../c//d"),
        ("vhost", "my.bucket.s3.example.com:8080\n/k%C3%BC"),
        ("vhost-localhost", "bkt.localhost\n//x"),
        ("ipv6", "[::1]:80\n/bkt/a+b%2Bc"),
        ("list", "s3.example.com\n/"),
    ]:
        add("addressing", name, text)

    # config: the example config, and the unit tests' one.
    example = os.path.join(ROOT, "config.example.toml")
    if os.path.exists(example):
        with open(example) as f:
            add("config", "example", f.read())
    add(
        "config",
        "minimal",
        """[server]
listen = "127.0.0.1:8080"
public_url = "https://files.example.com"
virtual_host_domains = ["files.example.com"]

[auth]
region = "us-east-1"
max_expires = "7d"
clock_skew = "15m"

[[credentials]]
access_key_id = "APPKEY1"
secret_access_key = "app-secret-number-one"

[[credentials]]
access_key_id = "APPKEY2"
secret_access_key_file = "/run/secrets/app2"

[upstream]
endpoint = "https://s3.filebase.com"
region = "us-east-1"
access_key_id = "UPSTREAMKEY"
secret_access_key_env = "UPSTREAM_SECRET"

[log]
format = "json"
level = "guestpass=debug,info"
""",
    )

    # sigv2_string_to_sign: method, date line, vhost bucket, path?query, headers.
    add(
        "sigv2_string_to_sign",
        "put-metadata",
        "PUT\nTue, 27 Mar 2007 21:06:08 +0000\nstatic.johnsmith.net\n/db-backup.dat.gz\n"
        "content-md5: 4gJE4saaMU4BqNR0kLY+lw==\ncontent-type: application/x-download\nx-amz-acl: public-read\n"
        "x-amz-meta-reviewedby: joe@johnsmith.net\nx-amz-meta-reviewedby: jane@johnsmith.net\n",
    )
    add(
        "sigv2_string_to_sign",
        "query-subresources",
        "GET\n1175139620\n\n/johnsmith/photos/puppy.jpg?AWSAccessKeyId=A&Expires=1&Signature=x&prefix=a&versionId=v%201&acl&response-content-type=a%2Fb\n",
    )

    # post_policy: policy JSON (the harness base64-encodes it).
    credential = f"{AKID}/20130524/{REGION}/s3/aws4_request"
    policy = {
        "expiration": "2013-05-25T00:00:00Z",
        "conditions": [
            {"bucket": "examplebucket"},
            ["starts-with", "$key", "user/user1/"],
            {"acl": "public-read"},
            {"success_action_redirect": "http://examplebucket.s3.amazonaws.com/successful_upload.html"},
            ["starts-with", "$Content-Type", "image/"],
            {"x-amz-meta-uuid": "14365123651274"},
            {"x-amz-server-side-encryption": "AES256"},
            ["starts-with", "$x-amz-meta-tag", ""],
            {"x-amz-credential": credential},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-date": DOC_DATE},
            ["content-length-range", 1, 10485760],
        ],
    }
    add("post_policy", "s3-docs-example", json.dumps(policy, indent=2))
    add("post_policy", "length-strings", '{"expiration":"2030-01-01T00:00:00.000Z","conditions":[["content-length-range","0","99"],["eq","$key","a"]]}')
    add("post_policy", "raw-base64", "#" + base64.b64encode(b'{"expiration":"2013-05-25T00:00:00Z","conditions":[]}').decode())

    # post_form: Content-Type line, Content-Length line (empty: the real one), body.
    def form(boundary, fields, file_name, file_data):
        body = b""
        for k, v in fields:
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        return body + file_data + f"\r\n--{boundary}--\r\n".encode()

    post_policy = {
        "expiration": "2013-05-25T00:00:00Z",
        "conditions": [
            {"bucket": "examplebucket"},
            ["starts-with", "$key", "user/"],
            {"x-amz-credential": credential},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-date": DOC_DATE},
            ["content-length-range", 0, 1024],
        ],
    }
    policy_b64 = base64.b64encode(json.dumps(post_policy).encode()).decode()
    signature = hmac.new(signing_key("20130524"), policy_b64.encode(), hashlib.sha256).hexdigest()
    fields = [
        ("key", "user/${filename}"),
        ("policy", policy_b64),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", credential),
        ("x-amz-date", DOC_DATE),
        ("x-amz-signature", signature),
    ]
    add("post_form", "v4-signed", b"multipart/form-data; boundary=XyZ\n\n" + form("XyZ", fields, "a.txt", b"hello, world"))
    v2_policy = base64.b64encode(json.dumps({"expiration": "2013-05-25T00:00:00Z", "conditions": [{"bucket": "examplebucket"}, ["starts-with", "$key", ""]]}).encode()).decode()
    v2_fields = [("key", "k"), ("AWSAccessKeyId", AKID), ("policy", v2_policy), ("signature", sigv2(v2_policy))]
    add("post_form", "v2-signed", b"multipart/form-data; boundary=----b0undary\n-\n" + form("----b0undary", v2_fields, "x.bin", bytes(range(40))))

    out = HERE
    for target, items in seeds.items():
        d = os.path.join(out, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in items:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    total = sum(len(d) for items in seeds.values() for _, d in items)
    print(f"wrote {sum(len(i) for i in seeds.values())} seeds for {len(seeds)} targets, {total} bytes")


if __name__ == "__main__":
    main()
