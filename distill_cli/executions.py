"""How the CLI names and finds the pipeline's executions (Step Functions calls go through the runtime's gateway)."""

from __future__ import annotations

import re
from typing import Final

from bedrock_distill.gateways.stepfunctions import Execution, StepFunctionsGateway, execution_arn
from distill_cli.errors import OperatorError

# Step Functions allows more characters; these are the ones that stay readable in ARNs, S3 keys and
# the Bedrock names the run derives from the execution name.
EXECUTION_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# How far back in the history the CLI looks for the current state, and for a failure's error and cause.
CURRENT_STATE_EVENTS: Final = 50
FAILURE_EVENTS: Final = 10


def resolve(executions: StepFunctionsGateway, state_machine_arn: str, reference: str | None) -> str:
    """The ARN of the execution named or given by ARN; the newest one when none is given."""
    if reference is None:
        newest = executions.recent(state_machine_arn, 1)
        if not newest:
            raise OperatorError("the pipeline has no executions yet: start one with `distill start`")
        return newest[0].arn
    if reference.startswith("arn:"):
        return reference
    return execution_arn(state_machine_arn, reference)


def described(executions: StepFunctionsGateway, arn: str) -> Execution:
    """The execution, or an error telling the user how to find the right name."""
    execution = executions.describe(arn)
    if execution is None:
        raise OperatorError(f"no execution {arn}: check the name with `distill list`")
    return execution


def current_state(executions: StepFunctionsGateway, arn: str) -> str | None:
    return executions.latest_events(arn, CURRENT_STATE_EVENTS).current_state()


def failure(executions: StepFunctionsGateway, arn: str) -> tuple[str | None, str | None]:
    """(error, cause) from the history, for executions whose description lacks them."""
    return executions.latest_events(arn, FAILURE_EVENTS).failure()
