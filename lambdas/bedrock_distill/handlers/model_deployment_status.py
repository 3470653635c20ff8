"""State `GetModelDeploymentStatus`: Creating or Active; Failed raises ModelDeploymentFailed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, to_state, tracer
from bedrock_distill.workflow.model_deployment import model_deployment_status
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class ModelDeploymentStatusRequest(StateModel):
    custom_model_deployment_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=ModelDeploymentStatusRequest)
def handler(event: ModelDeploymentStatusRequest, context: LambdaContext) -> dict[str, Any]:
    deployment = model_deployment_status(event.custom_model_deployment_arn, _bedrock)
    logger.info("custom model deployment status", arn=deployment.custom_model_deployment_arn, status=deployment.status)
    return to_state(deployment)
