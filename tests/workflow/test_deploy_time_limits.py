"""The issue's attacks by someone who can only upload to `datasets/incoming/`, against a deployment with limits:
each run is refused before anything exists in Bedrock, or trains only on the records in the deployment's scope
(checked against what the emulator's job trained on)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bedrock_distill.workflow.settings import UPLOAD_TRIGGER_PREFIX
from offline.bedrock_emulator import BedrockEmulator
from offline.bedrock_emulator.service import DEFAULT_ACCOUNT_ID
from offline.pipeline import LocalPipeline
from offline.synth import synthesize
from tests.workflow.conftest import (
    TEACHER,
    WORKFLOW_CONTEXT,
    GrantAudit,
    conversation_record,
    deployed_pipeline,
    filed_waiters,
    prompts_input,
    upload_prompts,
    wait_until,
)

pytestmark = pytest.mark.workflow

SCOPE = {"project": "support"}
# The workflow tests' deployment, confined to the support team's logs, one run at a time, and cdk.json's
# maxProvisionedModelUnits of 1.
LIMITED_CONTEXT = {
    **WORKFLOW_CONTEXT,
    "invocationLogScope": SCOPE,
    "maxConcurrentRuns": 1,
    "maxProvisionedModelUnits": 1,
}
IN_SCOPE_RECORDS = 110
OTHER_PROJECT_RECORDS = 120


@pytest.fixture(scope="module")
def limited_template() -> dict[str, Any]:
    return synthesize(os.environ["AWS_DEFAULT_REGION"], DEFAULT_ACCOUNT_ID, LIMITED_CONTEXT)


@pytest.fixture
def limited(
    emulator: BedrockEmulator, limited_template: dict[str, Any], grant_audit: GrantAudit
) -> Iterator[LocalPipeline]:
    with deployed_pipeline(limited_template, emulator, grant_audit) as deployed:
        yield deployed


def _log_two_projects(pipeline: LocalPipeline) -> None:
    """230 logged teacher calls in the account: 110 of the support team (the scope), 120 of billing's."""
    boto3.client("bedrock").put_model_invocation_logging_configuration(
        loggingConfig={
            "s3Config": {
                "bucketName": pipeline.names.invocation_log_bucket,
                "keyPrefix": pipeline.names.invocation_log_prefix,
            },
            "textDataDeliveryEnabled": True,
        }
    )
    runtime = boto3.client("bedrock-runtime")
    for index in range(IN_SCOPE_RECORDS + OTHER_PROJECT_RECORDS):
        runtime.converse(
            modelId=TEACHER,
            messages=conversation_record(index, answer=False)["messages"],
            requestMetadata={"project": "support" if index < IN_SCOPE_RECORDS else "billing"},
        )


