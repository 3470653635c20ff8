"""Which uploads start runs, under which name, and what per-dataset settings may say."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedrock_distill.workflow.dataset_settings import load_dataset_settings
from bedrock_distill.workflow.errors import InvalidExecutionInput
from bedrock_distill.workflow.run import ExecutionInput
from bedrock_distill.workflow.uploads import UploadedObject, decide, execution_input, execution_name
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
