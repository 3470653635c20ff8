"""Planning a run from its execution input: every input problem is InvalidExecutionInput, located."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.workflow.errors import InvalidExecutionInput
from bedrock_distill.workflow.planning import plan
from bedrock_distill.workflow.run import ExecutionContext
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

EXECUTION = ExecutionContext(id="arn:aws:states:us-west-2:123456789012:execution:distillation:run-1", name="run-1")
PROMPTS = "s3://inputs/datasets/prompts.jsonl"


@pytest.fixture
def s3() -> Iterator[S3Gateway]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="inputs", CreateBucketConfiguration={"LocationConstraint": client.meta.region_name})
        yield S3Gateway()


def _plan(execution_input: object, s3: S3Gateway) -> Any:
    return plan(execution_input, EXECUTION, pipeline_settings(), s3)


def test_a_valid_input_is_planned_into_a_run(s3: S3Gateway) -> None:
    # Given an input naming only its training prompts
    # When it is planned
    run = _plan({"trainingData": {"prompts": PROMPTS}}, s3)
    # Then the run trains on them with the deployment's defaults
    assert run.training_source_uri == PROMPTS
    assert run.teacher_model_id == pipeline_settings().default_teacher_model_id


def test_each_problem_of_the_input_is_named_by_its_path(s3: S3Gateway) -> None:
    # Given an input with an unknown field and a mistyped one, and no input at all
    # When they are planned
    with pytest.raises(InvalidExecutionInput) as raised:
        _plan({"trainingData": {"prompts": PROMPTS}, "colour": "blue", "validationSampleSize": "many"}, s3)
    with pytest.raises(InvalidExecutionInput) as missing:
        _plan(None, s3)
    # Then each problem is one line, `input.<path>: <reason>`
    lines = str(raised.value).splitlines()
    assert any(line.startswith("input.colour: ") for line in lines)
    assert any(line.startswith("input.validationSampleSize: ") for line in lines)
    assert str(missing.value).startswith("input: ")


@pytest.mark.parametrize(("body", "reason"), [(None, "cannot read the dataset settings"), (b"\xff\xfe{", "utf-8")])
def test_a_settings_file_that_cannot_be_read_is_bad_input(s3: S3Gateway, body: bytes | None, reason: str) -> None:
    # Given an input naming a settings file that is missing, or is not UTF-8 text
    uri = "s3://inputs/datasets/incoming/settings.json"
    if body is not None:
        boto3.client("s3").put_object(Bucket="inputs", Key="datasets/incoming/settings.json", Body=body)
    # When it is planned
    with pytest.raises(InvalidExecutionInput) as raised:
        _plan({"trainingData": {"prompts": PROMPTS}, "datasetSettings": uri}, s3)
    # Then the run is refused as bad input, naming the file
    assert str(raised.value).startswith(f"{uri}: ")
    assert reason in str(raised.value)
