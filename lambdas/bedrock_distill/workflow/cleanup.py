"""Cleanup outside the workflow: what `Catch` cannot reach (timeouts, StopExecution, States.Runtime).

Both entry points find resources by the tags every run puts on them, so they only ever touch this
project's PTs and jobs, and both are idempotent: a PT already gone counts as done.
`handlers/clean_up_execution.py` runs the first on Step Functions' "Execution Status Change" events;
`handlers/sweep_provisioned_throughputs.py` runs the sweep on a schedule.

One PT that cannot be deleted yet (ConflictException while it is Creating or Updating, or any other error on
it, its tags included) does not stop a pass: a pass tries every PT and job it found, and reports what it could
not do in `CleanupReport.failures`. Both handlers then fail their invocation (`CleanupIncompleteError`), after
everything else is done, so that the rest is retried: by Lambda's asynchronous retries, then from the
function's dead-letter queue by hand, and in any case by the next hourly sweep. Each failed invocation counts
in the Lambda-errors alarm. A PT nobody can delete for longer than the maximum lifetime also raises the
overdue alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.workflow.errors import WorkflowError
from bedrock_distill.workflow.notify import Notifier, Outcome
from bedrock_distill.workflow.provisioned_throughput import delete_provisioned_throughput
from bedrock_distill.workflow.run import EXECUTION_TAG_KEY, PROJECT_TAG_KEY, PROJECT_TAG_VALUE

RUNNING = "RUNNING"
# The status of the sweeper's message: it reports PTs, not one execution's end.
SWEPT = "SWEPT"
SWEPT_NEXT_STEP = (
    "A Provisioned Throughput outlived its execution or its lifetime and was deleted by the sweeper; check why its "
    "execution did not delete it (see the cleanup list)."
)


class CleanupFailure(BaseModel):
    """One thing a pass could not do: the resource, the operation, and the error, for the next attempt."""

    arn: str
    operation: str
    error: str


class CleanupReport(BaseModel):
    deleted_provisioned_throughputs: list[str] = []
    stopped_jobs: list[str] = []
    kept_provisioned_throughputs: list[str] = []
    # PTs found alive longer than the maximum lifetime (deleted too): each one is a leak to look into.
    overdue_provisioned_throughputs: list[str] = []
    oldest_age_seconds: float = 0.0
    failures: list[CleanupFailure] = []

    def failed(self, arn: str, operation: str, error: WorkflowError) -> None:
        self.failures.append(CleanupFailure(arn=arn, operation=operation, error=str(error)))

    def raise_if_incomplete(self) -> None:
        """Fail the invocation when a step failed, so that what is left is retried."""
        if self.failures:
            raise CleanupIncompleteError(self)


class CleanupIncompleteError(WorkflowError):
    """A pass did all it could and left `report.failures`; failing the invocation gets them retried."""

    def __init__(self, report: CleanupReport) -> None:
        left = "; ".join(f"{failure.operation} {failure.arn}: {failure.error}" for failure in report.failures)
        super().__init__(
            f"{len(report.failures)} cleanup step(s) failed, to be retried: {left}. Done meanwhile: deleted PTs "
            f"{report.deleted_provisioned_throughputs}, stopped jobs {report.stopped_jobs}"
        )
        self.report = report


_Tagged = Iterator[tuple[dict[str, Any], dict[str, str]]]


def _tagged(bedrock: BedrockGateway, report: CleanupReport, summaries: list[dict[str, Any]], arn_key: str) -> _Tagged:
    """Each listed resource still there, with its tags. One whose tags cannot be read is recorded as a failure
    (it may be this project's) and skipped, so the others are still handled."""
    for summary in summaries:
        try:
            tags = bedrock.tags(summary[arn_key])
        except WorkflowError as error:
            report.failed(summary[arn_key], "ListTagsForResource", error)
            continue
        if tags is not None:
            yield summary, tags


def _project_throughputs(bedrock: BedrockGateway, report: CleanupReport) -> _Tagged:
    summaries = bedrock.list_provisioned_model_throughputs()
    for summary, tags in _tagged(bedrock, report, summaries, "provisionedModelArn"):
        if tags.get(PROJECT_TAG_KEY) == PROJECT_TAG_VALUE:
            yield summary, tags


def _delete(arn: str, bedrock: BedrockGateway, report: CleanupReport) -> None:
    """Delete one PT, or record why not: the other PTs of the pass are deleted either way."""
    try:
        delete_provisioned_throughput(arn, bedrock)
    except WorkflowError as error:
        report.failed(arn, "DeleteProvisionedModelThroughput", error)
        return
    report.deleted_provisioned_throughputs.append(arn)


def clean_up_execution(execution_arn: str, bedrock: BedrockGateway) -> CleanupReport:
    """Delete every PT tagged with this execution, and stop its job if it is still running. What fails is in
    the report's `failures`; everything else is done regardless."""
    report = CleanupReport()
    # The job first: a job left running would go on to need a PT nobody will delete.
    jobs = bedrock.list_model_customization_jobs(statusEquals="InProgress")
    for job, tags in _tagged(bedrock, report, jobs, "jobArn"):
        if tags.get(EXECUTION_TAG_KEY) == execution_arn:
            job_arn = job["jobArn"]
            try:
                bedrock.stop_model_customization_job(job_arn)
            except WorkflowError as error:
                report.failed(job_arn, "StopModelCustomizationJob", error)
                continue
            report.stopped_jobs.append(job_arn)
    for summary, tags in _project_throughputs(bedrock, report):
        if tags.get(EXECUTION_TAG_KEY) == execution_arn:
            _delete(summary["provisionedModelArn"], bedrock, report)
    return report


def sweep(
    bedrock: BedrockGateway,
    execution_status: Callable[[str], str],
    now: datetime,
    max_lifetime: timedelta,
) -> CleanupReport:
    """Delete this project's PTs whose execution is no longer running or that outlived `max_lifetime`."""
    report = CleanupReport()
    for summary, tags in _project_throughputs(bedrock, report):
        arn = summary["provisionedModelArn"]
        execution_arn = tags.get(EXECUTION_TAG_KEY)
        age = now - summary["creationTime"]
        report.oldest_age_seconds = max(report.oldest_age_seconds, age.total_seconds())
        overdue = age > max_lifetime
        if overdue:
            report.overdue_provisioned_throughputs.append(arn)
        orphaned = execution_arn is None or execution_status(execution_arn) != RUNNING
        if orphaned or overdue:
            _delete(arn, bedrock, report)
        else:
            report.kept_provisioned_throughputs.append(arn)
    return report


def sweep_outcome(report: CleanupReport, state_machine_arn: str) -> Outcome | None:
    """The message for a sweep that had to delete something; a sweep that deleted nothing says nothing."""
    if not report.deleted_provisioned_throughputs:
        return None
    return Outcome(
        status=SWEPT,
        execution_arn=state_machine_arn,
        next_step=SWEPT_NEXT_STEP,
        cleanup=report.model_dump(
            include={"deleted_provisioned_throughputs", "overdue_provisioned_throughputs", "failures"}
        ),
    )


def sweep_and_report(
    bedrock: BedrockGateway,
    execution_status: Callable[[str], str],
    *,
    now: datetime,
    max_lifetime: timedelta,
    notifier: Notifier,
    state_machine_arn: str,
) -> CleanupReport:
    """One sweep (see `sweep`), and one message when it deleted anything, failures included: the message goes out
    before the caller fails the invocation for what is left (`CleanupReport.raise_if_incomplete`)."""
    report = sweep(bedrock, execution_status, now, max_lifetime)
    if outcome := sweep_outcome(report, state_machine_arn):
        notifier.publish(outcome)
    return report
