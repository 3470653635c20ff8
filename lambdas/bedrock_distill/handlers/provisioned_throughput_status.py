"""State `GetProvisionedThroughputStatus`: Creating, InService or Updating; Failed raises."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, to_state, tracer
from bedrock_distill.workflow.provisioned_throughput import provisioned_throughput_status
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class ProvisionedThroughputStatusRequest(StateModel):
    provisioned_model_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=ProvisionedThroughputStatusRequest)
def handler(event: ProvisionedThroughputStatusRequest, context: LambdaContext) -> dict[str, Any]:
    throughput = provisioned_throughput_status(event.provisioned_model_arn, _bedrock)
    logger.info("provisioned throughput status", arn=throughput.provisioned_model_arn, status=throughput.status)
    return to_state(throughput)
