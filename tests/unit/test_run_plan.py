"""Planning a run: the limits a deployment puts on what an execution input may ask for."""

from __future__ import annotations

import pytest

from bedrock_distill.workflow.run import Execution, ExecutionInput, plan_run
from bedrock_distill.workflow.settings import PipelineSettings

pytestmark = pytest.mark.unit

EXECUTION = Execution(id="arn:aws:states:us-east-1:123456789012:execution:distillation:run-1", name="run-1")


def _settings(**overrides: object) -> PipelineSettings:
    values: dict[str, object] = {
        "output_bucket": "outputs",
        "output_prefix": "jobs",
        "service_role_arn": "arn:aws:iam::123456789012:role/distillation",
        "default_teacher_model_id": "meta.llama3-1-70b-instruct-v1:0",
        "default_student_model_id": "meta.llama3-1-8b-instruct-v1:0:128k",
        "invocation_log_source": "s3://logs/bedrock-invocation-logs/AWSLogs",
        "default_model_units": 1,
        "default_job_poll_seconds": 43_200,
        "default_provisioned_throughput_poll_seconds": 60,
    }
    return PipelineSettings.model_validate(values | overrides)


def _input(job_seconds: int | None = None) -> ExecutionInput:
    document: dict[str, object] = {"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}}
    if job_seconds is not None:
        document["pollIntervals"] = {"jobSeconds": job_seconds}
    return ExecutionInput.model_validate(document)


def test_a_run_waits_with_the_deployments_fallback_unless_it_asks_for_another() -> None:
    assert plan_run(_input(), EXECUTION, _settings()).job_poll_seconds == 43_200
    assert plan_run(_input(3_600), EXECUTION, _settings()).job_poll_seconds == 3_600


def test_a_fallback_too_short_for_a_seven_day_history_is_refused() -> None:
    # Given a deployment's minimum (600 s by default: 25,000 history events for 7 days of lost events)
    with pytest.raises(ValueError, match=r"pollIntervals\.jobSeconds must be at least 600"):
        plan_run(_input(60), EXECUTION, _settings())
    # And a deployment that lowers it (the offline pipeline, whose waits really sleep) accepts it
    assert plan_run(_input(1), EXECUTION, _settings(min_job_poll_seconds=1)).job_poll_seconds == 1
