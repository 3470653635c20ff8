"""A read S3 fails on its side is retried by the state machine; bad data fails Preflight for good."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bedrock_distill.gateways.calls import named_error
from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.preflight import SourceError
from bedrock_distill.workflow import preflight
from bedrock_distill.workflow.errors import (
    InternalServerException,
    PreflightFailed,
    ServiceUnavailableException,
    ThrottlingException,
)
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, Run, plan_run
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

DATASET = "s3://inputs/datasets/prompts.jsonl"


@pytest.fixture
def run() -> Iterator[Run]:
    with mock_aws():
        boto3.client("s3").create_bucket(
            Bucket="outputs", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        execution = ExecutionContext(
            id="arn:aws:states:us-west-2:123456789012:execution:distillation:run-1", name="run-1"
        )
        document = {"trainingData": {"prompts": DATASET}, "validationPrompts": "s3://inputs/datasets/held-out.jsonl"}
        yield plan_run(ExecutionInput.model_validate(document), execution, pipeline_settings())


def _reading_fails_with(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    def unreadable(source: str, *_: Any, **__: Any) -> None:
        # As the S3 gateway names it (gateways.calls), and preflight.sources wraps it
        refused = ClientError({"Error": {"Code": code, "Message": "from S3"}}, "GetObject")
        cause = named_error(refused, "s3", f"GetObject {source}")
        raise SourceError(f"{source}: {code}: from S3") from cause

    monkeypatch.setattr(preflight, "validate_dataset", unreadable)


@pytest.mark.parametrize(
    ("code", "retried_as"),
    [
        ("SlowDown", ThrottlingException),
        ("InternalError", InternalServerException),
        ("ServiceUnavailable", ServiceUnavailableException),
    ],
)
def test_a_read_s3_failed_on_its_side_leaves_as_an_error_the_state_machine_retries(
    run: Run, monkeypatch: pytest.MonkeyPatch, code: str, retried_as: type[Exception]
) -> None:
    # Given S3 answering the dataset read with a code it asks to retry
    _reading_fails_with(monkeypatch, code)
    # When Preflight runs, then it leaves with the named transient error (the ASL retries those), naming the file
    with pytest.raises(retried_as, match=DATASET):
        preflight.run_preflight(run, S3Gateway())


def test_a_dataset_that_is_not_there_fails_preflight_for_good(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    _reading_fails_with(monkeypatch, "NoSuchKey")
    with pytest.raises(PreflightFailed, match=f"{DATASET}: NoSuchKey"):
        preflight.run_preflight(run, S3Gateway())
