"""Cleanup outside the workflow: what `Catch` cannot reach (timeouts, StopExecution, States.Runtime).

Both entry points find resources by the tags every run puts on them, so they only ever touch this
project's PTs, custom model deployments and jobs, and both are idempotent: a PT or deployment already gone
counts as done.
`handlers/clean_up_execution.py` runs the first on Step Functions' "Execution Status Change" events;
`handlers/sweep_provisioned_throughputs.py` runs the sweep on a schedule.

One PT or deployment that cannot be deleted yet (ConflictException while it is Creating or Updating, or any
other error on it, its tags or its execution's status included) does not stop a pass: a pass tries every PT,
deployment and job it found, and reports what it could
not do in `CleanupReport.failures`. Both handlers then fail their invocation (`CleanupIncompleteError`), after
everything else is done, so that the rest is retried: by Lambda's asynchronous retries, then from the
function's dead-letter queue by hand, and in any case by the next hourly sweep. Each failed invocation counts
in the Lambda-errors alarm. A PT nobody can delete for longer than the maximum lifetime also raises the
overdue alarm; a deployment likewise (OverdueModelDeployments).

A deployment differs from a PT in one way: a run started with keepDeployment tags it keep-on-success
(KEEP_ON_SUCCESS_TAG_KEY), and the sweep leaves it, however old, while that run is RUNNING (it stays through the
judging, which may outlast the maximum lifetime) and once it has SUCCEEDED: it is billed per token, nothing idle
(user guide, "Deploy a custom model for on-demand inference"), and the execution's own timeout bounds the wait. A
run that did not succeed keeps nothing: the execution-end cleanup and the sweep delete its deployment, tag or no
tag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import MISSING
from bedrock_distill.workflow.errors import WorkflowError
from bedrock_distill.workflow.model_deployment import delete_model_deployment
from bedrock_distill.workflow.notify import Notifier, Outcome
from bedrock_distill.workflow.provisioned_throughput import delete_provisioned_throughput
from bedrock_distill.workflow.run import (
    EXECUTION_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_VALUE,
    PROJECT_TAG_KEY,
    PROJECT_TAG_VALUE,
)

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
# The execution statuses in which a keep-on-success deployment stays. MISSING too: Step Functions forgets an
# execution 90 days after it closes (developer guide, "Step Functions service quotas": execution history
# retention), and the hourly sweep deletes a failed run's deployment long before that, so a kept deployment
# whose execution is forgotten belongs to a run that succeeded.
_KEEP_ON_SUCCESS_HOLDS: Final = frozenset({RUNNING, SUCCEEDED, MISSING})
# The status of the sweeper's message: it reports PTs, not one execution's end.
SWEPT = "SWEPT"
SWEPT_NEXT_STEP = (
    "A Provisioned Throughput or custom model deployment outlived its execution or its lifetime and was deleted "
    "by the sweeper; check why its execution did not delete it (see the cleanup list)."
)


class CleanupFailure(BaseModel):
    """One thing a pass could not do: the resource, the operation, and the error, for the next attempt."""

    arn: str
    operation: str
    error: str


class CleanupReport(BaseModel):
    deleted_provisioned_throughputs: list[str] = []
    # Customization jobs stopped.
    stopped_jobs: list[str] = []
    stopped_evaluation_jobs: list[str] = []
    kept_provisioned_throughputs: list[str] = []
    # PTs found alive longer than the maximum lifetime (deleted too): each one is a leak to look into.
    overdue_provisioned_throughputs: list[str] = []
    # The oldest PT's age (OldestProvisionedThroughputAgeSeconds); deployments are not counted in it.
    oldest_age_seconds: float = 0.0
    deleted_model_deployments: list[str] = []
    # Of running executions, or kept on success.
    kept_model_deployments: list[str] = []
    # Alive longer than the maximum lifetime and not kept on success (deleted too): a leak to look into.
    overdue_model_deployments: list[str] = []
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
            f"{report.deleted_provisioned_throughputs}, deleted deployments {report.deleted_model_deployments}, "
            f"stopped jobs {report.stopped_jobs + report.stopped_evaluation_jobs}"
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


def _listed(report: CleanupReport, operation: str, listing: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """What a listing returns; nothing (and a failure, `arn` "*") when it fails, so the pass goes on with the other
    kinds of resource: evaluation jobs that cannot be listed must not keep a PT alive."""
    try:
        return listing()
    except WorkflowError as error:
        report.failed("*", operation, error)
        return []


def _ours(bedrock: BedrockGateway, report: CleanupReport, summaries: list[dict[str, Any]], arn_key: str) -> _Tagged:
    for summary, tags in _tagged(bedrock, report, summaries, arn_key):
        if tags.get(PROJECT_TAG_KEY) == PROJECT_TAG_VALUE:
            yield summary, tags


def _project_throughputs(bedrock: BedrockGateway, report: CleanupReport) -> _Tagged:
    throughputs = _listed(report, "ListProvisionedModelThroughputs", bedrock.list_provisioned_model_throughputs)
    return _ours(bedrock, report, throughputs, "provisionedModelArn")


def _project_deployments(bedrock: BedrockGateway, report: CleanupReport) -> _Tagged:
    # ListCustomModelDeployments' summaries carry no tags (botocore CustomModelDeploymentSummary): read each.
    deployments = _listed(report, "ListCustomModelDeployments", bedrock.list_custom_model_deployments)
    return _ours(bedrock, report, deployments, "customModelDeploymentArn")


def _delete(arn: str, bedrock: BedrockGateway, report: CleanupReport) -> None:
    """Delete one PT, or record why not: the other PTs of the pass are deleted either way."""
    try:
        delete_provisioned_throughput(arn, bedrock)
    except WorkflowError as error:
        report.failed(arn, "DeleteProvisionedModelThroughput", error)
        return
    report.deleted_provisioned_throughputs.append(arn)


def _delete_deployment(arn: str, bedrock: BedrockGateway, report: CleanupReport) -> None:
    """Delete one deployment, or record why not: the rest of the pass goes on either way."""
    try:
        delete_model_deployment(arn, bedrock)
    except WorkflowError as error:
        report.failed(arn, "DeleteCustomModelDeployment", error)
        return
    report.deleted_model_deployments.append(arn)


def _stop_jobs(
    jobs: list[dict[str, Any]],
    stop: Callable[[str], None],
    operation: str,
    *,
    execution_arn: str,
    bedrock: BedrockGateway,
    report: CleanupReport,
) -> list[str]:
    """Stop each listed job tagged with the execution; the ones stopped, the others recorded as failures."""
    stopped = []
    for job, tags in _tagged(bedrock, report, jobs, "jobArn"):
        if tags.get(EXECUTION_TAG_KEY) == execution_arn:
            job_arn = job["jobArn"]
            try:
                stop(job_arn)
            except WorkflowError as error:
                report.failed(job_arn, operation, error)
                continue
            stopped.append(job_arn)
    return stopped


def clean_up_execution(execution_arn: str, bedrock: BedrockGateway) -> CleanupReport:
    """Stop the execution's running jobs (customization and evaluation), then delete every PT and custom model
    deployment tagged with it, kept-on-success ones included (this runs only for runs that did not succeed).
    What fails is in the report's `failures`; everything else is done regardless."""
    report = CleanupReport()
    # The jobs first: a customization job left running would go on to need serving nobody will delete, and an
    # evaluation job bills its judge for a run that is over.
    report.stopped_jobs = _stop_jobs(
        _listed(
            report,
            "ListModelCustomizationJobs",
            lambda: bedrock.list_model_customization_jobs(statusEquals="InProgress"),
        ),
        bedrock.stop_model_customization_job,
        "StopModelCustomizationJob",
        execution_arn=execution_arn,
        bedrock=bedrock,
        report=report,
    )
    report.stopped_evaluation_jobs = _stop_jobs(
        _listed(report, "ListEvaluationJobs", lambda: bedrock.list_evaluation_jobs(statusEquals="InProgress")),
        bedrock.stop_evaluation_job,
        "StopEvaluationJob",
        execution_arn=execution_arn,
        bedrock=bedrock,
        report=report,
    )
    for summary, tags in _project_throughputs(bedrock, report):
        if tags.get(EXECUTION_TAG_KEY) == execution_arn:
            _delete(summary["provisionedModelArn"], bedrock, report)
    for summary, tags in _project_deployments(bedrock, report):
        if tags.get(EXECUTION_TAG_KEY) == execution_arn:
            _delete_deployment(summary["customModelDeploymentArn"], bedrock, report)
    return report


