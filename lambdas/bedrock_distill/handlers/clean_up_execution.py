"""Step Functions "Execution Status Change" (FAILED, TIMED_OUT, ABORTED) -> delete the run's PTs and custom model
deployments (kept-on-success ones too: the run did not succeed), stop its customization and evaluation jobs.

Acts only on an unhandled end of this stack's state machine (`workflow/execution_end.py` decides); any other
event is logged and answered as ignored. Idempotent by execution (Powertools idempotency): EventBridge delivers
at least once, and a second delivery of the same end must not send a second message.

A PT or deployment that cannot be deleted yet does not keep the others alive: everything else is deleted and
stopped, then the invocation fails (CleanupIncompleteError) without notifying. Powertools forgets a failed
invocation, so Lambda's retry runs it again: it deletes what is left and sends the one message, listing what
that attempt did (the first attempt's deletions are in its log). What fails every retry lands in the dead-letter queue,
and the hourly sweep deletes the PT or deployment.
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

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, metrics, settings, to_state, tracer
from bedrock_distill.observability import (
    EVALUATION_JOBS_STOPPED_OUT_OF_BAND,
    JOBS_STOPPED_OUT_OF_BAND,
    MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND,
    PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
)
from bedrock_distill.workflow.cleanup import CleanupIncompleteError, CleanupReport
from bedrock_distill.workflow.execution_end import (
    ExecutionCleanup,
    ExecutionEnd,
    IgnoredEvent,
    clean_up_after,
    execution_end,
)
from bedrock_distill.workflow.notify import Notifier

_bedrock = BedrockGateway()
_executions = StepFunctionsGateway()
# Longer than EventBridge retries an event (EVENT_MAX_AGE_SECONDS in stacks/pipeline_spec.py).
_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="execution_arn", expires_after_seconds=24 * 3600, raise_on_no_idempotency_key=True
)


class AnyEventBridgeEvent(EventBridgeModel):
    """Any EventBridge event: whether it is one to act on is the domain's decision, not a parse error."""

    detail: dict[str, Any]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=AnyEventBridgeEvent)
def handler(event: AnyEventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    end = execution_end(event.source, event.detail_type, event.detail, settings().state_machine_arn)
    if isinstance(end, IgnoredEvent):
        logger.warning("event ignored", event_id=event.id, reason=end.reason)
        return end.model_dump()
    _IDEMPOTENCY.register_lambda_context(context)
    return _clean_up_once()(end=end)


@cache
def _clean_up_once() -> Callable[..., dict[str, Any]]:
    """Created on first use, like every gateway here, so the table name and boto3 come from the deployment."""
    persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table)

    once = idempotent_function(data_keyword_argument="end", persistence_store=persistence, config=_IDEMPOTENCY)
    clean_up: Callable[..., dict[str, Any]] = once(_clean_up)
    return clean_up


def _clean_up(end: ExecutionEnd) -> dict[str, Any]:
    try:
        cleanup = clean_up_after(end, _bedrock, _executions, Notifier(settings().notification_topic_arn))
    except CleanupIncompleteError as incomplete:
        _count(incomplete.report)
        logger.warning("cleanup incomplete; failing so that it is retried", **incomplete.report.model_dump())
        raise
    _count(cleanup)
    logger.info("execution ended; cleaned up after it", **cleanup.model_dump())
    return to_state(cleanup)


def _count(done: CleanupReport | ExecutionCleanup) -> None:
    counts = {
        PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND: done.deleted_provisioned_throughputs,
        MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND: done.deleted_model_deployments,
        JOBS_STOPPED_OUT_OF_BAND: done.stopped_jobs,
        EVALUATION_JOBS_STOPPED_OUT_OF_BAND: done.stopped_evaluation_jobs,
    }
    for name, arns in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=len(arns))
