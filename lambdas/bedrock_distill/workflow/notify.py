"""The outcome of a run, as one SNS message a person can act on."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from bedrock_distill.gateways.sns import SnsGateway
from bedrock_distill.workflow.quotas import CUSTOMIZATION_JOBS, NO_COMMITMENT_MODEL_UNITS

# What a person should do next, by the error the run failed with.
NEXT_STEPS = {
    "PreflightFailed": "Fix the records listed in the preflight report and start a new execution.",
    "InvalidExecutionInput": "Correct the execution input (see the README's example) and start again.",
    "DistillationJobFailed": "Read the job's failure message; fix the data or permissions it names.",
    "DistillationJobStopped": "The job was stopped; start a new execution when ready.",
    "ProvisionedThroughputQuotaExceeded": NO_COMMITMENT_MODEL_UNITS.request_increase("the units the run asks for")
    + "; then start a new execution.",
    "CustomizationJobQuotaExceeded": CUSTOMIZATION_JOBS.request_increase("the number of jobs you run at once")
    + ", or wait for a running customization job to end; then start a new execution.",
    "ProvisionedThroughputFailed": "Bedrock could not provision throughput; the PT was deleted. Retry later.",
    "ValidationInferenceFailed": "Validation inference failed on every prompt; check the model and prompts.",
}
DEFAULT_NEXT_STEP = "See the execution's history in the Step Functions console for the failing state."
# Ends that the workflow's own Catch cannot see; the out-of-band cleanup reports them.
NEXT_STEPS_BY_STATUS = {
    "TIMED_OUT": "The execution hit its timeout; its PTs were deleted and its job stopped. Check why the job ran "
    "so long (Bedrock allows 7 days), then start a new execution.",
    "ABORTED": "The execution was stopped; its PTs were deleted and its job stopped. Start a new execution when ready.",
    "FAILED": "The execution failed outside its own error handling (e.g. States.Runtime); its PTs were deleted "
    "and its job stopped. See the failing state in the execution's history.",
}
SWEPT = "SWEPT"


class Outcome(BaseModel):
    status: str
    execution_arn: str
    job_arn: str | None = None
    custom_model_arn: str | None = None
    final_training_loss: float | None = None
    validation: dict[str, Any] | None = None
    provisioned_throughput_hours: float | None = None
    estimated_provisioned_throughput_cost_usd: float | None = None
    failing_state: str | None = None
    error: str | None = None
    cause: str | None = None
    next_step: str | None = None
    # What the out-of-band cleanup deleted or stopped, when it had to.
    cleanup: dict[str, Any] | None = None


def estimated_cost(alive_seconds: float, model_units: int, hourly_rate_usd: float) -> float:
    """No-commitment PT bills per model unit per started hour."""
    started_hours = max(1, -(-int(alive_seconds) // 3600))
    return round(started_hours * model_units * hourly_rate_usd, 2)


def failure_outcome(execution_arn: str, error: str, cause: str) -> Outcome:
    return Outcome(
        status="FAILED",
        execution_arn=execution_arn,
        error=error,
        cause=cause,
        next_step=NEXT_STEPS.get(error, DEFAULT_NEXT_STEP),
    )


class Notifier:
    """Publishes each outcome as one message on the pipeline's topic; with no topic configured, publishes nothing."""

    def __init__(self, topic_arn: str, sns: SnsGateway | None = None) -> None:
        self._topic_arn = topic_arn
        self._sns = sns or SnsGateway()

    def publish(self, outcome: Outcome) -> str | None:
        if not self._topic_arn:
            return None
        execution_name = outcome.execution_arn.rsplit(":", 1)[-1]
        return self._sns.publish(
            self._topic_arn,
            subject=f"bedrock-distill {outcome.status}: {execution_name}",
            message=json.dumps(outcome.model_dump(exclude_none=True), indent=2),
            attributes={"status": outcome.status},
        )
