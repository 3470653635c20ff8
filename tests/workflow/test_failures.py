"""Runs that fail: each ends FAILED with its named error, a notification, and no PT left."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.pipeline import LocalPipeline
from stacks.pipeline_spec import WORKFLOW_FUNCTIONS
from tests.workflow.conftest import (
    GrantAudit,
    conversation_record,
    deployed_pipeline,
    prompts_input,
    published_outcomes,
    run_to_end,
    task_results,
    upload_prompts,
)

pytestmark = pytest.mark.workflow


@pytest.fixture
def workflow_only(
    emulator: BedrockEmulator, pipeline_template: dict[str, Any], grant_audit: GrantAudit
) -> Iterator[LocalPipeline]:
    """The pipeline without its out-of-band cleanup (execution-end rule, sweep): only the workflow's own Catch
    can delete a PT, so a test of that layer cannot pass because a later layer cleaned up."""
    with deployed_pipeline(pipeline_template, emulator, grant_audit, out_of_band_cleanup=False) as deployed:
        assert deployed.pump is not None
        assert not {"execution-ends", "sweep"} & set(deployed.pump.rules), deployed.pump.rules
        yield deployed


def _deleted_by_the_workflow(
    pipeline: LocalPipeline,
    execution_arn: str,
    emulator: BedrockEmulator,
    state: str = "DeleteProvisionedThroughputAfterFailure",
) -> None:
    """The run's one PT is deleted, and the execution's history says its own `state` deleted it (not found it
    gone): the proof stands on the workflow's record, so no later layer can make it pass."""
    (throughput,) = emulator.provisioned_throughputs.values()
    (deletion,) = task_results(pipeline, execution_arn, state)
    assert deletion["provisionedModelId"] in (throughput.name, throughput.arn), deletion
    assert deletion["deleted"] is True, deletion
    assert throughput.deleted
    assert emulator.live_provisioned_throughputs() == []
    assert pipeline.lambdas.invocation_count(f"{pipeline.names.prefix}-CleanUpExecution") == 0


def _function(pipeline: LocalPipeline, name: str) -> str:
    assert name in WORKFLOW_FUNCTIONS
    return f"{pipeline.names.prefix}-{name}"


