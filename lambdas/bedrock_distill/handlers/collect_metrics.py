"""State `CollectMetrics`: the job's metric CSVs, into the run's report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.handlers.common import StateModel, logger, tracer
from bedrock_distill.workflow.metrics import collect_metrics
from bedrock_distill.workflow.run import Run

METRICS_REPORT = "metrics.json"

_s3 = S3Gateway()


class CollectMetricsRequest(StateModel):
    run: Run
    job_arn: str


class CollectMetricsResponse(StateModel):
    training_steps: int
    final_training_loss: float | None
    validation_loss: float | None
    report_uri: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=CollectMetricsRequest)
def handler(event: CollectMetricsRequest, context: LambdaContext) -> dict[str, Any]:
    metrics = collect_metrics(event.run.output_s3_uri, event.job_arn, _s3)
    report = S3Location.parse(event.run.report_s3_uri).child(METRICS_REPORT)
    # The full curve goes to S3: a long job's steps would crowd the 256 KB state payload.
    _s3.put_json(report, metrics.model_dump())
    logger.info("job metrics collected", steps=len(metrics.training_steps), final_loss=metrics.final_training_loss)
    return CollectMetricsResponse(
        training_steps=len(metrics.training_steps),
        final_training_loss=metrics.final_training_loss,
        validation_loss=metrics.validation_losses[-1] if metrics.validation_losses else None,
        report_uri=report.uri,
    ).to_state()