def _upload_with_settings(pipeline: LocalPipeline, stem: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Upload settings and then a dataset beside them, as the attacker can; the run the upload started, ended."""
    bucket = pipeline.names.input_bucket
    settings_key = f"{UPLOAD_TRIGGER_PREFIX}/{stem}.json"
    boto3.client("s3").put_object(Bucket=bucket, Key=settings_key, Body=json.dumps(settings, indent=2).encode())
    key = f"{UPLOAD_TRIGGER_PREFIX}/{stem}.jsonl"
    upload_prompts(bucket, key, [conversation_record(1000 + i) for i in range(20)])
    pipeline.settle()
    assert pipeline.pump is not None
    (delivery,) = [d for d in pipeline.pump.deliveries_to("uploads") if d.event["detail"]["object"]["key"] == key]
    assert delivery.result["action"] == "started", delivery.result
    return pipeline.wait(delivery.result["executionArn"])


def _nothing_created_in_bedrock(emulator: BedrockEmulator) -> bool:
    return emulator.jobs == {} and emulator.provisioned_throughputs == {}


def test_settings_naming_another_projects_metadata_are_refused_before_any_job(
    limited: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given 120 logged records of another project in the account
    _log_two_projects(limited)
    # When an upload's settings select them
    result = _upload_with_settings(limited, "theirs", {"filter": {"equals": {"project": "billing"}}})
    # Then the run is refused, naming the settings file's line and the scope, and nothing exists in Bedrock
    assert (result["status"], result["error"]) == ("FAILED", "InvalidExecutionInput")
    settings_uri = f"s3://{limited.names.input_bucket}/{UPLOAD_TRIGGER_PREFIX}/theirs.json"
    assert (
        f"{settings_uri}:2: filter.equals.project: this deployment confines runs to project=support"
        in (result["cause"])
    )
    assert _nothing_created_in_bedrock(emulator)


def test_a_not_equals_on_a_made_up_value_trains_only_on_the_records_in_scope(
    limited: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given 230 logged records, 110 of them in the deployment's scope
    _log_two_projects(limited)
    # When an upload's settings select "everything that is not a made-up project"
    result = _upload_with_settings(limited, "everything", {"filter": {"notEquals": {"project": "made-up"}}})
    # Then the job read the logs through the scope AND that filter, and trained on the 110 in-scope records only
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (job,) = emulator.jobs.values()
    assert job.request["trainingDataConfig"]["invocationLogsConfig"]["requestMetadataFilters"] == {
        "andAll": [{"equals": SCOPE}, {"notEquals": {"project": "made-up"}}]
    }
    assert job.training_records == IN_SCOPE_RECORDS


def test_a_run_from_logs_without_a_filter_reads_the_scope_alone(
    limited: LocalPipeline, emulator: BedrockEmulator
) -> None:
    _log_two_projects(limited)
    validation = upload_prompts(
        limited.names.input_bucket, "datasets/held-out.jsonl", [conversation_record(1000 + i) for i in range(3)]
    )
    execution_input = {"trainingData": {"invocationLogs": {}}, "validationPrompts": validation}
    result = limited.wait(limited.start_execution(execution_input, name="unfiltered"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (job,) = emulator.jobs.values()
    assert job.request["trainingDataConfig"]["invocationLogsConfig"]["requestMetadataFilters"] == {"equals": SCOPE}
    assert job.training_records == IN_SCOPE_RECORDS


@pytest.mark.parametrize("units", [2, 1000, 1_000_000_000])
def test_more_model_units_than_the_deployment_allows_are_refused_before_anything_is_bought(
    limited: LocalPipeline, emulator: BedrockEmulator, units: int
) -> None:
    # When an upload's settings ask for more model units than maxProvisionedModelUnits
    result = _upload_with_settings(limited, "big", {"provisionedModelUnits": units})
    # Then the run is refused at the settings file's line, naming the limit, before any job or PT
    assert (result["status"], result["error"]) == ("FAILED", "InvalidExecutionInput")
    settings_uri = f"s3://{limited.names.input_bucket}/{UPLOAD_TRIGGER_PREFIX}/big.json"
    assert f"{settings_uri}:2: provisionedModelUnits: {units} model units" in result["cause"]
    assert "maxProvisionedModelUnits = 1" in result["cause"]
    assert _nothing_created_in_bedrock(emulator)


def test_an_execution_input_asking_for_more_model_units_is_refused_too(
    limited: LocalPipeline, emulator: BedrockEmulator
) -> None:
    result = limited.wait(limited.start_execution(prompts_input(limited) | {"provisionedModelUnits": 2}, name="big"))
    assert (result["status"], result["error"]) == ("FAILED", "InvalidExecutionInput")
    assert "input.provisionedModelUnits: 2 model units" in result["cause"]
    assert "maxProvisionedModelUnits = 1" in result["cause"]
    assert _nothing_created_in_bedrock(emulator)


def test_a_run_past_max_concurrent_runs_fails_preflight_and_creates_nothing(
    limited: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given one run under way (waiting for its job), in a deployment that runs one at a time
    first = limited.start_execution(prompts_input(limited), name="first")
    wait_until(lambda: len(filed_waiters(limited)) == 1, "the first run to wait for its job")
    # When a second run starts
    second = limited.wait(limited.start_execution(prompts_input(limited), name="second"))
    # Then it fails in Preflight, naming the limit and the run in the way, and created nothing: one job only
    assert (second["status"], second["error"]) == ("FAILED", "PreflightFailed")
    assert "at most maxConcurrentRuns = 1 run(s) at once, and 1 are running (first)" in second["cause"]
    assert len(emulator.jobs) == 1
    # Tidy up: the first run is stopped, and the execution-end rule stops its job
    boto3.client("stepfunctions").stop_execution(executionArn=first)
    limited.wait(first)
    limited.settle()
