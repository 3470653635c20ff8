"""An upload under the trigger prefix (S3 "Object Created" via EventBridge) -> one execution per object version."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, metrics, settings, to_state, tracer
from bedrock_distill.observability import DUPLICATE_UPLOAD_EVENTS, EXECUTIONS_STARTED_FROM_UPLOADS
from bedrock_distill.workflow.uploads import UploadedObject, start_run_for

_s3 = S3Gateway()
_executions = StepFunctionsGateway()
# The metric each outcome counts; an ignored upload counts nowhere.
_OUTCOME_METRICS = {"started": EXECUTIONS_STARTED_FROM_UPLOADS, "duplicate": DUPLICATE_UPLOAD_EVENTS}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=S3EventNotificationEventBridgeModel)
def handler(event: S3EventNotificationEventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    detail = event.detail
    upload = UploadedObject(
        bucket=detail.bucket.name,
        key=detail.object.key,
        version_id=detail.object.version_id,
        etag=detail.object.etag or None,
        sequencer=detail.object.sequencer,
    )
    outcome = start_run_for(upload, settings().upload_trigger_prefix, settings().state_machine_arn, _s3, _executions)
    if metric := _OUTCOME_METRICS.get(outcome.action):
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    logger.info("upload handled", **outcome.model_dump())
    return to_state(outcome)