class _Executions:
    """Each tagged execution's status, asked once per pass; None (recorded as a failure) when it cannot be read,
    so one unreadable execution leaves its resources for the next pass instead of ending this one."""

    def __init__(self, status: Callable[[str], str], report: CleanupReport) -> None:
        self._status = status
        self._report = report
        self._known: dict[str, str | None] = {}

    def status(self, arn: str, resource_arn: str) -> str | None:
        if arn not in self._known:
            try:
                self._known[arn] = self._status(arn)
            except WorkflowError as error:
                self._report.failed(resource_arn, "DescribeExecution", error)
                return None
        return self._known[arn]


def sweep(
    bedrock: BedrockGateway,
    execution_status: Callable[[str], str],
    now: datetime,
    max_lifetime: timedelta,
) -> CleanupReport:
    """Delete this project's PTs and custom model deployments whose execution is no longer running or that
    outlived `max_lifetime`; a deployment kept on success stays while its execution runs and once it SUCCEEDED."""
    report = CleanupReport()
    executions = _Executions(execution_status, report)
    for summary, tags in _project_throughputs(bedrock, report):
        arn = summary["provisionedModelArn"]
        execution_arn = tags.get(EXECUTION_TAG_KEY)
        age = now - summary["creationTime"]
        report.oldest_age_seconds = max(report.oldest_age_seconds, age.total_seconds())
        overdue = age > max_lifetime
        if overdue:
            report.overdue_provisioned_throughputs.append(arn)
        status = executions.status(execution_arn, arn) if execution_arn else None
        if execution_arn and status is None and not overdue:
            continue  # Its execution could not be read (a failure of this pass): decided on the next one.
        if overdue or status != RUNNING:
            _delete(arn, bedrock, report)
        else:
            report.kept_provisioned_throughputs.append(arn)
    for summary, tags in _project_deployments(bedrock, report):
        arn = summary["customModelDeploymentArn"]
        execution_arn = tags.get(EXECUTION_TAG_KEY)
        status = executions.status(execution_arn, arn) if execution_arn else None
        keep_on_success = tags.get(KEEP_ON_SUCCESS_TAG_KEY) == KEEP_ON_SUCCESS_TAG_VALUE
        if keep_on_success and status in _KEEP_ON_SUCCESS_HOLDS:
            report.kept_model_deployments.append(arn)
            continue
        overdue = now - summary["createdAt"] > max_lifetime
        if execution_arn and status is None and (keep_on_success or not overdue):
            continue  # Its execution could not be read (a failure of this pass): decided on the next one.
        if overdue:
            report.overdue_model_deployments.append(arn)
        if overdue or status != RUNNING:
            _delete_deployment(arn, bedrock, report)
        else:
            report.kept_model_deployments.append(arn)
    return report


def sweep_outcome(report: CleanupReport, state_machine_arn: str) -> Outcome | None:
    """The message for a sweep that had to delete something; a sweep that deleted nothing says nothing."""
    if not report.deleted_provisioned_throughputs and not report.deleted_model_deployments:
        return None
    return Outcome(
        status=SWEPT,
        execution_arn=state_machine_arn,
        next_step=SWEPT_NEXT_STEP,
        cleanup=report.model_dump(
            include={
                "deleted_provisioned_throughputs",
                "overdue_provisioned_throughputs",
                "deleted_model_deployments",
                "overdue_model_deployments",
                "failures",
            }
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
