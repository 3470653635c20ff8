"""Each emulator test runs inside moto with a fresh emulator and one data bucket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from offline.bedrock_emulator import BedrockEmulator
from tests.unit.emulator.builders import BUCKET, JOB_SECONDS, PROVISIONING_SECONDS, REGION, client


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    s3_client = client("s3")
    s3_client.create_bucket(Bucket=BUCKET)
    return s3_client


@pytest.fixture
def emulator(s3: Any) -> Iterator[BedrockEmulator]:
    # One no-commitment model unit, as a first quota increase grants; a new account's 0 is tested on its own.
    with BedrockEmulator(
        job_seconds=JOB_SECONDS, provisioning_seconds=PROVISIONING_SECONDS, no_commitment_model_units=1
    ) as started:
        yield started


@pytest.fixture
def bedrock(emulator: BedrockEmulator) -> Any:
    return client("bedrock")


@pytest.fixture
def runtime(emulator: BedrockEmulator) -> Any:
    return client("bedrock-runtime")
