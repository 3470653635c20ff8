"""State `ValidateModel`: the held-out prompts through Converse on the student (its deployment or PT)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.handlers.common import logger, metrics, to_state, tracer
from bedrock_distill.observability import VALIDATION_PROMPTS_FAILED
from bedrock_distill.workflow.reports import record_validation
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_s3 = S3Gateway()
_runtime = BedrockRuntimeGateway()


class ValidateModelRequest(StateModel):
    run: Run
    # The custom model deployment's ARN (on demand) or the Provisioned Throughput's: Converse's modelId either way.
    model_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateModelRequest)
def handler(event: ValidateModelRequest, context: LambdaContext) -> dict[str, Any]:
    summary = record_validation(event.run, event.model_arn, _runtime, _s3)
    metrics.add_metric(name=VALIDATION_PROMPTS_FAILED, unit=MetricUnit.Count, value=summary.failed)
    logger.info("validation finished", **summary.model_dump())
    return to_state(summary)
