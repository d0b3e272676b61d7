"""The aws CLI (v1, from requirements.txt) through the gateway: `aws s3 cp` both ways with a
multipart upload, `aws s3 ls`, and `aws s3 presign` in its default (SigV2 for CLI v1) and with
`signature_version = s3v4`, each URL fetched and its bytes compared."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.parse

import pytest

from s3util import ACCESS_KEY, BUCKET, ENDPOINT, REGION, SECRET_KEY, fetch, sha256, sha256_file
from s3util import tamper_query_param


def aws_executable() -> str:
    # The venv's own CLI first: the one requirements.txt pinned.
    beside = os.path.join(os.path.dirname(sys.executable), "aws")
    found = beside if os.path.exists(beside) else shutil.which("aws")
    if not found:
        pytest.fail("the aws CLI is not installed (tests/interop/python/requirements.txt)")
    return found


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """aws(*args, v4=False): runs the CLI against the gateway, returns its stdout."""
    folder = tmp_path_factory.mktemp("aws-config")
    configs = {
        False: "[default]\ns3 =\n    addressing_style = path\n",
        True: "[default]\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n",
    }
    paths = {}
    for v4, text in configs.items():
        paths[v4] = folder / ("config-s3v4" if v4 else "config")
        paths[v4].write_text(text)
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_PAGER="",
    )
    exe = aws_executable()

    def run(*args: str, v4: bool = False) -> str:
        env = dict(base, AWS_CONFIG_FILE=str(paths[v4]))
        done = subprocess.run(
            [exe, "--endpoint-url", ENDPOINT, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"aws {' '.join(args)}: {done.returncode}\n{done.stderr}"
        return done.stdout

    return run


def test_cp_up_and_down_40_mib(aws, prefix, big_file, tmp_path, s3):
    path, digest = big_file
    uri = f"s3://{BUCKET}/{prefix}forty-mib.bin"
    aws("s3", "cp", "--only-show-errors", str(path), uri)
    head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}forty-mib.bin")
    assert head["ContentLength"] == 40 * 1024 * 1024
    assert "-" in head["ETag"], "the CLI uploads 40 MiB in parts"

    out = tmp_path / "down.bin"
    aws("s3", "cp", "--only-show-errors", uri, str(out))
    assert sha256_file(out) == digest


def test_ls(aws, prefix, s3):
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}one.txt", Body=b"1")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}sub/two.txt", Body=b"22")

    top = aws("s3", "ls", f"s3://{BUCKET}/")
    assert "PRE interop/" in top
    assert "hello.txt" in top

    inside = aws("s3", "ls", f"s3://{BUCKET}/{prefix}")
    lines = [line.split() for line in inside.splitlines()]
    assert ["PRE", "sub/"] in lines
    assert any(line[-2:] == ["1", "one.txt"] for line in lines), inside

    recursive = aws("s3", "ls", "--recursive", f"s3://{BUCKET}/{prefix}")
    assert f"{prefix}sub/two.txt" in recursive


def presign_and_fetch(aws, s3, key: str, body: bytes, v4: bool) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    url = aws("s3", "presign", "--expires-in", "600", f"s3://{BUCKET}/{key}", v4=v4).strip()
    got = fetch("GET", url)
    assert got.status == 200, (url, got.body)
    assert sha256(got.body) == sha256(body)
    return url


def test_presign_default_is_sigv2(aws, prefix, s3):
    url = presign_and_fetch(aws, s3, f"{prefix}cli v2 ü.bin", os.urandom(300_000), v4=False)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert {"AWSAccessKeyId", "Signature", "Expires"} <= params.keys(), url

    bad = fetch("GET", tamper_query_param(url, "Signature"))
    assert (bad.status, bad.error_code) == (403, "SignatureDoesNotMatch"), bad.body


def test_presign_s3v4(aws, prefix, s3):
    url = presign_and_fetch(aws, s3, f"{prefix}cli v4 ü.bin", os.urandom(300_000), v4=True)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert params.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256", url

    bad = fetch("GET", tamper_query_param(url, "X-Amz-Signature"))
    assert (bad.status, bad.error_code) == (403, "SignatureDoesNotMatch"), bad.body
