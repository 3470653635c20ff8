"""State `CollectMetrics`: the job's metric CSVs, into the run's report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.handlers.common import logger, to_state, tracer
from bedrock_distill.workflow.reports import record_job_metrics
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.state import StateModel

_s3 = S3Gateway()


class CollectMetricsRequest(StateModel):
    run: Run
    job_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=CollectMetricsRequest)
def handler(event: CollectMetricsRequest, context: LambdaContext) -> dict[str, Any]:
    summary = record_job_metrics(event.run, event.job_arn, _s3)
    logger.info("job metrics collected", steps=summary.training_steps, final_loss=summary.final_training_loss)
    return to_state(summary)
