"""Per-run model overrides: a run may choose any pair the deployment allows (its IAM grants exactly those), and
Preflight refuses any other before anything exists in Bedrock, naming the allowed pairs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.catalog import ModelPair
from bedrock_distill.handlers import common
from bedrock_distill.workflow.dataset_settings import load_dataset_settings
from bedrock_distill.workflow.errors import InvalidExecutionInput
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, plan_run
from bedrock_distill.workflow.settings import ENVIRONMENT_VARIABLES, PipelineSettings
from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

DEFAULT = ModelPair("meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-8b-instruct-v1:0:128k")
OVERRIDE = ModelPair("us.meta.llama3-3-70b-instruct-v1:0", "meta.llama3-2-3b-instruct-v1:0:128k")
# Documented by AWS and offered in us-west-2, but not on this deployment's list.
UNLISTED = ModelPair("meta.llama3-1-70b-instruct-v1:0", "meta.llama3-2-1b-instruct-v1:0:128k")
EXECUTION = ExecutionContext(id="arn:aws:states:us-west-2:123456789012:execution:distillation:run-1", name="run-1")
SETTINGS_URI = "s3://inputs/datasets/incoming/tickets.json"


def _settings(allowed: tuple[ModelPair, ...] | None = (DEFAULT, OVERRIDE)) -> PipelineSettings:
    return pipeline_settings(
        default_teacher_model_id=DEFAULT.teacher, default_student_model_id=DEFAULT.student, allowed_model_pairs=allowed
    )


def _input(pair: ModelPair | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"},
        "validationPrompts": "s3://inputs/datasets/validation.jsonl",
    }
    if pair is not None:
        document |= {"teacherModelId": pair.teacher, "studentModelId": pair.student}
    return document


def test_a_run_may_choose_any_allowed_pair() -> None:
    run = plan_run(ExecutionInput.model_validate(_input(OVERRIDE)), EXECUTION, _settings())
    assert (run.teacher_model_id, run.student_model_id) == (OVERRIDE.teacher, OVERRIDE.student)
    default = plan_run(ExecutionInput.model_validate(_input()), EXECUTION, _settings())
    assert (default.teacher_model_id, default.student_model_id) == (DEFAULT.teacher, DEFAULT.student)


def test_a_run_outside_the_list_is_refused_naming_the_allowed_pairs() -> None:
    # Given a pair AWS offers here, but that the deployment's IAM does not grant
    with pytest.raises(ValueError, match="not allowed by this deployment") as raised:
        plan_run(ExecutionInput.model_validate(_input(UNLISTED)), EXECUTION, _settings())
    # Then the message names every allowed pair and how to allow another
    message = str(raised.value)
    assert f"(allowed: {DEFAULT.teacher} -> {DEFAULT.student}; {OVERRIDE.teacher} -> {OVERRIDE.student})" in message
    assert "allowedModelPairs" in message


def test_a_deployment_without_a_list_still_refuses_what_aws_refuses() -> None:
    # Given settings with no allow-list (the offline pipeline until it passes one)
    settings = _settings(allowed=None)
    assert plan_run(ExecutionInput.model_validate(_input(UNLISTED)), EXECUTION, settings).student_model_id
    # When a run names a student without its context suffix
    with pytest.raises(ValueError, match="name the student with its context length"):
        plan_run(
            ExecutionInput.model_validate(_input(ModelPair(DEFAULT.teacher, "meta.llama3-1-8b-instruct-v1:0"))),
            EXECUTION,
            settings,
        )


def test_the_list_reaches_the_functions_as_json_in_their_environment() -> None:
    environment = _settings().to_environment()
    assert json.loads(environment[ENVIRONMENT_VARIABLES["allowed_model_pairs"]]) == [
        {"teacher": DEFAULT.teacher, "student": DEFAULT.student},
        {"teacher": OVERRIDE.teacher, "student": OVERRIDE.student},
    ]
    assert PipelineSettings.from_environment(environment) == _settings()
    # Without a list, the variable is not set at all
    assert ENVIRONMENT_VARIABLES["allowed_model_pairs"] not in _settings(allowed=None).to_environment()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f'{{\n  "provisionedModelUnits": 2,\n  "studentModelId": "{UNLISTED.student}"\n}}',
            f"{SETTINGS_URI}:3: studentModelId: teacher {UNLISTED.teacher!r} -> student {UNLISTED.student!r} is not "
            "allowed by this deployment",
        ),
        (
            # Only the teacher: paired with the deployment's default student, which its row does not list
            '{\n  "teacherModelId": "us.amazon.nova-premier-v1:0"\n}',
            f"{SETTINGS_URI}:2: teacherModelId: teacher 'us.amazon.nova-premier-v1:0' (amazon) and student",
        ),
        (
            '{\n  "studentModelId": "meta.llama3-2-3b-instruct-v1:0"\n}',
            f"{SETTINGS_URI}:2: studentModelId: student 'meta.llama3-2-3b-instruct-v1:0': name the student with",
        ),
    ],
)
def test_upload_settings_outside_the_list_are_refused_naming_file_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(InvalidExecutionInput) as raised:
        load_dataset_settings(text, SETTINGS_URI, _settings())
    assert str(raised.value).startswith(expected), str(raised.value)


def test_upload_settings_may_name_an_allowed_pair() -> None:
    text = json.dumps({"teacherModelId": OVERRIDE.teacher, "studentModelId": OVERRIDE.student})
    settings = load_dataset_settings(text, SETTINGS_URI, _settings())
    assert (settings.teacher_model_id, settings.student_model_id) == (OVERRIDE.teacher, OVERRIDE.student)


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[BedrockEmulator]:
    """The Preflight function as deployed with the list, its buckets and Bedrock."""
    for name, value in _settings().to_environment().items():
        monkeypatch.setenv(name, value)
    common.settings.cache_clear()
    with mock_aws(), bedrock_emulator() as bedrock:
        s3 = boto3.client("s3")
        for bucket in ("inputs", "outputs"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
        record = {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        }
        for key in ("datasets/prompts.jsonl", "datasets/validation.jsonl"):
            s3.put_object(Bucket="inputs", Key=key, Body="\n".join([json.dumps(record)] * 120).encode())
        yield bedrock
    common.settings.cache_clear()


def test_preflight_refuses_a_run_outside_the_list_before_anything_exists(deployed: BedrockEmulator) -> None:
    from bedrock_distill.handlers.preflight import handler  # noqa: PLC0415 - after the settings are in place

    # When an execution asks for a pair the deployment does not allow
    event = {"execution": {"id": EXECUTION.id, "name": EXECUTION.name}, "input": _input(UNLISTED)}
    with pytest.raises(InvalidExecutionInput, match="not allowed by this deployment") as raised:
        handler(event, LocalLambdaContext(function_name="preflight"))
    # Then Preflight fails with the error the state machine catches as bad input, naming the allowed pairs
    assert f"{OVERRIDE.teacher} -> {OVERRIDE.student}" in str(raised.value)
    # And nothing exists: no Bedrock call was made, nothing but the run's preflight.json was written
    assert deployed.calls == []
    written = boto3.client("s3").list_objects_v2(Bucket="outputs").get("Contents", [])
    assert [item["Key"].rsplit("/", 2)[-2:] for item in written] == [["report", "preflight.json"]]
