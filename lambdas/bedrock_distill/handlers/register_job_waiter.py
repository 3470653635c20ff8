"""State `WaitForJobEvent` (a `.waitForTaskToken` task): file the token, under the job's name, for the job's
state-change event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.dynamodb import DynamoDBGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import logger, settings, to_state, tracer
from bedrock_distill.workflow.job_waiter import JobWaiterTable, Waiter, register_job_waiter
from bedrock_distill.workflow.state import StateModel

_bedrock = BedrockGateway()
_executions = StepFunctionsGateway()


class RegisterJobWaiterRequest(StateModel):
    job_name: str
    job_arn: str
    task_token: str
    execution_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RegisterJobWaiterRequest)
def handler(event: RegisterJobWaiterRequest, context: LambdaContext) -> dict[str, Any]:
    waiter = Waiter(
        job_name=event.job_name,
        job_arn=event.job_arn,
        task_token=event.task_token,
        execution_arn=event.execution_arn,
    )
    release = register_job_waiter(
        waiter,
        JobWaiterTable(DynamoDBGateway(settings().job_waiter_table)),
        _bedrock,
        _executions,
        now=datetime.now(UTC),
    )
    logger.info("waiting for the job's state-change event", **release.model_dump())
    return to_state(release)
