"""Ends the workflow's own Catch cannot see (a timeout, StopExecution, States.Runtime) still leave no PT and no
deployment: the execution-end rule cleans up at once, and the sweeper catches whatever that missed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bedrock_distill.workflow.run import (
    EXECUTION_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_VALUE,
    PROJECT_TAG_KEY,
    PROJECT_TAG_VALUE,
)
from offline.bedrock_emulator import BedrockEmulator
from offline.events import Delivery
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import (
    NO_COMMITMENT_MODEL_UNITS,
    TEACHER,
    GrantAudit,
    deployed_pipeline,
    entered_states,
    filed_waiters,
    history_types,
    offline_bedrock,
    on_demand_input,
    prompts_input,
    published_outcomes,
    wait_until,
)

pytestmark = pytest.mark.workflow

HOUR = 3600
JOB_SECONDS = 3 * 3600
# Long enough that a PT is still being polled for when the test ends the execution.
SLOW_PT_POLL = {"jobSeconds": HOUR, "provisionedThroughputSeconds": 60}


def _release_the_job(pipeline: LocalPipeline, emulator: BedrockEmulator, execution_arn: str) -> None:
    wait_until(lambda: "TaskSubmitted" in history_types(pipeline, execution_arn), "the job wait")
    emulator.advance(JOB_SECONDS)


def _execution_end_handled(pipeline: LocalPipeline, execution_arn: str) -> list[Delivery]:
    """The deliveries of the execution's end to the execution-end rule, once the execution has ended and the
    pipeline has settled: every delivery there will be, and the outcome topic holds every message sent."""
    pipeline.wait(execution_arn)
    assert pipeline.pump is not None
    ends = pipeline.pump.deliveries_to("execution-ends")
    return [d for d in ends if d.event["detail"]["executionArn"] == execution_arn]


def test_an_aborted_execution_leaves_no_pt(pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str) -> None:
    # Given a run that has bought its PT and is waiting for it
    execution_arn = pipeline.start_execution(prompts_input(pipeline) | {"pollIntervals": SLOW_PT_POLL}, name="aborted")
    _release_the_job(pipeline, emulator, execution_arn)
    wait_until(lambda: len(emulator.live_provisioned_throughputs()) == 1, "the PT to be bought")
    # When someone stops the execution (no Catch runs on StopExecution)
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn, cause="stopped by a person")
    assert pipeline.wait(execution_arn)["status"] == "ABORTED"
    (delivery,) = _execution_end_handled(pipeline, execution_arn)
    # Then the execution-end rule deleted its PT
    assert delivery.succeeded, delivery.result
    assert emulator.live_provisioned_throughputs() == []
    assert len(delivery.result["deletedProvisionedThroughputs"]) == 1
    # And one message says what happened and what was cleaned up
    (outcome,) = published_outcomes(outcomes)
    assert outcome["status"] == "ABORTED"
    assert outcome["cleanup"]["deleted_provisioned_throughputs"] == delivery.result["deletedProvisionedThroughputs"]
    assert outcome["next_step"]


def test_a_second_delivery_of_the_same_end_cleans_nothing_and_sends_no_second_message(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given an aborted run whose end has been handled and reported
    execution_arn = pipeline.start_execution(prompts_input(pipeline) | {"pollIntervals": SLOW_PT_POLL}, name="twice")
    _release_the_job(pipeline, emulator, execution_arn)
    wait_until(lambda: len(emulator.live_provisioned_throughputs()) == 1, "the PT to be bought")
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn)
    (first,) = _execution_end_handled(pipeline, execution_arn)
    deletions = emulator.call_count("DeleteProvisionedModelThroughput")
    # When EventBridge delivers the same event again (at-least-once delivery)
    assert pipeline.pump is not None
    again = pipeline.pump.fire("execution-ends", first.event)
    # Then the second delivery answers as the first did, without touching Bedrock or SNS again
    assert again.succeeded
    assert again.result == first.result
    assert emulator.call_count("DeleteProvisionedModelThroughput") == deletions
    assert len(published_outcomes(outcomes)) == 1


def test_an_execution_aborted_while_its_job_runs_stops_the_job(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a run waiting for its job
    execution_arn = pipeline.start_execution(prompts_input(pipeline) | {"pollIntervals": SLOW_PT_POLL}, name="stop")
    wait_until(lambda: len(filed_waiters(pipeline)) == 1, "the job wait")
    # When the execution is stopped
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn)
    (delivery,) = _execution_end_handled(pipeline, execution_arn)
    # Then its job is stopped too: nothing keeps training for an execution that is gone
    (job,) = emulator.jobs.values()
    assert delivery.result["stoppedJobs"] == [job.arn]
    assert job.status in {"Stopping", "Stopped"}


@pytest.fixture
def impatient_pipeline(
    emulator: BedrockEmulator, pipeline_template: dict[str, Any], grant_audit: GrantAudit
) -> Iterator[LocalPipeline]:
    """An execution timeout of a few seconds: reached while the PT is being polled for."""
    with deployed_pipeline(pipeline_template, emulator, grant_audit, execution_timeout_seconds=6) as deployed:
        yield deployed


def test_a_timed_out_execution_leaves_no_pt(impatient_pipeline: LocalPipeline, emulator: BedrockEmulator) -> None:
    pipeline = impatient_pipeline
    # Given a run that buys its PT and then waits a minute before looking at it again
    execution_arn = pipeline.start_execution(prompts_input(pipeline) | {"pollIntervals": SLOW_PT_POLL}, name="late")
    _release_the_job(pipeline, emulator, execution_arn)
    wait_until(lambda: len(emulator.provisioned_throughputs) == 1, "the PT to be bought")
    # When the execution's timeout ends it (no Catch sees a timeout)
    assert pipeline.wait(execution_arn, timeout_seconds=30)["status"] == "TIMED_OUT"
    (delivery,) = _execution_end_handled(pipeline, execution_arn)
    # Then the execution-end rule deleted the PT the workflow never got to
    assert delivery.succeeded, delivery.result
    assert emulator.live_provisioned_throughputs() == []


def test_a_states_runtime_failure_leaves_no_pt(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given the PT-status function answers without the PT's ARN (say, a different deployed version), so the
    # next state's path (StudentOnProvisionedThroughput's) cannot resolve: States.Runtime, which no Catch sees on AWS
    pipeline.lambdas.return_next(f"{pipeline.names.prefix}-ProvisionedThroughputStatus", {"status": "InService"})
    execution_arn = pipeline.start_execution(
        prompts_input(pipeline) | {"pollIntervals": {"jobSeconds": HOUR}}, name="runtime"
    )
    _release_the_job(pipeline, emulator, execution_arn)
    # When the execution fails past the workflow's own cleanup
    result = pipeline.wait(execution_arn, timeout_seconds=60)
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Runtime"
    assert "DeleteProvisionedThroughputAfterFailure" not in entered_states(pipeline, execution_arn)
    (delivery,) = _execution_end_handled(pipeline, execution_arn)
    # Then the execution-end rule deleted the PT
    assert delivery.succeeded, delivery.result
    assert len(delivery.result["deletedProvisionedThroughputs"]) == 1
    assert emulator.live_provisioned_throughputs() == []
    # And, the workflow never having reported it, the cleanup sends the one message, naming the failing state
    (outcome,) = published_outcomes(outcomes)
    assert (outcome["status"], outcome["error"], outcome["failing_state"]) == (
        "FAILED",
        "States.Runtime",
        "StudentOnProvisionedThroughput",
    )


def test_when_the_cleanup_fails_every_attempt_the_event_is_kept_and_one_sweep_deletes_the_pt(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a run aborted while its PT exists, and a cleanup function failing every attempt
    assert pipeline.pump is not None
    cleanup = f"{pipeline.names.prefix}-CleanUpExecution"
    pipeline.lambdas.fail_next(cleanup, "InternalServerException", times=pipeline.pump.attempts)
    execution_arn = pipeline.start_execution(prompts_input(pipeline) | {"pollIntervals": SLOW_PT_POLL}, name="dlq")
    _release_the_job(pipeline, emulator, execution_arn)
    wait_until(lambda: len(emulator.live_provisioned_throughputs()) == 1, "the PT to be bought")
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn)
    (delivery,) = _execution_end_handled(pipeline, execution_arn)
    # Then the event is in the dead-letter queue, not lost, and the PT is still there
    assert not delivery.succeeded
    (dead_letter,) = pipeline.pump.dead_letters("execution-ends")
    assert dead_letter["detail"]["executionArn"] == execution_arn
    assert len(emulator.live_provisioned_throughputs()) == 1
    # When the sweeper runs once
    sweep = pipeline.pump.fire("sweep")
    # Then the PT of the ended execution is gone
    assert sweep.succeeded, sweep.result
    assert emulator.live_provisioned_throughputs() == []
    assert len(sweep.result["deletedProvisionedThroughputs"]) == 1


def test_the_sweeper_never_touches_a_pt_of_another_project_or_of_a_running_execution(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given PTs of another project, untagged ones, and one of a running execution of ours
    bedrock = boto3.client("bedrock")
    running_arn = pipeline.start_execution(prompts_input(pipeline) | {"pollIntervals": SLOW_PT_POLL}, name="alive")
    wait_until(lambda: len(filed_waiters(pipeline)) == 1, "the running execution to wait for its job")
    ours = {"key": PROJECT_TAG_KEY, "value": PROJECT_TAG_VALUE}
    keep = {
        "theirs": [{"key": PROJECT_TAG_KEY, "value": "someone-else"}, {"key": EXECUTION_TAG_KEY, "value": "x"}],
        "untagged": [],
        "running": [ours, {"key": EXECUTION_TAG_KEY, "value": running_arn}],
    }
    kept = {
        name: bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=name, modelId=TEACHER, tags=tags
        )["provisionedModelArn"]
        for name, tags in keep.items()
    }
    # And one of ours whose execution Step Functions no longer knows
    gone = bedrock.create_provisioned_model_throughput(
        modelUnits=1,
        provisionedModelName="forgotten",
        modelId=TEACHER,
        tags=[ours, {"key": EXECUTION_TAG_KEY, "value": running_arn.replace(":alive", ":long-gone")}],
    )["provisionedModelArn"]
    # When the sweeper runs, twice (it must be idempotent)
    assert pipeline.pump is not None
    first, second = pipeline.pump.fire("sweep"), pipeline.pump.fire("sweep")
    # Then only the orphan was deleted, once
    assert first.result["deletedProvisionedThroughputs"] == [gone]
    assert second.result["deletedProvisionedThroughputs"] == []
    assert {pt.arn for pt in emulator.live_provisioned_throughputs()} == set(kept.values())
    # Tidy up what this test made, so the fixture's no-live-PT check speaks about the pipeline only
    for arn in kept.values():
        bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    stepfunctions = boto3.client("stepfunctions")
    if stepfunctions.describe_execution(executionArn=running_arn)["status"] == "RUNNING":
        stepfunctions.stop_execution(executionArn=running_arn)
    pipeline.wait(running_arn)
    _execution_end_handled(pipeline, running_arn)


def test_a_pt_that_cannot_be_deleted_yet_fails_the_cleanup_attempt_and_the_retry_deletes_it(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given a run that has bought its PT, whose first deletion will conflict (still being created)
    execution_arn = pipeline.start_execution(prompts_input(pipeline) | {"pollIntervals": SLOW_PT_POLL}, name="busy")
    _release_the_job(pipeline, emulator, execution_arn)
    wait_until(lambda: len(emulator.live_provisioned_throughputs()) == 1, "the PT to be bought")
    (pt,) = emulator.live_provisioned_throughputs()
    emulator.faults.conflict_on_delete(pt.name)
    # When the execution is stopped
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn)
    (delivery,) = _execution_end_handled(pipeline, execution_arn)
    # Then the first attempt failed, so it was retried, and the retry deleted the PT
    assert delivery.succeeded, delivery.result
    assert delivery.attempts == 2
    assert delivery.result["deletedProvisionedThroughputs"] == [pt.arn]
    assert emulator.live_provisioned_throughputs() == []
    # And one message reports the end, from the attempt that finished the job
    (outcome,) = published_outcomes(outcomes)
    assert outcome["status"] == "ABORTED"
    assert outcome["cleanup"]["deleted_provisioned_throughputs"] == [pt.arn]


def test_a_sweep_that_cannot_delete_one_pt_deletes_the_others_and_fails_for_its_alarm(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given two PTs of an execution Step Functions no longer knows, the first listed refusing deletion
    bedrock = boto3.client("bedrock")
    ours = [
        {"key": PROJECT_TAG_KEY, "value": PROJECT_TAG_VALUE},
        # An execution ARN of this state machine (which IAM lets the sweeper describe) that no longer exists
        {
            "key": EXECUTION_TAG_KEY,
            "value": pipeline.state_machine_arn.replace(":stateMachine:", ":execution:") + ":gone",
        },
    ]
    older = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="older", modelId=TEACHER, tags=ours
    )["provisionedModelArn"]
    emulator.advance(60)
    stuck = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="stuck", modelId=TEACHER, tags=ours
    )["provisionedModelArn"]
    emulator.faults.conflict_on_delete("stuck", times=None)
    # When the sweeper runs
    assert pipeline.pump is not None
    failed = pipeline.pump.fire("sweep")
    # Then its invocation failed (the Lambda-errors alarm counts it) naming the PT left, after deleting the other
    assert not failed.succeeded
    assert failed.result["errorType"] == "CleanupIncompleteError"
    assert stuck in failed.result["errorMessage"]
    assert {pt.arn for pt in emulator.live_provisioned_throughputs()} == {stuck}
    assert older not in {pt.arn for pt in emulator.live_provisioned_throughputs()}
    # And the next pass, once the PT can be deleted, deletes it
    emulator.faults.clear()
    passed = pipeline.pump.fire("sweep")
    assert passed.succeeded, passed.result
    assert passed.result["deletedProvisionedThroughputs"] == [stuck]


@pytest.fixture
def slow_judge(
    pipeline_template: dict[str, Any], grant_audit: GrantAudit
) -> Iterator[tuple[LocalPipeline, BedrockEmulator]]:
    """Evaluation jobs that take two days: still running when the test stops the execution, however many status
    reads (each an hour of the emulator's clock) the workflow and the cleanup make first."""
    with (
        offline_bedrock(no_commitment_model_units=NO_COMMITMENT_MODEL_UNITS, evaluation_seconds=48 * HOUR) as bedrock,
        deployed_pipeline(pipeline_template, bedrock, grant_audit) as deployed,
    ):
        yield deployed, bedrock


def test_an_on_demand_run_stopped_while_judged_keeps_nothing_and_the_sweeper_deletes_a_deployment_it_missed(
    slow_judge: tuple[LocalPipeline, BedrockEmulator],
) -> None:
    pipeline, emulator = slow_judge
    # Given an on-demand run asked to keep its deployment, stopped while its evaluation jobs run
    execution_input = on_demand_input(pipeline, keepDeployment=True) | {
        "pollIntervals": {"jobSeconds": HOUR, "evaluationSeconds": 60}
    }
    execution_arn = pipeline.start_execution(execution_input, name="stopped-judging")
    _release_the_job(pipeline, emulator, execution_arn)
    wait_until(lambda: len(emulator.evaluation_jobs) == 2, "the evaluation jobs")
    (deployment,) = emulator.live_model_deployments()
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn)
    (delivery,) = _execution_end_handled(pipeline, execution_arn)
    # Then the execution-end rule deleted the deployment (a run that did not succeed keeps nothing) and stopped
    # both evaluation jobs
    assert delivery.succeeded, delivery.result
    assert delivery.result["deletedModelDeployments"] == [deployment.arn]
    assert emulator.live_model_deployments() == []
    jobs = emulator.evaluation_jobs.values()
    assert sorted(delivery.result["stoppedEvaluationJobs"]) == sorted(job.arn for job in jobs)
    assert {job.status for job in jobs} <= {"Stopping", "Stopped"}
    # Given a deployment of that run the execution-end cleanup never saw (say, made by a create retried late)
    tags = [
        {"key": PROJECT_TAG_KEY, "value": PROJECT_TAG_VALUE},
        {"key": EXECUTION_TAG_KEY, "value": execution_arn},
        {"key": KEEP_ON_SUCCESS_TAG_KEY, "value": KEEP_ON_SUCCESS_TAG_VALUE},
    ]
    late = boto3.client("bedrock").create_custom_model_deployment(
        modelDeploymentName="late", modelArn=deployment.model_arn, tags=tags
    )["customModelDeploymentArn"]
    # When the sweeper runs
    assert pipeline.pump is not None
    sweep = pipeline.pump.fire("sweep")
    # Then it deletes it: its execution ended without succeeding, so the keep-on-success tag keeps nothing
    assert sweep.succeeded, sweep.result
    assert sweep.result["deletedModelDeployments"] == [late]
    assert emulator.live_model_deployments() == []
