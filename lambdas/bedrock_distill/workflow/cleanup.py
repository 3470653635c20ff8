"""Cleanup outside the workflow: what `Catch` cannot reach (timeouts, StopExecution, States.Runtime).

Both entry points find resources by the tags every run puts on them, so they only ever touch this
project's PTs and jobs, and both are idempotent: a PT already gone counts as done.
`handlers/clean_up_execution.py` runs the first on Step Functions' "Execution Status Change" events;
`handlers/sweep_provisioned_throughputs.py` runs the sweep on a schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel

from bedrock_distill.workflow.bedrock import BedrockGateway
from bedrock_distill.workflow.errors import call_aws
from bedrock_distill.workflow.provisioned_throughput import delete_provisioned_throughput
from bedrock_distill.workflow.run import EXECUTION_TAG_KEY, PROJECT_TAG_KEY, PROJECT_TAG_VALUE

RUNNING = "RUNNING"


class CleanupReport(BaseModel):
    deleted_provisioned_throughputs: list[str] = []
    stopped_jobs: list[str] = []
    kept_provisioned_throughputs: list[str] = []
    # PTs found alive longer than the maximum lifetime (deleted too): each one is a leak to look into.
    overdue_provisioned_throughputs: list[str] = []
    oldest_age_seconds: float = 0.0


def _listed(bedrock: BedrockGateway, operation: str, key: str, **request: Any) -> list[dict[str, Any]]:
    """Every item of a Bedrock list operation, through botocore's paginator."""
    pages = bedrock.client.get_paginator(operation).paginate(**request)
    return call_aws(operation, lambda: [item for page in pages for item in page.get(key, [])])


def _tags(bedrock: BedrockGateway, arn: str) -> dict[str, str]:
    response = call_aws("ListTagsForResource", lambda: bedrock.client.list_tags_for_resource(resourceARN=arn))
    return {tag["key"]: tag["value"] for tag in response.get("tags", [])}


def _project_throughputs(bedrock: BedrockGateway) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    for summary in _listed(bedrock, "list_provisioned_model_throughputs", "provisionedModelSummaries"):
        tags = _tags(bedrock, summary["provisionedModelArn"])
        if tags.get(PROJECT_TAG_KEY) == PROJECT_TAG_VALUE:
            yield summary, tags


def clean_up_execution(execution_arn: str, bedrock: BedrockGateway) -> CleanupReport:
    """Delete every PT tagged with this execution, and stop its job if it is still running."""
    report = CleanupReport()
    # The job first: a job left running would go on to need a PT nobody will delete.
    jobs = _listed(
        bedrock, "list_model_customization_jobs", "modelCustomizationJobSummaries", statusEquals="InProgress"
    )
    for job in jobs:
        if _tags(bedrock, job["jobArn"]).get(EXECUTION_TAG_KEY) == execution_arn:
            call_aws(
                "StopModelCustomizationJob",
                partial(bedrock.client.stop_model_customization_job, jobIdentifier=job["jobArn"]),
            )
            report.stopped_jobs.append(job["jobArn"])
    for summary, tags in _project_throughputs(bedrock):
        if tags.get(EXECUTION_TAG_KEY) == execution_arn:
            delete_provisioned_throughput(summary["provisionedModelArn"], bedrock)
            report.deleted_provisioned_throughputs.append(summary["provisionedModelArn"])
    return report


def sweep(
    bedrock: BedrockGateway,
    execution_status: Callable[[str], str],
    now: datetime,
    max_lifetime: timedelta,
) -> CleanupReport:
    """Delete this project's PTs whose execution is no longer running or that outlived `max_lifetime`."""
    report = CleanupReport()
    for summary, tags in _project_throughputs(bedrock):
        arn = summary["provisionedModelArn"]
        execution_arn = tags.get(EXECUTION_TAG_KEY)
        age = now - summary["creationTime"]
        report.oldest_age_seconds = max(report.oldest_age_seconds, age.total_seconds())
        overdue = age > max_lifetime
        if overdue:
            report.overdue_provisioned_throughputs.append(arn)
        orphaned = execution_arn is None or execution_status(execution_arn) != RUNNING
        if orphaned or overdue:
            delete_provisioned_throughput(arn, bedrock)
            report.deleted_provisioned_throughputs.append(arn)
        else:
            report.kept_provisioned_throughputs.append(arn)
    return report
