"""A running job is waited for by callback: its state-change event releases the execution; polling is the
fallback for a lost event, and a job that ended before anyone listened is caught at registration."""

from __future__ import annotations

import pytest

from offline.bedrock_emulator import BedrockEmulator, eventbridge_sink
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import (
    entered_states,
    filed_waiters,
    history_types,
    prompts_input,
    run_to_end,
    wait_until,
)

pytestmark = pytest.mark.workflow

JOB_SECONDS = 3 * 3600
# A fallback so long that only the event can release the execution within the test's time.
HOUR = 3600


def _wait_for_the_token_to_be_filed(pipeline: LocalPipeline, execution_arn: str) -> None:
    # TaskSubmitted: the registering function has returned, its own status read included.
    wait_until(lambda: "TaskSubmitted" in history_types(pipeline, execution_arn), "the task token to be filed")
    assert len(filed_waiters(pipeline)) == 1


def test_the_jobs_completion_event_releases_the_waiting_execution(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a run whose job wait falls back to polling only after an hour
    execution_input = prompts_input(pipeline) | {"pollIntervals": {"jobSeconds": HOUR}}
    execution_arn = pipeline.start_execution(execution_input, name="released-by-event")
    _wait_for_the_token_to_be_filed(pipeline, execution_arn)
    # When Bedrock finishes the job and says so
    emulator.advance(JOB_SECONDS)
    result = pipeline.wait(execution_arn, timeout_seconds=60)
    # Then the event released the execution, which went on to the end without a single fallback poll
    assert result["status"] == "SUCCEEDED"
    assert pipeline.pump is not None
    (delivery,) = [d for d in pipeline.pump.deliveries_to("job-events") if d.result.get("jobStatus") == "Completed"]
    assert delivery.result["released"] is True
    assert "TaskTimedOut" not in history_types(pipeline, execution_arn)
    # And the wait cost one round of the cycle: one wait, one status read
    states = entered_states(pipeline, execution_arn)
    assert (states.count("WaitForJobEvent"), states.count("GetJobStatus")) == (1, 1)
    # And the token was taken, not left behind
    assert filed_waiters(pipeline) == []


def test_an_event_spelling_the_job_arn_as_the_user_guide_does_releases_the_wait_by_job_name(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a run waiting on its job with a fallback an hour away, and the job's own Completed event lost
    emulator.faults.lose_job_events(status="Completed")
    execution_input = prompts_input(pipeline) | {"pollIntervals": {"jobSeconds": HOUR}}
    execution_arn = pipeline.start_execution(execution_input, name="documented-arn")
    _wait_for_the_token_to_be_filed(pipeline, execution_arn)
    emulator.advance(JOB_SECONDS)
    (completed,) = emulator.dropped_events
    # When the Completed event arrives with the job ARN spelled as the user guide's example event spells it
    # ("How EventBridge for Amazon Bedrock works": .../model-customization-job/<id>), not as the API returns it
    # (.../model-customization-job/<base model>/<id>)
    api_arn = completed["detail"]["jobArn"]
    prefix, _base_model, job_id = api_arn.rsplit("/", 2)
    documented_arn = f"{prefix}/{job_id}"
    eventbridge_sink()(
        completed | {"resources": [documented_arn], "detail": completed["detail"] | {"jobArn": documented_arn}}
    )
    result = pipeline.wait(execution_arn, timeout_seconds=60)
    # Then it released the execution by the job's name: no fallback timeout, one wait, one status read
    assert result["status"] == "SUCCEEDED"
    assert pipeline.pump is not None
    (delivery,) = [d for d in pipeline.pump.deliveries_to("job-events") if d.result.get("jobStatus") == "Completed"]
    assert delivery.event["detail"]["jobArn"] == documented_arn
    assert delivery.result["released"] is True
    assert "TaskTimedOut" not in history_types(pipeline, execution_arn)
    states = entered_states(pipeline, execution_arn)
    assert (states.count("WaitForJobEvent"), states.count("GetJobStatus")) == (1, 1)


def test_a_lost_event_is_covered_by_the_fallback_poll(pipeline: LocalPipeline, emulator: BedrockEmulator) -> None:
    # Given Bedrock's Completed event is lost on the way (delivery is best-effort)
    emulator.faults.lose_job_events(status="Completed")
    # When a run waits with a one-second fallback
    result = run_to_end(pipeline, prompts_input(pipeline) | {"pollIntervals": {"jobSeconds": 1}}, "event-lost")
    # Then the wait timed out into status reads until the job was seen Completed, and the run succeeded
    assert result["status"] == "SUCCEEDED"
    assert [e["detail"]["jobStatus"] for e in emulator.dropped_events] == ["Completed"]
    assert "TaskTimedOut" in history_types(pipeline, result["executionArn"])


def test_a_job_that_ends_before_the_token_is_filed_is_released_at_registration(
    emulator: BedrockEmulator, pipeline: LocalPipeline
) -> None:
    # Given the first registration attempt fails (retried a second later), and the job completes in that
    # second with its event gone before any token was filed
    register = f"{pipeline.names.prefix}-RegisterJobWaiter"
    pipeline.lambdas.fail_next(register, "Lambda.ServiceException")
    emulator.faults.lose_job_events(status="Completed")
    execution_arn = pipeline.start_execution(
        prompts_input(pipeline) | {"pollIntervals": {"jobSeconds": HOUR}}, name="already-done"
    )
    wait_until(lambda: pipeline.lambdas.invocation_count(register) == 1, "the first registration attempt")
    emulator.advance(JOB_SECONDS)
    # When the retried registration files the token and reads the job once
    result = pipeline.wait(execution_arn, timeout_seconds=60)
    # Then that read released the execution at once: no event, no timeout, one wait
    assert result["status"] == "SUCCEEDED"
    assert "TaskTimedOut" not in history_types(pipeline, execution_arn)
    assert entered_states(pipeline, execution_arn).count("WaitForJobEvent") == 1
    assert filed_waiters(pipeline) == []


def test_a_failed_jobs_event_fails_the_run_by_its_status_read(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a job that will fail
    emulator.faults.fail_job("The teacher could not be invoked")
    execution_arn = pipeline.start_execution(
        prompts_input(pipeline) | {"pollIntervals": {"jobSeconds": HOUR}}, name="failed-by-event"
    )
    _wait_for_the_token_to_be_filed(pipeline, execution_arn)
    # When the Failed event arrives
    emulator.advance(JOB_SECONDS)
    result = pipeline.wait(execution_arn, timeout_seconds=60)
    # Then the status read after the release raised the named error with Bedrock's message
    assert result["status"] == "FAILED"
    assert result["error"] == "DistillationJobFailed"
    assert "The teacher could not be invoked" in result["cause"]
    assert emulator.call_count("CreateProvisionedModelThroughput") == 0
