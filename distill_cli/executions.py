"""The pipeline's Step Functions executions: start one, find one by name or ARN, read what it did."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from bedrock_distill.aws import LazyClient
from bedrock_distill.gateways.stepfunctions import TERMINAL_STATUSES
from bedrock_distill.workflow.errors import error_code
from distill_cli.errors import OperatorError, aws_errors

# Step Functions allows more characters; these are the ones that stay readable in ARNs, S3 keys and
# the Bedrock names the run derives from the execution name.
EXECUTION_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_FAILURE_EVENTS: Final = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}


@dataclass(frozen=True)
class Execution:
    arn: str
    name: str
    status: str
    start: datetime
    stop: datetime | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def elapsed(self, now: datetime) -> timedelta:
        return (self.stop or now) - self.start

    def section(self, *path: str) -> dict[str, Any]:
        """A part of the output (``section("serving", "validation")``); empty when the run never got there."""
        value: Any = self.output or {}
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value if isinstance(value, dict) else {}


def execution_arn(state_machine_arn: str, name: str) -> str:
    """An execution's ARN from its state machine's and its name, as Step Functions builds it."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


class ExecutionsGateway:
    def __init__(self, stepfunctions: LazyClient) -> None:
        self._stepfunctions = stepfunctions

    @property
    def client(self) -> Any:
        return self._stepfunctions.client

    def start(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str:
        with aws_errors(f"StartExecution {name}"):
            response = self.client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
            )
        return str(response["executionArn"])

    def describe(self, arn: str) -> Execution:
        with aws_errors(f"execution {arn}"):
            try:
                response: dict[str, Any] = self.client.describe_execution(executionArn=arn)
            except Exception as error:
                if error_code(error) == "ExecutionDoesNotExist":
                    raise OperatorError(f"no execution {arn}: check the name with `distill list`") from error
                raise
        return Execution(
            arn=response["executionArn"],
            name=response["name"],
            status=response["status"],
            start=response["startDate"],
            stop=response.get("stopDate"),
            input=_json_object(response.get("input")),
            output=_json_object(response.get("output")),
            error=response.get("error"),
            cause=response.get("cause"),
        )

    def recent(self, state_machine_arn: str, limit: int, status: str | None = None) -> list[Execution]:
        """The newest executions first, without their input and output."""
        request: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": min(limit, 1000)}
        if status:
            request["statusFilter"] = status
        with aws_errors("ListExecutions"):
            listed = self.client.list_executions(**request)["executions"]
        executions = [
            Execution(
                arn=item["executionArn"],
                name=item["name"],
                status=item["status"],
                start=item["startDate"],
                stop=item.get("stopDate"),
            )
            for item in listed
        ]
        return sorted(executions, key=lambda execution: execution.start, reverse=True)[:limit]

    def resolve(self, state_machine_arn: str, reference: str | None) -> str:
        """The ARN of the execution named or given by ARN; the newest one when none is given."""
        if reference is None:
            newest = self.recent(state_machine_arn, 1)
            if not newest:
                raise OperatorError("the pipeline has no executions yet: start one with `distill start`")
            return newest[0].arn
        if reference.startswith("arn:"):
            return reference
        return execution_arn(state_machine_arn, reference)

    def current_state(self, arn: str) -> str | None:
        """The state the execution entered last."""
        with aws_errors(f"GetExecutionHistory {arn}"):
            events = self.client.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=50)["events"]
        # The newest by id: a server that ignores reverseOrder still answers correctly.
        entered = [event for event in events if event.get("type", "").endswith("StateEntered")]
        if not entered:
            return None
        return str(max(entered, key=lambda event: event["id"])["stateEnteredEventDetails"]["name"])

    def failure(self, arn: str) -> tuple[str | None, str | None]:
        """(error, cause) from the history's final event, for executions whose description lacks them."""
        with aws_errors(f"GetExecutionHistory {arn}"):
            events = self.client.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=10)["events"]
        endings = [event for event in events if event.get("type") in _FAILURE_EVENTS]
        if not endings:
            return None, None
        ending = max(endings, key=lambda event: event["id"])
        details = ending.get(_FAILURE_EVENTS[ending["type"]], {})
        return details.get("error"), details.get("cause")


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None
