"""Which uploads start runs, under which name, and what per-dataset settings may say."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.workflow.dataset_settings import load_dataset_settings
from bedrock_distill.workflow.errors import InvalidExecutionInput
from bedrock_distill.workflow.run import ExecutionInput
from bedrock_distill.workflow.uploads import (
    UploadedObject,
    decide,
    execution_input,
    execution_name,
    start_run_for,
)
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

PREFIX = "datasets/incoming"
SETTINGS_URI = "s3://inputs/datasets/incoming/tickets.json"
TEACHER = "us.meta.llama3-3-70b-instruct-v1:0"
STUDENT = "meta.llama3-2-1b-instruct-v1:0:128k"
# A deployment whose default pair is the Llama 3.1 pair and that also allows the pair the settings below name.
PIPELINE = pipeline_settings()


def _upload(key: str = f"{PREFIX}/tickets.jsonl", version: str | None = "v1") -> UploadedObject:
    return UploadedObject(bucket="inputs", key=key, version_id=version, etag="e", sequencer="01")


def test_a_dataset_under_the_trigger_prefix_starts_a_run() -> None:
    decision = decide(_upload(), PREFIX)
    assert decision.action == "start"
    assert decision.execution_name == execution_name(_upload())


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("datasets/held-out.jsonl", "outside the upload trigger prefix"),
        (f"{PREFIX}/tickets.json", "not a .jsonl dataset"),
        (f"{PREFIX}-other/tickets.jsonl", "outside the upload trigger prefix"),
    ],
)
def test_other_uploads_are_ignored_with_the_reason(key: str, reason: str) -> None:
    decision = decide(_upload(key), PREFIX)
    assert decision.action == "ignore"
    assert reason in decision.reason


def test_one_name_per_object_version() -> None:
    # The same version, delivered twice, gets the same name: Step Functions refuses the second execution
    assert execution_name(_upload(version="v1")) == execution_name(_upload(version="v1"))
    # A new version of the same key is a new run
    assert execution_name(_upload(version="v1")) != execution_name(_upload(version="v2"))
    # Without versioning, the ETag and sequencer tell uploads apart
    assert execution_name(_upload(version=None)) != execution_name(
        UploadedObject(bucket="inputs", key=f"{PREFIX}/tickets.jsonl", etag="e", sequencer="02")
    )


@given(st.text(min_size=1, max_size=300))
def test_every_key_gives_a_valid_execution_name(stem: str) -> None:
    name = execution_name(_upload(f"{PREFIX}/{stem}.jsonl"))
    assert len(name) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)


def test_the_execution_input_names_the_settings_only_when_they_exist() -> None:
    assert execution_input(_upload(), settings_exist=False) == {
        "trainingData": {"prompts": "s3://inputs/datasets/incoming/tickets.jsonl"}
    }
    with_settings = execution_input(_upload(), settings_exist=True)
    assert with_settings["datasetSettings"] == SETTINGS_URI
    # And the pipeline accepts what the trigger sends
    ExecutionInput.model_validate(with_settings)


def test_settings_override_the_models_and_units() -> None:
    text = f'{{"studentModelId": "{STUDENT}", "teacherModelId": "{TEACHER}", "provisionedModelUnits": 2}}'
    settings = load_dataset_settings(text, "x", PIPELINE)
    applied = settings.apply_to(ExecutionInput.model_validate(execution_input(_upload(), settings_exist=True)))
    assert (applied.student_model_id, applied.teacher_model_id, applied.provisioned_model_units) == (
        STUDENT,
        TEACHER,
        2,
    )
    assert applied.training_data.prompts == "s3://inputs/datasets/incoming/tickets.jsonl"


def test_a_filter_trains_from_the_logs_and_validates_on_the_upload() -> None:
    settings = load_dataset_settings('{"filter": {"equals": {"project": "tickets"}}}', SETTINGS_URI, PIPELINE)
    applied = settings.apply_to(ExecutionInput.model_validate(execution_input(_upload(), settings_exist=True)))
    assert applied.training_data.prompts is None
    assert applied.training_data.invocation_logs is not None
    assert applied.training_data.invocation_logs.request_metadata_filters == {"equals": {"project": "tickets"}}
    assert applied.validation_prompts == "s3://inputs/datasets/incoming/tickets.jsonl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "studentModelId": "s",\n  "modelUnits": 2\n}', f"{SETTINGS_URI}:3: modelUnits: Extra inputs"),
        ('{\n  "provisionedModelUnits": 0\n}', f"{SETTINGS_URI}:2: provisionedModelUnits: Input should be greater"),
        ('{\n  "studentModelId": "s",\n', f"{SETTINGS_URI}:3: (file): not valid JSON"),
        ('["not", "an", "object"]', f"{SETTINGS_URI}:1: (file): Input should be a valid dictionary"),
        (
            '{\n  "teacherModelId": "t",\n  "filter": {"equals": {"a": "1", "b": "2"}}\n}',
            f"{SETTINGS_URI}:3: filter.",
        ),
    ],
)
def test_a_bad_settings_file_is_refused_naming_file_line_field_and_reason(text: str, expected: str) -> None:
    with pytest.raises(InvalidExecutionInput) as raised:
        load_dataset_settings(text, SETTINGS_URI, PIPELINE)
    assert str(raised.value).startswith(expected), str(raised.value)


@pytest.mark.parametrize("suffix", [".JSONL", ".Jsonl", ".jsonL"])
def test_the_dataset_suffix_is_case_insensitive(suffix: str) -> None:
    # Given a dataset uploaded with its extension in another case
    upload = _upload(f"{PREFIX}/tickets{suffix}")

    # Then it starts a run, named after its stem, with its settings beside it
    decision = decide(upload, PREFIX)
    assert (decision.action, decision.reason) == ("start", "dataset uploaded")
    assert decision.execution_name is not None
    assert decision.execution_name.startswith("upload-tickets-")
    assert upload.settings_key == f"{PREFIX}/tickets.json"


class _RecordingExecutions(StepFunctionsGateway):
    def __init__(self) -> None:
        super().__init__()
        self.started: list[dict[str, Any]] = []

    def start_execution(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str | None:
        self.started.append(execution_input)
        return f"{state_machine_arn}:{name}"


@pytest.fixture
def inputs_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="inputs")
        yield client


# Keys whose URL encoding differs from the key: a space, a literal plus, unicode, a percent sign.
AWKWARD_STEMS = ["march tickets", "c++ questions", "fragen-über-büro", "100% done", "a+b c"]


@pytest.mark.parametrize("stem", AWKWARD_STEMS)
@pytest.mark.parametrize("spelling", ["url-encoded", "plain"])
def test_a_key_is_found_whether_the_event_sends_it_encoded_or_plain(
    inputs_bucket: Any, stem: str, spelling: str
) -> None:
    # Given a dataset stored under an awkward key, with settings beside it
    key = f"{PREFIX}/{stem}.jsonl"
    inputs_bucket.put_object(Bucket="inputs", Key=key, Body=b"{}\n")
    inputs_bucket.put_object(Bucket="inputs", Key=f"{PREFIX}/{stem}.json", Body=b"{}")
    # S3 event notifications encode keys as form data ("red flower.jpg" -> "red+flower.jpg"), slashes kept
    sent = "/".join(quote_plus(part) for part in key.split("/")) if spelling == "url-encoded" else key
    executions = _RecordingExecutions()

    # When the upload event arrives with the key in that spelling
    outcome = start_run_for(_upload(sent), PREFIX, "arn:sm", S3Gateway(inputs_bucket), executions)

    # Then the run is started on the object as stored, with its settings
    assert outcome.action == "started", outcome.reason
    assert executions.started == [
        {"trainingData": {"prompts": f"s3://inputs/{key}"}, "datasetSettings": f"s3://inputs/{PREFIX}/{stem}.json"}
    ]
    # And both spellings of one upload are the same run
    assert outcome.object_uri == f"s3://inputs/{key}"


def test_a_key_in_no_spelling_is_ignored_with_the_reason(inputs_bucket: Any) -> None:
    # Given an event for a key that names no object in either spelling (deleted since)
    executions = _RecordingExecutions()

    # When it arrives
    outcome = start_run_for(
        _upload(f"{PREFIX}/gone+away.jsonl"), PREFIX, "arn:sm", S3Gateway(inputs_bucket), executions
    )

    # Then nothing starts and the reason names both spellings
    assert (outcome.action, executions.started) == ("ignored", [])
    assert (
        outcome.reason == f"no object under '{PREFIX}/gone away.jsonl' or '{PREFIX}/gone+away.jsonl' (deleted since?)"
    )