def test_failed_job_fails_the_run_with_bedrocks_message_and_buys_nothing(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    emulator.faults.fail_job("Training data had no usable records")
    result = run_to_end(pipeline, prompts_input(pipeline), "job-failed")
    assert result["status"] == "FAILED"
    assert result["error"] == "DistillationJobFailed"
    assert "Training data had no usable records" in result["cause"]
    assert emulator.call_count("CreateProvisionedModelThroughput") == 0
    (outcome,) = published_outcomes(outcomes)
    assert outcome["status"] == "FAILED"
    assert outcome["error"] == "DistillationJobFailed"
    assert outcome["next_step"]


def test_stopped_job_ends_the_run_instead_of_polling_forever(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    emulator.faults.stop_job()
    result = run_to_end(pipeline, prompts_input(pipeline), "job-stopped")
    assert result["status"] == "FAILED"
    assert result["error"] == "DistillationJobStopped"
    assert emulator.call_count("CreateProvisionedModelThroughput") == 0


def test_failed_pt_is_deleted_and_the_run_fails(workflow_only: LocalPipeline, emulator: BedrockEmulator) -> None:
    pipeline = workflow_only
    emulator.faults.fail_provisioned_throughput("Insufficient capacity")
    execution_arn = pipeline.start_execution(prompts_input(pipeline), name="pt-failed")
    result = pipeline.wait(execution_arn)
    _deleted_by_the_workflow(pipeline, execution_arn, emulator)
    assert result["status"] == "FAILED"
    assert result["error"] == "ProvisionedThroughputFailed"
    assert "Insufficient capacity" in result["cause"]
    assert emulator.call_count("DeleteProvisionedModelThroughput") == 1


def test_invalid_dataset_fails_in_preflight_before_any_job(pipeline: LocalPipeline, emulator: BedrockEmulator) -> None:
    # Given a dataset with one bad record among too few good ones
    records = [conversation_record(i) for i in range(50)]
    records[7]["messages"][0]["role"] = "User"
    uri = upload_prompts(pipeline.names.input_bucket, "datasets/bad.jsonl", records)
    # When a run is started on it
    result = run_to_end(pipeline, {"trainingData": {"prompts": uri}}, "bad-data")
    # Then it fails in preflight, naming the file, line and field, and nothing was created
    assert result["status"] == "FAILED"
    assert result["error"] == "PreflightFailed"
    assert f"{uri}:8: messages[0].role" in result["cause"]
    assert "fewer than 100 valid records" in result["cause"]
    assert emulator.jobs == {}


def test_invalid_execution_input_names_the_field(pipeline: LocalPipeline, emulator: BedrockEmulator) -> None:
    result = run_to_end(pipeline, {"trainingData": {"prompts": "not-a-uri"}, "provisionedModelUnits": 0}, "bad-input")
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidExecutionInput"
    assert "input.trainingData.prompts" in result["cause"]
    assert "input.provisionedModelUnits" in result["cause"]
    assert emulator.jobs == {}


def test_a_transient_fault_at_every_task_is_retried_to_success(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given every function throttled once, and Bedrock itself throttling the job creation once
    for name in WORKFLOW_FUNCTIONS:
        pipeline.lambdas.fail_next(_function(pipeline, name), "ThrottlingException")
    emulator.faults.throttle("CreateModelCustomizationJob")
    # When a run goes through them all
    result = run_to_end(pipeline, prompts_input(pipeline), "transient")
    # Then it succeeds, each function having been invoked again after its fault
    assert result["status"] == "SUCCEEDED", result
    for name in WORKFLOW_FUNCTIONS:
        assert pipeline.lambdas.invocation_count(_function(pipeline, name)) >= 2, name
    assert len(emulator.jobs) == 1


@pytest.mark.parametrize(
    ("function", "after_running"),
    [
        # Bedrock accepted the request but the function died before the ARN reached the state
        ("CreateProvisionedThroughput", True),
        ("ProvisionedThroughputStatus", False),
        ("ValidateModel", False),
    ],
)
def test_a_fatal_fault_after_the_pt_request_still_deletes_the_pt(
    workflow_only: LocalPipeline, emulator: BedrockEmulator, function: str, after_running: bool
) -> None:
    pipeline = workflow_only
    pipeline.lambdas.fail_next(_function(pipeline, function), "ValidationInferenceFailed", after_running=after_running)
    execution_arn = pipeline.start_execution(prompts_input(pipeline), name=f"fatal-{function}")
    result = pipeline.wait(execution_arn)
    _deleted_by_the_workflow(pipeline, execution_arn, emulator)
    assert result["status"] == "FAILED"
    assert result["error"] == "ValidationInferenceFailed", "the original error survives the cleanup"


def test_a_retried_create_job_invocation_makes_exactly_one_job(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a create-job invocation that created the job and then failed transiently
    pipeline.lambdas.fail_next(_function(pipeline, "CreateJob"), "ThrottlingException", after_running=True)
    # When the state machine retries it
    result = run_to_end(pipeline, prompts_input(pipeline), "retried-create")
    # Then Bedrock saw two requests with one token and holds exactly one job
    assert result["status"] == "SUCCEEDED", result
    assert emulator.call_count("CreateModelCustomizationJob") == 2
    assert len(emulator.jobs) == 1
    assert json.loads(result["output"])["job"]["jobArn"] == next(iter(emulator.jobs.values())).arn


def test_a_delete_conflict_is_retried_until_the_pt_is_gone(
    workflow_only: LocalPipeline, emulator: BedrockEmulator
) -> None:
    pipeline = workflow_only
    emulator.faults.conflict_on_delete()
    result = run_to_end(pipeline, prompts_input(pipeline), "delete-conflict")
    assert result["status"] == "SUCCEEDED", result
    _deleted_by_the_workflow(pipeline, result["executionArn"], emulator, state="DeleteProvisionedThroughput")
    assert emulator.call_count("DeleteProvisionedModelThroughput") == 2
