"""State `GetEvaluationStatus`: both judge jobs' status (Completed when both are); failed, stopped or overdue
jobs end the run with a named error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, settings, tracer
from bedrock_distill.workflow.evaluation import Evaluation, evaluation_status
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class EvaluationStatusRequest(StateModel):
    run: Run
    evaluation: Evaluation


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=EvaluationStatusRequest)
def handler(event: EvaluationStatusRequest, context: LambdaContext) -> dict[str, Any]:
    evaluation = evaluation_status(event.evaluation, settings(), _bedrock, now=datetime.now(UTC))
    logger.info("evaluation status", **evaluation.to_state())
    return evaluation.to_state()
