"""State `DeleteProvisionedThroughput`: idempotent; ConflictException is retried by the state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, metrics, tracer
from bedrock_distill.observability import PROVISIONED_THROUGHPUTS_DELETED
from bedrock_distill.workflow.provisioned_throughput import delete_provisioned_throughput
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class DeleteProvisionedThroughputRequest(StateModel):
    # The ARN once known; before that the name the run chose, so a failed create is cleaned up too.
    provisioned_model_id: str


class DeleteProvisionedThroughputResponse(StateModel):
    provisioned_model_id: str
    deleted: bool
    model_units: int | None
    alive_seconds: float | None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=DeleteProvisionedThroughputRequest)
def handler(event: DeleteProvisionedThroughputRequest, context: LambdaContext) -> dict[str, Any]:
    deletion = delete_provisioned_throughput(event.provisioned_model_id, _bedrock)
    metrics.add_metric(name=PROVISIONED_THROUGHPUTS_DELETED, unit=MetricUnit.Count, value=int(deletion.deleted))
    logger.info(
        "provisioned throughput deleted", provisioned_model_id=event.provisioned_model_id, **deletion.model_dump()
    )
    return DeleteProvisionedThroughputResponse(
        provisioned_model_id=event.provisioned_model_id, **deletion.model_dump()
    ).to_state()
