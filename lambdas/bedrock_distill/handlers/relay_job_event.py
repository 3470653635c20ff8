"""Bedrock's "Model Customization Job State Change" event -> the execution waiting on that job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from bedrock_distill.gateways.dynamodb import DynamoDBGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, settings, to_state, tracer
from bedrock_distill.workflow.job_waiter import JobWaiterTable, release_job_waiter

_executions = StepFunctionsGateway()


class JobStateChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # The waiter is found by name: the event's jobArn may be spelled unlike the API's (job_waiter.py).
    job_name: str = Field(alias="jobName")
    job_arn: str | None = Field(default=None, alias="jobArn")
    # The status is `jobStatus`, not `status` (bedrock-facts.md).
    job_status: str = Field(alias="jobStatus")


class JobStateChangeEvent(EventBridgeModel):
    detail: JobStateChange


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=JobStateChangeEvent)
def handler(event: JobStateChangeEvent, context: LambdaContext) -> dict[str, Any]:
    release = release_job_waiter(
        event.detail.job_name,
        event.detail.job_status,
        JobWaiterTable(DynamoDBGateway(settings().job_waiter_table)),
        _executions,
        released_by="event",
    )
    logger.info("job state change", event_id=event.id, job_arn=event.detail.job_arn, **release.model_dump())
    return to_state(release)
