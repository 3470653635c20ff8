"""State `DeleteModelDeployment` (and `DeleteModelDeploymentAfterFailure`): idempotent; ConflictException is
retried by the state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, metrics, tracer
from bedrock_distill.observability import MODEL_DEPLOYMENTS_DELETED
from bedrock_distill.workflow.model_deployment import delete_model_deployment
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class DeleteModelDeploymentRequest(StateModel):
    # The run's deployment name: known before the deployment exists, so a failed create is cleaned up too.
    custom_model_deployment_identifier: str


class DeleteModelDeploymentResponse(StateModel):
    custom_model_deployment_identifier: str
    deleted: bool
    alive_seconds: float | None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=DeleteModelDeploymentRequest)
def handler(event: DeleteModelDeploymentRequest, context: LambdaContext) -> dict[str, Any]:
    deletion = delete_model_deployment(event.custom_model_deployment_identifier, _bedrock)
    metrics.add_metric(name=MODEL_DEPLOYMENTS_DELETED, unit=MetricUnit.Count, value=int(deletion.deleted))
    logger.info(
        "custom model deployment deleted",
        custom_model_deployment_identifier=event.custom_model_deployment_identifier,
        **deletion.model_dump(),
    )
    return DeleteModelDeploymentResponse(
        custom_model_deployment_identifier=event.custom_model_deployment_identifier, **deletion.model_dump()
    ).to_state()
