"""State `Score`: the judge's results, both sides' answers and the configured prices, into the run's scorecard
and a promote/hold decision."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.handlers.common import logger, metrics, settings, to_state, tracer
from bedrock_distill.observability import STUDENT_PROMOTED, STUDENT_SCORE_SHARE
from bedrock_distill.workflow.evaluation import Evaluation
from bedrock_distill.workflow.run import Run, Side
from bedrock_distill.workflow.scorecard import record_scorecard
from bedrock_distill.workflow.state import StateModel

_s3 = S3Gateway()


class AnsweredBy(StateModel):
    """The part of AnswerAsTeacher's and ValidateModel's outputs the scorecard names: what answered."""

    model_id: str | None = None


class ScoreRequest(StateModel):
    run: Run
    evaluation: Evaluation
    teacher: AnsweredBy = AnsweredBy()
    validation: AnsweredBy = AnsweredBy()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ScoreRequest)
def handler(event: ScoreRequest, context: LambdaContext) -> dict[str, Any]:
    served_by: dict[Side, str | None] = {"teacher": event.teacher.model_id, "student": event.validation.model_id}
    summary = record_scorecard(event.run, event.evaluation, settings(), _s3, served_by)
    if summary.student_share is not None:
        metrics.add_metric(name=STUDENT_SCORE_SHARE, unit=MetricUnit.Percent, value=100 * summary.student_share)
    metrics.add_metric(name=STUDENT_PROMOTED, unit=MetricUnit.Count, value=int(summary.decision == "promote"))
    logger.info("scored", **summary.model_dump())
    return to_state(summary)
