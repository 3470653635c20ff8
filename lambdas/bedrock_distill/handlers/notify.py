"""States `NotifySuccess` and `NotifyFailure`: one SNS message per execution outcome."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, settings, tracer
from bedrock_distill.workflow.notify import Notifier, RunState, run_outcome
from bedrock_distill.workflow.state import StateModel

_executions = StepFunctionsGateway()


class NotifyRequest(StateModel):
    status: str
    execution_arn: str
    state: RunState


class NotifyResponse(StateModel):
    message_id: str | None
    outcome: dict[str, Any]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=NotifyRequest)
def handler(event: NotifyRequest, context: LambdaContext) -> dict[str, Any]:
    outcome = run_outcome(
        event.status,
        event.execution_arn,
        event.state,
        settings().provisioned_throughput_hourly_rate_usd,
        _executions,
    )
    message_id = Notifier(settings().notification_topic_arn).publish(outcome)
    logger.info("outcome published", status=outcome.status, message_id=message_id)
    return NotifyResponse(message_id=message_id, outcome=outcome.model_dump(exclude_none=True)).to_state()
