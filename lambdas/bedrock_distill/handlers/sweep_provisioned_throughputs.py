"""Scheduled: delete this project's PTs and custom model deployments whose execution is no longer RUNNING or
that outlived their lifetime (a deployment kept on success stays once its run SUCCEEDED; workflow/cleanup.py).

The last line of defence when an execution-status event was lost or its handler failed every retry.

A PT or deployment it cannot delete (e.g. ConflictException) does not stop the pass: every other PT due is deleted, the
metrics and the notification go out, then the invocation fails (CleanupIncompleteError, listing what is left)
so the Lambda-errors alarm sees it; Lambda's retries and the next hourly pass try again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, metrics, settings, to_state, tracer
from bedrock_distill.observability import (
    MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND,
    OLDEST_PROVISIONED_THROUGHPUT_AGE_SECONDS,
    OVERDUE_MODEL_DEPLOYMENTS,
    OVERDUE_PROVISIONED_THROUGHPUTS,
    PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
)
from bedrock_distill.workflow.cleanup import sweep_and_report
from bedrock_distill.workflow.notify import Notifier

_bedrock = BedrockGateway()
_executions = StepFunctionsGateway()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = sweep_and_report(
        _bedrock,
        _executions.status,
        now=datetime.now(UTC),
        max_lifetime=timedelta(seconds=settings().max_provisioned_throughput_seconds),
        notifier=Notifier(settings().notification_topic_arn),
        state_machine_arn=settings().state_machine_arn,
    )
    # Published on every run, zeros included, so the alarms always have data.
    metrics.add_metric(
        name=OVERDUE_PROVISIONED_THROUGHPUTS, unit=MetricUnit.Count, value=len(report.overdue_provisioned_throughputs)
    )
    metrics.add_metric(
        name=OLDEST_PROVISIONED_THROUGHPUT_AGE_SECONDS, unit=MetricUnit.Seconds, value=report.oldest_age_seconds
    )
    metrics.add_metric(
        name=PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
        unit=MetricUnit.Count,
        value=len(report.deleted_provisioned_throughputs),
    )
    metrics.add_metric(
        name=OVERDUE_MODEL_DEPLOYMENTS, unit=MetricUnit.Count, value=len(report.overdue_model_deployments)
    )
    metrics.add_metric(
        name=MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND, unit=MetricUnit.Count, value=len(report.deleted_model_deployments)
    )
    if report.failures:
        logger.warning("sweep incomplete; failing so that it is retried", **report.model_dump())
    report.raise_if_incomplete()
    logger.info("sweep done", **report.model_dump())
    return to_state(report)
