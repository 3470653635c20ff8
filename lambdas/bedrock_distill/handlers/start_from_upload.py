"""An upload under the input prefix (S3 "Object Created" via EventBridge) -> one execution per object version."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel

from bedrock_distill.handlers.common import logger, metrics, settings, to_state, tracer
from bedrock_distill.observability import DUPLICATE_UPLOAD_EVENTS, EXECUTIONS_STARTED_FROM_UPLOADS
from bedrock_distill.s3 import S3Gateway
from bedrock_distill.workflow.errors import error_code, translate_client_error
from bedrock_distill.workflow.executions import StepFunctionsGateway
from bedrock_distill.workflow.uploads import UploadedObject, decide, execution_input

_s3 = S3Gateway()
_executions = StepFunctionsGateway()


class UploadOutcome(BaseModel):
    object_uri: str
    action: str
    reason: str
    execution_arn: str | None = None


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
    decision = decide(upload, settings().upload_trigger_prefix)
    if decision.action == "ignore" or decision.execution_name is None:
        outcome = UploadOutcome(object_uri=upload.uri, action="ignored", reason=decision.reason)
    else:
        document = execution_input(upload, settings_exist=_exists(upload.bucket, upload.settings_key))
        execution_arn = _executions.start_execution(settings().state_machine_arn, decision.execution_name, document)
        if execution_arn is None:
            metrics.add_metric(name=DUPLICATE_UPLOAD_EVENTS, unit=MetricUnit.Count, value=1)
            outcome = UploadOutcome(
                object_uri=upload.uri, action="duplicate", reason=f"{decision.execution_name} already exists"
            )
        else:
            metrics.add_metric(name=EXECUTIONS_STARTED_FROM_UPLOADS, unit=MetricUnit.Count, value=1)
            outcome = UploadOutcome(
                object_uri=upload.uri, action="started", reason=decision.reason, execution_arn=execution_arn
            )
    logger.info("upload handled", **outcome.model_dump())
    return to_state(outcome)


def _exists(bucket: str, key: str) -> bool:
    try:
        _s3.client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise translate_client_error(error, "HeadObject") from error
    return True
