"""State `Preflight`: validate the execution input and the data; decide the run's names and tokens."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, metrics, settings, tracer
from bedrock_distill.observability import TRAINING_RECORDS
from bedrock_distill.workflow.planning import plan_and_check
from bedrock_distill.workflow.preflight import refuse_past_concurrency, reported_when_rejected
from bedrock_distill.workflow.run import ExecutionContext

_s3 = S3Gateway()
_stepfunctions = StepFunctionsGateway()


class PreflightRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    execution: ExecutionContext
    # Whatever the execution was started with: the domain checks it and names each problem.
    execution_input: object = Field(default=None, alias="input")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PreflightRequest)
def handler(event: PreflightRequest, context: LambdaContext) -> dict[str, Any]:
    refuse_past_concurrency(event.execution.id, settings(), _stepfunctions)
    with reported_when_rejected(event.execution, settings(), _s3):
        checked = plan_and_check(event.execution_input, event.execution, settings(), _s3)
    run = checked.run
    metrics.add_metric(name=TRAINING_RECORDS, unit=MetricUnit.Count, value=checked.training_records)
    logger.info(
        "preflight passed",
        job_name=run.job_name,
        training_records=checked.training_records,
        validation_prompts_source=run.validation_prompts_source,
    )
    return run.model_dump(by_alias=True, mode="json")
