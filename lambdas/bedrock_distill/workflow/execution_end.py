"""An execution's end seen from outside the workflow: which events the execution-end cleanup acts on, what it
does, and the one message it sends for an end the workflow did not report itself.

`Catch` cannot see a timeout, StopExecution, States.Runtime or States.DataLimitExceeded. The EventBridge rule
(stacks/pipeline_spec.py `execution_end_pattern`) sends exactly those ends of this stack's state machine, and the
function checks the event again itself: a rule changed by hand, or a wrong target, must not make it delete the
PTs or deployments of another state machine's executions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import UNSUCCESSFUL_STATUSES, StepFunctionsGateway
from bedrock_distill.workflow.cleanup import CleanupIncompleteError, CleanupReport, clean_up_execution
from bedrock_distill.workflow.notify import Notifier, Outcome

EXECUTION_EVENT_SOURCE: Final = "aws.states"
EXECUTION_STATUS_CHANGE: Final = "Step Functions Execution Status Change"
# The ends the workflow's own Catch cannot see; a SUCCEEDED run, or one whose Catch ran, has cleaned up already
# (the Catch path ends in a Fail state, so it ends FAILED too: the history tells whether it notified).
UNHANDLED_END_STATUSES: Final = UNSUCCESSFUL_STATUSES

# What a person should do next, by how the execution ended.
NEXT_STEPS_BY_STATUS: Final = {
    "TIMED_OUT": "The execution hit its timeout; its PTs and model deployments were deleted and its jobs stopped. "
    "Check why the job ran so long (Bedrock allows 7 days), then start a new execution.",
    "ABORTED": "The execution was stopped; its PTs and model deployments were deleted and its jobs stopped. Start "
    "a new execution when ready.",
    "FAILED": "The execution failed outside its own error handling (e.g. States.Runtime); its PTs and model "
    "deployments were deleted and its jobs stopped. See the failing state in the execution's history.",
}


class ExecutionEnd(BaseModel):
    """The `detail` of a Step Functions "Execution Status Change" event."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    status: str
    error: str | None = None
    cause: str | None = None


class IgnoredEvent(BaseModel):
    """An event the execution-end cleanup does not act on, and why."""

    ignored: Literal[True] = True
    reason: str


def execution_end(
    source: str, detail_type: str, detail: Mapping[str, Any], state_machine_arn: str
) -> ExecutionEnd | IgnoredEvent:
    """The end to clean up after, or why this event is not one: only an unhandled end (UNHANDLED_END_STATUSES)
    of the state machine `state_machine_arn` is."""
    if source != EXECUTION_EVENT_SOURCE or detail_type != EXECUTION_STATUS_CHANGE:
        return IgnoredEvent(
            reason=f"not a Step Functions execution status change: source {source!r}, detail-type {detail_type!r}"
        )
    try:
        end = ExecutionEnd.model_validate(detail)
    except ValidationError as error:
        missing = ", ".join(".".join(str(part) for part in problem["loc"]) for problem in error.errors())
        return IgnoredEvent(reason=f"the event's detail lacks a valid {missing}")
    if not state_machine_arn:
        return IgnoredEvent(reason="this function has no state machine configured (STATE_MACHINE_ARN)")
    if end.state_machine_arn != state_machine_arn:
        return IgnoredEvent(
            reason=f"execution {end.execution_arn} belongs to {end.state_machine_arn}, not to {state_machine_arn}"
        )
    if end.status not in UNHANDLED_END_STATUSES:
        return IgnoredEvent(
            reason=f"execution {end.execution_arn} is {end.status}, not one of {', '.join(UNHANDLED_END_STATUSES)}"
        )
    return end


class ExecutionCleanup(BaseModel):
    execution_arn: str
    status: str
    deleted_provisioned_throughputs: list[str]
    stopped_jobs: list[str]
    deleted_model_deployments: list[str] = []
    stopped_evaluation_jobs: list[str] = []
    notified: bool


def end_outcome(end: ExecutionEnd, failing_state: str | None, report: CleanupReport) -> Outcome:
    """The message for an end the workflow did not report: how it ended, what to do, what was cleaned up."""
    return Outcome(
        status=end.status,
        execution_arn=end.execution_arn,
        failing_state=failing_state,
        error=end.error,
        cause=end.cause,
        next_step=NEXT_STEPS_BY_STATUS.get(end.status),
        cleanup=_cleaned_up(report),
    )


def _cleaned_up(report: CleanupReport) -> dict[str, list[str]]:
    """What the message lists: PTs and customization jobs always; deployments and evaluation jobs when there were
    any, so the message of a run that never got that far reads as before."""
    listed = report.model_dump(include={"deleted_provisioned_throughputs", "stopped_jobs"})
    later = report.model_dump(include={"deleted_model_deployments", "stopped_evaluation_jobs"})
    return listed | {key: arns for key, arns in later.items() if arns}


def clean_up_after(
    end: ExecutionEnd, bedrock: BedrockGateway, executions: StepFunctionsGateway, notifier: Notifier
) -> ExecutionCleanup:
    """Stop the execution's jobs and delete its PTs and deployments; then, if the workflow never reported this end,
    report it.

    A step that failed raises CleanupIncompleteError after everything else is done, without notifying: the
    retry deletes what is left and sends the one message.
    """
    report = clean_up_execution(end.execution_arn, bedrock)
    if report.failures:
        raise CleanupIncompleteError(report)
    history = executions.history(end.execution_arn)
    notify = not history.notified()
    if notify:
        notifier.publish(end_outcome(end, history.failing_state(), report))
    return ExecutionCleanup(
        execution_arn=end.execution_arn,
        status=end.status,
        deleted_provisioned_throughputs=report.deleted_provisioned_throughputs,
        stopped_jobs=report.stopped_jobs,
        deleted_model_deployments=report.deleted_model_deployments,
        stopped_evaluation_jobs=report.stopped_evaluation_jobs,
        notified=notify,
    )
