"""State `GetJobStatus`: the job's status; Failed and Stopped raise their named errors."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, to_state, tracer
from bedrock_distill.workflow.jobs import job_status
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class JobStatusRequest(StateModel):
    job_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=JobStatusRequest)
def handler(event: JobStatusRequest, context: LambdaContext) -> dict[str, Any]:
    status = job_status(event.job_arn, _bedrock)
    logger.info("distillation job status", job_arn=event.job_arn, status=status.status)
    return to_state(status)
