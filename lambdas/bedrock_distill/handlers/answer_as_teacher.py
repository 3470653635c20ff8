"""State `AnswerAsTeacher`: the held-out prompts through Converse on the teacher, on demand."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.handlers.common import logger, metrics, to_state, tracer
from bedrock_distill.observability import TEACHER_PROMPTS_FAILED
from bedrock_distill.workflow.reports import record_teacher_responses
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_s3 = S3Gateway()
_runtime = BedrockRuntimeGateway()


class AnswerAsTeacherRequest(StateModel):
    run: Run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=AnswerAsTeacherRequest)
def handler(event: AnswerAsTeacherRequest, context: LambdaContext) -> dict[str, Any]:
    summary = record_teacher_responses(event.run, _runtime, _s3)
    metrics.add_metric(name=TEACHER_PROMPTS_FAILED, unit=MetricUnit.Count, value=summary.failed)
    logger.info("teacher answered", **summary.model_dump())
    return to_state(summary)
