"""Step Functions "Execution Status Change" (FAILED, TIMED_OUT, ABORTED) -> delete the run's PTs, stop its job.

`Catch` cannot see a timeout, StopExecution, States.Runtime or States.DataLimitExceeded; this can. An end the
workflow did not report itself gets one notification here. Idempotent by execution (Powertools idempotency):
EventBridge delivers at least once, and a second delivery of the same end must not send a second message.

A PT that cannot be deleted yet does not keep the others alive: everything else is deleted and stopped, then
the invocation fails (CleanupIncompleteError) without notifying. Powertools forgets a failed invocation, so
Lambda's retry runs it again: it deletes what is left and sends the one message, listing what that attempt
did (the first attempt's deletions are in its log). What fails every retry lands in the dead-letter queue,
and the hourly sweep deletes the PT.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, metrics, settings, to_state, tracer
from bedrock_distill.observability import JOBS_STOPPED_OUT_OF_BAND, PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND
from bedrock_distill.workflow.cleanup import CleanupIncompleteError, clean_up_execution
from bedrock_distill.workflow.notify import NEXT_STEPS_BY_STATUS, Notifier, Outcome

_bedrock = BedrockGateway()
_executions = StepFunctionsGateway()
# Longer than EventBridge retries an event (EVENT_MAX_AGE_SECONDS in stacks/pipeline_spec.py).
_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="execution_arn", expires_after_seconds=24 * 3600, raise_on_no_idempotency_key=True
)


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    status: str
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChangeEvent(EventBridgeModel):
    detail: ExecutionStatusChange


class ExecutionCleanup(BaseModel):
    execution_arn: str
    status: str
    deleted_provisioned_throughputs: list[str]
    stopped_jobs: list[str]
    notified: bool


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ExecutionStatusChangeEvent)
def handler(event: ExecutionStatusChangeEvent, context: LambdaContext) -> dict[str, Any]:
    _IDEMPOTENCY.register_lambda_context(context)
    return _clean_up_once()(detail=event.detail)


@cache
def _clean_up_once() -> Callable[..., dict[str, Any]]:
    """Created on first use, like every gateway here, so the table name and boto3 come from the deployment."""
    persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table)

    once = idempotent_function(data_keyword_argument="detail", persistence_store=persistence, config=_IDEMPOTENCY)
    clean_up: Callable[..., dict[str, Any]] = once(_clean_up)
    return clean_up


def _clean_up(detail: ExecutionStatusChange) -> dict[str, Any]:
    report = clean_up_execution(detail.execution_arn, _bedrock)
    metrics.add_metric(
        name=PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
        unit=MetricUnit.Count,
        value=len(report.deleted_provisioned_throughputs),
    )
    metrics.add_metric(name=JOBS_STOPPED_OUT_OF_BAND, unit=MetricUnit.Count, value=len(report.stopped_jobs))
    if report.failures:
        logger.warning("cleanup incomplete; failing so that it is retried", **report.model_dump())
        raise CleanupIncompleteError(report)
    # The workflow reports its own failures; only an end it never saw is reported here.
    history = _executions.history(detail.execution_arn)
    notify = not history.notified()
    if notify:
        Notifier(settings().notification_topic_arn).publish(
            Outcome(
                status=detail.status,
                execution_arn=detail.execution_arn,
                failing_state=history.failing_state(),
                error=detail.error,
                cause=detail.cause,
                next_step=NEXT_STEPS_BY_STATUS.get(detail.status),
                cleanup=report.model_dump(include={"deleted_provisioned_throughputs", "stopped_jobs"}),
            )
        )
    cleanup = ExecutionCleanup(
        execution_arn=detail.execution_arn,
        status=detail.status,
        deleted_provisioned_throughputs=report.deleted_provisioned_throughputs,
        stopped_jobs=report.stopped_jobs,
        notified=notify,
    )
    logger.info("execution ended; cleaned up after it", **cleanup.model_dump())
    return to_state(cleanup)
