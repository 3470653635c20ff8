"""Uploading a dataset starts a run: one per object version, settings from a file beside it, and an invalid
upload ends in Preflight's failure path with a notification, never in a job."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from bedrock_distill.workflow.settings import UPLOAD_TRIGGER_PREFIX
from offline.bedrock_emulator import BedrockEmulator
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import conversation_record, published_outcomes, upload_prompts

pytestmark = pytest.mark.workflow

STUDENT = "meta.llama3-2-1b-instruct-v1:0:128k"


def _executions(pipeline: LocalPipeline) -> list[dict[str, Any]]:
    client = boto3.client("stepfunctions")
    summaries: list[dict[str, Any]] = client.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]
    return summaries


def _started_by_upload(pipeline: LocalPipeline, key: str) -> dict[str, Any]:
    """The one execution the upload of `key` started, once it has ended and the pipeline has settled."""
    pipeline.settle()
    assert pipeline.pump is not None
    (delivery,) = [d for d in pipeline.pump.deliveries_to("uploads") if d.event["detail"]["object"]["key"] == key]
    assert delivery.succeeded, delivery.result
    assert delivery.result["action"] == "started", delivery.result
    return pipeline.wait(delivery.result["executionArn"])


def _put_json(bucket: str, key: str, text: str) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())


def test_an_uploaded_dataset_runs_with_the_settings_uploaded_beside_it(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given settings for the dataset, uploaded first
    bucket = pipeline.names.input_bucket
    _put_json(
        bucket,
        f"{UPLOAD_TRIGGER_PREFIX}/tickets.json",
        json.dumps({"studentModelId": STUDENT, "provisionedModelUnits": 2}),
    )
    # When the dataset itself is uploaded under the trigger prefix
    key = f"{UPLOAD_TRIGGER_PREFIX}/tickets.jsonl"
    upload_prompts(bucket, key, [conversation_record(i) for i in range(120)])
    result = _started_by_upload(pipeline, key)
    # Then a run started by itself, distilled into the student the settings named, and succeeded
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert result["name"].startswith("upload-tickets-")
    assert json.loads(result["input"]) == {
        "trainingData": {"prompts": f"s3://{bucket}/{key}"},
        "datasetSettings": f"s3://{bucket}/{UPLOAD_TRIGGER_PREFIX}/tickets.json",
    }
    (job,) = emulator.jobs.values()
    assert job.request["baseModelIdentifier"] == STUDENT
    (throughput,) = emulator.provisioned_throughputs.values()
    assert throughput.model_units == 2


def test_a_second_event_for_the_same_object_version_starts_nothing(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a dataset whose upload started a run
    key = f"{UPLOAD_TRIGGER_PREFIX}/once.jsonl"
    upload_prompts(pipeline.names.input_bucket, key, [conversation_record(i) for i in range(120)])
    first = _started_by_upload(pipeline, key)
    assert pipeline.pump is not None
    (delivery,) = pipeline.pump.deliveries_to("uploads")
    # When EventBridge delivers the same event again (delivery is at-least-once)
    again = pipeline.pump.fire("uploads", delivery.event)
    # Then nothing new starts
    assert again.result["action"] == "duplicate"
    assert [e["executionArn"] for e in _executions(pipeline)] == [first["executionArn"]]
    assert len(emulator.jobs) == 1


def test_a_new_version_of_the_same_dataset_is_a_new_run(pipeline: LocalPipeline) -> None:
    key = f"{UPLOAD_TRIGGER_PREFIX}/versions.jsonl"
    records = [conversation_record(i) for i in range(120)]
    upload_prompts(pipeline.names.input_bucket, key, records)
    first = _started_by_upload(pipeline, key)
    upload_prompts(pipeline.names.input_bucket, key, records)
    pipeline.settle()
    assert pipeline.pump is not None
    _, second = pipeline.pump.deliveries_to("uploads")
    assert second.result["action"] == "started"
    assert second.result["executionArn"] != first["executionArn"]
    assert pipeline.wait(second.result["executionArn"])["status"] == "SUCCEEDED"


def test_an_invalid_dataset_fails_in_preflight_with_a_notification_and_no_job(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given a dataset with a record that breaks the conversation schema
    records = [conversation_record(i) for i in range(120)]
    records[41]["messages"][0]["role"] = "assistant"
    key = f"{UPLOAD_TRIGGER_PREFIX}/broken.jsonl"
    # When it is uploaded
    upload_prompts(pipeline.names.input_bucket, key, records)
    result = _started_by_upload(pipeline, key)
    # Then the run failed in Preflight, naming the file and line, before any job existed
    assert result["status"] == "FAILED"
    assert result["error"] == "PreflightFailed"
    assert f"s3://{pipeline.names.input_bucket}/{key}:42:" in result["cause"]
    assert emulator.jobs == {}
    # And one message tells the person what failed, where, and what to do
    (outcome,) = published_outcomes(outcomes)
    assert (outcome["status"], outcome["error"], outcome["failing_state"]) == ("FAILED", "PreflightFailed", "Preflight")
    assert outcome["next_step"]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ('{\n  "studentModelId": "meta.llama3-2-1b-instruct-v1:0:128k",\n  "modelUnits": 2\n}', ":3: modelUnits: "),
        ('{\n  "studentModelId": "x",\n', ":3: (file): not valid JSON"),
        ('{\n  "filter": {"equals": {"a": "1", "b": "2"}}\n}', ":2: filter."),
    ],
    ids=["unknown field", "truncated JSON", "invalid filter"],
)
def test_invalid_settings_fail_in_preflight_naming_the_file_line_and_field(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str, settings: str, expected: str
) -> None:
    # Given settings a person got wrong, uploaded beside a valid dataset
    bucket = pipeline.names.input_bucket
    _put_json(bucket, f"{UPLOAD_TRIGGER_PREFIX}/settings.json", settings)
    key = f"{UPLOAD_TRIGGER_PREFIX}/settings.jsonl"
    upload_prompts(bucket, key, [conversation_record(i) for i in range(120)])
    # When the run starts
    result = _started_by_upload(pipeline, key)
    # Then it fails before any job, and the error points into the settings file
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidExecutionInput"
    assert f"s3://{bucket}/{UPLOAD_TRIGGER_PREFIX}/settings.json{expected}" in result["cause"]
    assert emulator.jobs == {}
    (outcome,) = published_outcomes(outcomes)
    assert outcome["error"] == "InvalidExecutionInput"


def test_uploads_that_are_not_datasets_start_nothing(pipeline: LocalPipeline) -> None:
    # Given a settings file, and a dataset uploaded outside the trigger prefix (e.g. held-out prompts)
    bucket = pipeline.names.input_bucket
    _put_json(bucket, f"{UPLOAD_TRIGGER_PREFIX}/notes.json", "{}")
    upload_prompts(bucket, "datasets/held-out.jsonl", [conversation_record(i) for i in range(5)])
    # When their events have been handled
    pipeline.settle()
    # Then only the trigger prefix reached the function (the rule's pattern), which ignored the non-dataset
    assert pipeline.pump is not None
    (delivery,) = pipeline.pump.deliveries_to("uploads")
    assert delivery.result["action"] == "ignored"
    assert _executions(pipeline) == []
