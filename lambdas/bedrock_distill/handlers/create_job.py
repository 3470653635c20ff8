"""State `CreateJob`: start the distillation job, once per execution."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.handlers.common import logger, metrics, settings, tracer
from bedrock_distill.observability import JOBS_CREATED
from bedrock_distill.workflow.jobs import create_job
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()


class CreateJobRequest(StateModel):
    run: Run


class CreateJobResponse(StateModel):
    job_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CreateJobRequest)
def handler(event: CreateJobRequest, context: LambdaContext) -> dict[str, Any]:
    job_arn = create_job(event.run, settings(), _bedrock)
    metrics.add_metric(name=JOBS_CREATED, unit=MetricUnit.Count, value=1)
    logger.info("distillation job created", job_arn=job_arn, job_name=event.run.job_name)
    return CreateJobResponse(job_arn=job_arn).to_state()
