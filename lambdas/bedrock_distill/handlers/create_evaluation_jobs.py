"""State `CreateEvaluationJobs`: both sides' evaluation datasets and judge jobs, once per execution."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.handlers.common import logger, metrics, settings, tracer
from bedrock_distill.observability import EVALUATION_JOBS_CREATED
from bedrock_distill.workflow.evaluation import SIDES, create_evaluation_jobs
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()
_s3 = S3Gateway()


class CreateEvaluationJobsRequest(StateModel):
    run: Run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CreateEvaluationJobsRequest)
def handler(event: CreateEvaluationJobsRequest, context: LambdaContext) -> dict[str, Any]:
    evaluation = create_evaluation_jobs(event.run, settings(), _bedrock, _s3)
    metrics.add_metric(name=EVALUATION_JOBS_CREATED, unit=MetricUnit.Count, value=len(SIDES))
    logger.info("evaluation jobs created", **evaluation.to_state())
    return evaluation.to_state()
