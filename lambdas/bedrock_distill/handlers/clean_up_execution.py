"""Step Functions "Execution Status Change" (FAILED, TIMED_OUT, ABORTED) -> delete the run's PTs, stop its job.

`Catch` cannot see a timeout, StopExecution, States.Runtime or States.DataLimitExceeded; this can. Idempotent:
a second delivery finds nothing left. An end the workflow did not report itself gets one notification here.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from bedrock_distill.handlers.common import logger, metrics, settings, to_state, tracer
from bedrock_distill.observability import JOBS_STOPPED_OUT_OF_BAND, PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND
from bedrock_distill.workflow.bedrock import BedrockGateway
from bedrock_distill.workflow.cleanup import clean_up_execution
from bedrock_distill.workflow.executions import StepFunctionsGateway
from bedrock_distill.workflow.notify import NEXT_STEPS_BY_STATUS, NotificationGateway, Outcome

_bedrock = BedrockGateway()
_executions = StepFunctionsGateway()


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
    detail = event.detail
    report = clean_up_execution(detail.execution_arn, _bedrock)
    metrics.add_metric(
        name=PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
        unit=MetricUnit.Count,
        value=len(report.deleted_provisioned_throughputs),
    )
    metrics.add_metric(name=JOBS_STOPPED_OUT_OF_BAND, unit=MetricUnit.Count, value=len(report.stopped_jobs))
    # The workflow reports its own failures; only an end it never saw is reported here.
    notify = not _executions.notified(detail.execution_arn)
    if notify:
        NotificationGateway(settings().notification_topic_arn).publish(
            Outcome(
                status=detail.status,
                execution_arn=detail.execution_arn,
                failing_state=_executions.failing_state(detail.execution_arn),
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
