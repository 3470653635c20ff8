"""The outcome of a run, as one SNS message a person can act on."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, Field

from bedrock_distill.gateways.sns import SnsGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.workflow.errors import WorkflowError
from bedrock_distill.workflow.provisioned_throughput import Deletion
from bedrock_distill.workflow.quotas import CUSTOMIZATION_JOBS, NO_COMMITMENT_MODEL_UNITS
from bedrock_distill.workflow.state import StateModel

_log = logging.getLogger(__name__)

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
    "TeacherInferenceFailed": "The teacher answered none of the held-out prompts; read the errors in the run's "
    "report/responses/teacher.jsonl (model access, quota, inference profile) and start a new execution.",
    "EvaluationJobFailed": "Read the evaluation job's failure messages; check the judge model's access and the "
    "evaluation role's S3 grants, then start a new execution.",
    "EvaluationJobStopped": "An evaluation job was stopped or deleted; start a new execution when ready.",
    "EvaluationTimedOut": "The judge ran past maxEvaluationHours and was stopped; raise the limit or judge fewer "
    "prompts (validationSampleSize), then start a new execution.",
    "EvaluationResultsUnreadable": "The judge's output is not in the layout AWS documents; the error names the "
    "file, line and field.",
}
DEFAULT_NEXT_STEP = "See the execution's history in the Step Functions console for the failing state."


class Outcome(BaseModel):
    status: str
    execution_arn: str
    job_arn: str | None = None
    custom_model_arn: str | None = None
    final_training_loss: float | None = None
    validation: dict[str, Any] | None = None
    provisioned_throughput_hours: float | None = None
    estimated_provisioned_throughput_cost_usd: float | None = None
    # How the student was served and why (on demand or Provisioned Throughput), and the deployment a successful run
    # was asked to keep (keepDeployment): the user's to invoke, and to delete.
    serving_mode: str | None = None
    serving_reason: str | None = None
    kept_model_deployment_arn: str | None = None
    # The judge's verdict: promote or hold, why, and the scorecard with every figure behind it.
    decision: str | None = None
    decision_reason: str | None = None
    scorecard_uri: str | None = None
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


# The parts of the execution's state the outcome reports, as the state machine carries them (camelCase).


class StateError(StateModel):
    """What a Catch puts at its ResultPath."""

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")


class JobState(StateModel):
    """`$.job`: CreateJob's output, then GetJobStatus's."""

    job_arn: str | None = None
    output_model_arn: str | None = None


class MetricsState(StateModel):
    """`$.metrics`: CollectMetrics' output."""

    final_training_loss: float | None = None


class RunPart(StateModel):
    """`$.run`: how the run was to be served."""

    serving_mode: str | None = None
    serving_reason: str | None = None
    keep_deployment: bool = False


class StudentState(StateModel):
    """`$.serving.student`: what answered as the student (the deployment's or the PT's ARN)."""

    model_arn: str | None = None


class ServingState(StateModel):
    """`$.serving`: the validation summary is free-form and goes into the outcome as it is."""

    student: StudentState | None = None
    validation: dict[str, Any] | None = None


class ScorecardState(StateModel):
    """`$.scorecard`: Score's output (workflow/scorecard.py ScorecardSummary)."""

    decision: str | None = None
    reason: str | None = None
    scorecard_uri: str | None = None


class DeletionState(StateModel, Deletion):
    """`$.deletion`: DeleteProvisionedThroughput's output."""


class RunState(StateModel):
    """The execution's state when it ends; which parts exist depends on how far it got."""

    run: RunPart | None = None
    job: JobState | None = None
    metrics: MetricsState | None = None
    serving: ServingState | None = None
    scorecard: ScorecardState | None = None
    deletion: DeletionState | None = None
    failure: StateError | None = None


def run_outcome(
    status: str,
    execution_arn: str,
    state: RunState,
    hourly_rate_usd: float,
    executions: StepFunctionsGateway,
) -> Outcome:
    """What the workflow reports at its end (NotifySuccess, NotifyFailure): what it made, what the PT cost,
    and, on failure, where and why it failed and what to do next."""
    if state.failure is not None:
        outcome = failure_outcome(execution_arn, state.failure.error, readable_cause(state.failure.cause))
        outcome.failing_state = _failing_state(execution_arn, executions)
    else:
        outcome = Outcome(status=status, execution_arn=execution_arn)
    job = state.job or JobState()
    deletion = state.deletion or DeletionState(deleted=False)
    alive = deletion.alive_seconds
    units = deletion.model_units
    outcome.job_arn = job.job_arn
    outcome.custom_model_arn = job.output_model_arn
    outcome.final_training_loss = state.metrics.final_training_loss if state.metrics else None
    outcome.validation = state.serving.validation if state.serving else None
    outcome.provisioned_throughput_hours = round(alive / 3600, 3) if alive is not None else None
    outcome.estimated_provisioned_throughput_cost_usd = (
        estimated_cost(alive, units, hourly_rate_usd) if alive is not None and units and hourly_rate_usd > 0 else None
    )
    run = state.run or RunPart()
    outcome.serving_mode = run.serving_mode
    outcome.serving_reason = run.serving_reason
    student = state.serving.student if state.serving else None
    # A failed run keeps nothing (the failure path deletes the deployment whatever keepDeployment says).
    if outcome.status == "SUCCEEDED" and run.keep_deployment and run.serving_mode == "on-demand" and student:
        outcome.kept_model_deployment_arn = student.model_arn
    if state.scorecard is not None:
        outcome.decision = state.scorecard.decision
        outcome.decision_reason = state.scorecard.reason
        outcome.scorecard_uri = state.scorecard.scorecard_uri
    return outcome


def _failing_state(execution_arn: str, executions: StepFunctionsGateway) -> str | None:
    """Best effort: a message without the state name beats no message."""
    try:
        return executions.history(execution_arn).failing_state()
    except WorkflowError as error:
        _log.warning("could not read the execution's history: %s", error)
        return None


def readable_cause(cause: str) -> str:
    """A Lambda error's cause is its JSON error payload; the message is what a person needs."""
    try:
        payload = json.loads(cause)
    except ValueError:
        return cause
    return str(payload.get("errorMessage", cause)) if isinstance(payload, dict) else cause


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
