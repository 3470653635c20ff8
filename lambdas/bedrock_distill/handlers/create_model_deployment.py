"""State `CreateModelDeployment`: deploy the distilled model for on-demand inference (no PT bought)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, metrics, to_state, tracer
from bedrock_distill.observability import MODEL_DEPLOYMENTS_CREATED
from bedrock_distill.workflow.model_deployment import create_model_deployment
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class CreateModelDeploymentRequest(StateModel):
    run: Run
    custom_model_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CreateModelDeploymentRequest)
def handler(event: CreateModelDeploymentRequest, context: LambdaContext) -> dict[str, Any]:
    deployment = create_model_deployment(event.run, event.custom_model_arn, _bedrock)
    metrics.add_metric(name=MODEL_DEPLOYMENTS_CREATED, unit=MetricUnit.Count, value=1)
    logger.info(
        "custom model deployment requested",
        arn=deployment.custom_model_deployment_arn,
        keep_on_success=event.run.keep_deployment,
    )
    return to_state(deployment)
