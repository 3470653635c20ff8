"""State `CreateProvisionedThroughput`: buy no-commitment throughput on the custom model."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, metrics, tracer
from bedrock_distill.observability import PROVISIONED_MODEL_UNITS_CREATED
from bedrock_distill.workflow.provisioned_throughput import create_provisioned_throughput
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class CreateProvisionedThroughputRequest(StateModel):
    run: Run
    custom_model_arn: str


class CreateProvisionedThroughputResponse(StateModel):
    provisioned_model_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CreateProvisionedThroughputRequest)
def handler(event: CreateProvisionedThroughputRequest, context: LambdaContext) -> dict[str, Any]:
    arn = create_provisioned_throughput(event.run, event.custom_model_arn, _bedrock)
    metrics.add_metric(
        name=PROVISIONED_MODEL_UNITS_CREATED, unit=MetricUnit.Count, value=event.run.provisioned_model_units
    )
    logger.info("provisioned throughput requested", provisioned_model_arn=arn)
    return CreateProvisionedThroughputResponse(provisioned_model_arn=arn).to_state()
