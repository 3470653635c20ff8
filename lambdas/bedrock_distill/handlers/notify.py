"""States `NotifySuccess` and `NotifyFailure`: one SNS message per execution outcome."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.handlers.common import StateModel, logger, settings, tracer
from bedrock_distill.workflow.errors import WorkflowError
from bedrock_distill.workflow.notify import Notifier, Outcome, estimated_cost, failure_outcome

_executions = StepFunctionsGateway()


class StateError(BaseModel):
    """What a Catch puts at its ResultPath."""

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")


class Serving(StateModel):
    validation: dict[str, Any] | None = None


class RunState(StateModel):
    """The execution's state when it ends; which parts exist depends on how far it got."""

    job: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    serving: Serving | None = None
    deletion: dict[str, Any] | None = None
    failure: StateError | None = None


class NotifyRequest(StateModel):
    status: str
    execution_arn: str
    state: RunState


class NotifyResponse(StateModel):
    message_id: str | None
    outcome: dict[str, Any]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=NotifyRequest)
def handler(event: NotifyRequest, context: LambdaContext) -> dict[str, Any]:
    outcome = _outcome(event)
    message_id = Notifier(settings().notification_topic_arn).publish(outcome)
    logger.info("outcome published", status=outcome.status, message_id=message_id)
    return NotifyResponse(message_id=message_id, outcome=outcome.model_dump(exclude_none=True)).to_state()


def _outcome(event: NotifyRequest) -> Outcome:
    state = event.state
    if state.failure is not None:
        outcome = failure_outcome(event.execution_arn, state.failure.error, _readable_cause(state.failure.cause))
        outcome = outcome.model_copy(update={"failing_state": _failing_state(event.execution_arn)})
    else:
        outcome = Outcome(status=event.status, execution_arn=event.execution_arn)
    job = state.job or {}
    deletion = state.deletion or {}
    alive = deletion.get("aliveSeconds")
    rate = settings().provisioned_throughput_hourly_rate_usd
    units = deletion.get("modelUnits")
    return outcome.model_copy(
        update={
            "job_arn": job.get("jobArn"),
            "custom_model_arn": job.get("outputModelArn"),
            "final_training_loss": (state.metrics or {}).get("finalTrainingLoss"),
            "validation": state.serving.validation if state.serving else None,
            "provisioned_throughput_hours": round(alive / 3600, 3) if alive is not None else None,
            "estimated_provisioned_throughput_cost_usd": (
                estimated_cost(alive, units, rate) if alive is not None and units and rate > 0 else None
            ),
        }
    )


def _failing_state(execution_arn: str) -> str | None:
    """Best effort: a message without the state name beats no message."""
    try:
        return _executions.history(execution_arn).failing_state()
    except WorkflowError as error:
        logger.warning("could not read the execution's history", error=str(error))
        return None


def _readable_cause(cause: str) -> str:
    """A Lambda error's cause is its JSON error payload; the message is what a person needs."""
    try:
        payload = json.loads(cause)
    except ValueError:
        return cause
    return str(payload.get("errorMessage", cause)) if isinstance(payload, dict) else cause
