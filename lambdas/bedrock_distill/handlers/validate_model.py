"""State `ValidateModel`: held-out prompts through Converse on the Provisioned Throughput."""

from __future__ import annotations

from itertools import islice
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.handlers.common import StateModel, logger, metrics, to_state, tracer
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.validation import (
    ValidationPrompt,
    ValidationPromptsOrigin,
    prompts_from_conversation_records,
    run_validation,
)

VALIDATION_REPORT = "validation.json"

_s3 = S3Gateway()
_runtime = BedrockRuntimeGateway()


class ValidateModelRequest(StateModel):
    run: Run
    provisioned_model_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateModelRequest)
def handler(event: ValidateModelRequest, context: LambdaContext) -> dict[str, Any]:
    run = event.run
    summary = run_validation(
        model_id=event.provisioned_model_arn,
        prompts=_validation_prompts(run),
        origin=ValidationPromptsOrigin.of(run),
        max_tokens=run.max_response_length_for_inference,
        report_location=S3Location.parse(run.report_s3_uri).child(VALIDATION_REPORT),
        runtime=_runtime,
        s3=_s3,
    )
    metrics.add_metric(name="ValidationPromptsFailed", unit=MetricUnit.Count, value=summary.failed)
    logger.info("validation finished", **summary.model_dump())
    return to_state(summary)


def _validation_prompts(run: Run) -> list[ValidationPrompt]:
    """The run's validation prompts: given, or held out of its training prompts by Preflight. Never
    records the job trained on."""
    lines = _s3.iter_lines(S3Location.parse(run.validation_prompts))
    return prompts_from_conversation_records(islice(lines, run.validation_sample_size * 2), run.validation_sample_size)
