"""Step Functions as the out-of-band functions use it: start runs, read how they went, release waiting tasks."""

from __future__ import annotations

import json
from typing import Any, Final

from botocore.exceptions import ClientError

from bedrock_distill.aws import LazyClient
from bedrock_distill.workflow.errors import call_aws, error_code, translate_client_error

MISSING = "MISSING"
# DescribeExecution statuses after which nothing more happens (Step Functions API reference, ExecutionStatus).
TERMINAL_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# A task token that no longer waits: its task timed out, or its execution ended.
STALE_TOKEN_ERRORS = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
_FAILURE_EVENT_SUFFIXES = ("Failed", "TimedOut")
_NOTIFY_STATES = {"NotifySuccess", "NotifyFailure"}


class StepFunctionsGateway:
    def __init__(self, client: LazyClient | None = None) -> None:
        self._client = client or LazyClient("stepfunctions")

    @property
    def client(self) -> Any:
        return self._client.client

    def start_execution(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str | None:
        """The new execution's ARN, or None when an execution of that name already exists."""
        try:
            response = self.client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
            )
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                return None
            raise translate_client_error(error, "StartExecution") from error
        return str(response["executionArn"])

    def status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, ...; MISSING once Step Functions no longer knows it (90 days after it ended)."""
        try:
            return str(self.client.describe_execution(executionArn=execution_arn)["status"])
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return MISSING
            raise translate_client_error(error, "DescribeExecution") from error

    def release(self, task_token: str, output: dict[str, Any]) -> bool:
        """Complete a waiting task; False when nothing waits on that token any more."""
        try:
            self.client.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            if error_code(error) in STALE_TOKEN_ERRORS:
                return False
            raise translate_client_error(error, "SendTaskSuccess") from error
        return True

    def history(self, execution_arn: str) -> ExecutionHistory:
        pages = self.client.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn, PaginationConfig={"PageSize": 1000}
        )
        events = call_aws("GetExecutionHistory", lambda: [event for page in pages for event in page["events"]])
        return ExecutionHistory(events)


class ExecutionHistory:
    """An execution's history events, newest first: sorted here by event id rather than trusting
    `reverseOrder` (moto ignores it). At most 25,000 events, and only failures read them."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = sorted(events, key=lambda event: int(event["id"]), reverse=True)

    def failing_state(self) -> str | None:
        """The state whose task or branch failed last: the first state entered before the newest failure."""
        failed = False
        for event in self._events:
            kind = str(event["type"])
            if not failed:
                failed = kind.endswith(_FAILURE_EVENT_SUFFIXES) and not kind.startswith("Execution")
                continue
            if kind.endswith("StateEntered"):
                return str(event["stateEnteredEventDetails"]["name"])
        return None

    def notified(self) -> bool:
        """Whether the execution reached one of its own notification states."""
        return any(
            str(event["type"]).endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] in _NOTIFY_STATES
            for event in self._events
        )
