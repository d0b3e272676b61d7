"""Fixtures for the interop suite. The gateway is started by tests/interop/python/run (or
scripts/interop), which exports GUESTPASS_INTEROP_ENDPOINT."""

from __future__ import annotations

import os
import re
import uuid

import pytest

# Nothing from the machine's own AWS setup (profiles, config files, endpoint or checksum
# overrides) may change how the clients sign: every setting the tests need is passed explicitly.
for _name in [n for n in os.environ if n.startswith("AWS_")]:
    del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

import s3util  # noqa: E402  (after the environment is clean)


def pytest_configure(config):
    if not s3util.ENDPOINT:
        raise pytest.UsageError(
            "GUESTPASS_INTEROP_ENDPOINT is not set: run tests/interop/python/run or scripts/interop"
        )


@pytest.fixture(scope="session")
def s3():
    """boto3, SigV4 `Authorization` headers."""
    return s3util.client("s3v4")


@pytest.fixture(scope="session")
def s3_v2():
    """boto3 with `signature_version='s3'`: SigV2 headers and pre-signed URLs."""
    return s3util.client("s3")


@pytest.fixture
def prefix(request) -> str:
    """A key prefix no other test uses."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")
    return f"interop/py/{name}-{uuid.uuid4().hex[:8]}/"


@pytest.fixture(scope="session")
def big_file(tmp_path_factory):
    """40 MiB of random bytes (multipart for both boto3 and the aws CLI) and their SHA-256."""
    path = tmp_path_factory.mktemp("big") / "forty-mib.bin"
    with open(path, "wb") as f:
        for _ in range(40):
            f.write(os.urandom(s3util.MiB))
    return path, s3util.sha256_file(path)


def object_exists(s3, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=s3util.BUCKET, Key=key)
        return True
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise


@pytest.fixture(scope="session")
def exists(s3):
    """exists(key): whether the object is in the store, asked with a valid signature."""
    return lambda key: object_exists(s3, key)
