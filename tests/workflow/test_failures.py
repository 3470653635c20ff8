"""Runs that fail: each ends FAILED with its named error, a notification, and no PT or deployment left."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.pipeline import LocalPipeline
from stacks.pipeline_spec import WORKFLOW_FUNCTIONS
from tests.workflow.conftest import (
    GrantAudit,
    conversation_record,
    deployed_pipeline,
    entered_states,
    on_demand_input,
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


def _nothing_left_by_the_workflow(pipeline: LocalPipeline, execution_arn: str, emulator: BedrockEmulator) -> None:
    """No PT and no deployment is alive, and the execution's own cleanup states ran: the failed run's Catch, not
    a later layer (there is none in these pipelines), deleted whatever the run had made."""
    assert emulator.live_provisioned_throughputs() == []
    assert emulator.live_model_deployments() == []
    states = entered_states(pipeline, execution_arn)
    assert {"DeleteProvisionedThroughputAfterFailure", "DeleteModelDeploymentAfterFailure"} <= set(states), states
    for deployment in emulator.model_deployments.values():
        (deletion,) = task_results(pipeline, execution_arn, "DeleteModelDeploymentAfterFailure")
        assert deletion["customModelDeploymentIdentifier"] == deployment.name, deletion
        assert deletion["deleted"] is True, "the Catch deleted it, not found it gone"
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


# The functions only an on-demand run invokes (on its success path).
ON_DEMAND_FUNCTIONS = frozenset({"CreateModelDeployment", "ModelDeploymentStatus", "DeleteModelDeployment"})


def test_a_transient_fault_at_every_task_is_retried_to_success(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given every function a provisioned run invokes throttled once, and Bedrock itself throttling the job creation
    on_its_route = set(WORKFLOW_FUNCTIONS) - ON_DEMAND_FUNCTIONS
    for name in on_its_route:
        pipeline.lambdas.fail_next(_function(pipeline, name), "ThrottlingException")
    emulator.faults.throttle("CreateModelCustomizationJob")
    # When a run goes through them all
    result = run_to_end(pipeline, prompts_input(pipeline), "transient")
    # Then it succeeds, each function having been invoked again after its fault
    assert result["status"] == "SUCCEEDED", result
    for name in on_its_route:
        assert pipeline.lambdas.invocation_count(_function(pipeline, name)) >= 2, name
    assert len(emulator.jobs) == 1


@pytest.mark.parametrize(
    ("function", "after_running"),
    [
        # Bedrock accepted the request but the function died before the ARN reached the state
        ("CreateProvisionedThroughput", True),
        ("ProvisionedThroughputStatus", False),
        ("ValidateModel", False),
        # The success path's deletion: the Catch deletes by name again
        ("DeleteProvisionedThroughput", False),
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


def _fail_function(name: str, *, after_running: bool = False) -> Callable[[LocalPipeline, BedrockEmulator], str]:
    """The function `name` dies once (after doing its work, with `after_running`) with a fatal error."""

    def inject(pipeline: LocalPipeline, emulator: BedrockEmulator) -> str:
        pipeline.lambdas.fail_next(_function(pipeline, name), "ValidationInferenceFailed", after_running=after_running)
        return "ValidationInferenceFailed"

    return inject


def _fail_deployment(pipeline: LocalPipeline, emulator: BedrockEmulator) -> str:
    emulator.faults.fail_model_deployment("Insufficient capacity to deploy the model")
    return "ModelDeploymentFailed"


def _fail_evaluation(pipeline: LocalPipeline, emulator: BedrockEmulator) -> str:
    emulator.faults.fail_evaluation_job("The judge model was not reachable")
    return "EvaluationJobFailed"


def _garble_results(pipeline: LocalPipeline, emulator: BedrockEmulator) -> str:
    emulator.faults.garble_evaluation_output()
    return "EvaluationResultsUnreadable"


# A fault at each state the on-demand route adds, each the way it happens: a create that dies after Bedrock accepted
# it, a deployment or evaluation job that goes Failed, results that cannot be read. From the judge on, each failed run
# asked to keep its deployment: a failed run keeps nothing, so the Catch must delete even a deployment it would keep.
NEW_STATE_FAULTS = {
    "teacher answers": (_fail_function("AnswerAsTeacher"), False),
    "deployment create": (_fail_function("CreateModelDeployment", after_running=True), False),
    "deployment status": (_fail_deployment, False),
    "deployment delete": (_fail_function("DeleteModelDeployment"), False),
    "evaluation create": (_fail_function("CreateEvaluationJobs", after_running=True), True),
    "evaluation status": (_fail_evaluation, True),
    "result read": (_garble_results, True),
}


@pytest.mark.parametrize(("inject", "keep"), NEW_STATE_FAULTS.values(), ids=NEW_STATE_FAULTS.keys())
def test_a_fault_at_any_new_state_leaves_no_pt_and_no_deployment(
    workflow_only: LocalPipeline,
    emulator: BedrockEmulator,
    inject: Callable[[LocalPipeline, BedrockEmulator], str],
    keep: bool,
) -> None:
    pipeline = workflow_only
    # Given a fatal fault at one state of an on-demand run, and no cleanup outside the workflow
    error = inject(pipeline, emulator)
    # When the run goes through it
    execution_input = on_demand_input(pipeline, keepDeployment=keep)
    execution_arn = pipeline.start_execution(execution_input, name="fault")
    result = pipeline.wait(execution_arn)
    # Then it fails with that error, and its own Catch left no PT and no deployment behind
    assert result["status"] == "FAILED", result
    assert result["error"] == error, result
    _nothing_left_by_the_workflow(pipeline, execution_arn, emulator)
    assert emulator.provisioned_throughputs == {}
