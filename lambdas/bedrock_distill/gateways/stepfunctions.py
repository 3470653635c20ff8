"""AWS Step Functions: start runs, read how they went, release waiting tasks.

The out-of-band functions and the CLI use this one gateway; errors leave as named errors (`gateways.calls`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from bedrock_distill.gateways.calls import aws_call, aws_call_unless
from bedrock_distill.gateways.clients import LazyClient

SERVICE: Final = "stepfunctions"
MISSING: Final = "MISSING"
# DescribeExecution statuses after which nothing more happens (Step Functions API reference, ExecutionStatus).
# The ends that are not success: the execution's error and cause tell why.
UNSUCCESSFUL_STATUSES: Final = ("FAILED", "TIMED_OUT", "ABORTED")
TERMINAL_STATUSES: Final = frozenset({"SUCCEEDED", *UNSUCCESSFUL_STATUSES})
# A task token that no longer waits: its task timed out, or its execution ended.
STALE_TOKEN_ERRORS: Final = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
ALREADY_EXISTS: Final = "ExecutionAlreadyExists"
DOES_NOT_EXIST: Final = "ExecutionDoesNotExist"
_FAILURE_EVENT_SUFFIXES: Final = ("Failed", "TimedOut")
_NOTIFY_STATES: Final = frozenset({"NotifySuccess", "NotifyFailure"})
_FAILURE_EVENTS: Final = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}


@dataclass(frozen=True)
class Execution:
    """An execution as DescribeExecution (or, without input and output, ListExecutions) tells it."""

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


def state_machine_of(execution_arn: str) -> str:
    """`execution_arn`'s inverse for a Standard execution: `arn:...:execution:<machine>:<name>` is the machine's
    ARN `arn:...:stateMachine:<machine>` and the execution's name, which cannot hold a ':' (Step Functions' naming
    rules)."""
    machine_and_prefix, _, _ = execution_arn.rpartition(":")
    return machine_and_prefix.replace(":execution:", ":stateMachine:", 1)


class StepFunctionsGateway:
    def __init__(self, client: LazyClient | None = None) -> None:
        self._client = client or LazyClient(SERVICE)

    def start_execution(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str | None:
        """The new execution's ARN, or None when an execution of that name already exists."""
        response = self._call_unless(
            {ALREADY_EXISTS},
            "StartExecution",
            "start_execution",
            stateMachineArn=state_machine_arn,
            name=name,
            input=json.dumps(execution_input),
        )
        return str(response["executionArn"]) if response else None

    def describe(self, arn: str) -> Execution | None:
        """The execution; None once Step Functions no longer knows it (never started, or 90 days after it ended)."""
        response = self._call_unless({DOES_NOT_EXIST}, "DescribeExecution", "describe_execution", executionArn=arn)
        if response is None:
            return None
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

    def status(self, arn: str) -> str:
        """RUNNING, SUCCEEDED, ...; MISSING once Step Functions no longer knows it."""
        execution = self.describe(arn)
        return execution.status if execution else MISSING

    def recent(self, state_machine_arn: str, limit: int, status: str | None = None) -> list[Execution]:
        """The newest executions first, without their input and output."""
        request: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": min(limit, 1000)}
        if status:
            request["statusFilter"] = status
        listed = self._call("ListExecutions", "list_executions", **request)["executions"]
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

    def release(self, task_token: str, output: dict[str, Any]) -> bool:
        """Complete a waiting task; False when nothing waits on that token any more."""
        sent = self._call_unless(
            STALE_TOKEN_ERRORS, "SendTaskSuccess", "send_task_success", taskToken=task_token, output=json.dumps(output)
        )
        return sent is not None

    def history(self, arn: str) -> ExecutionHistory:
        """The whole history, through botocore's paginator."""

        def every_event() -> list[dict[str, Any]]:
            pages = self._client.client.get_paginator("get_execution_history").paginate(
                executionArn=arn, PaginationConfig={"PageSize": 1000}
            )
            return [event for page in pages for event in page["events"]]

        return ExecutionHistory(aws_call(SERVICE, "GetExecutionHistory", every_event))

    def latest_events(self, arn: str, count: int) -> ExecutionHistory:
        """The newest `count` events only: what the CLI reads to show where a run is or why it ended."""
        response = self._call(
            "GetExecutionHistory", "get_execution_history", executionArn=arn, reverseOrder=True, maxResults=count
        )
        return ExecutionHistory(response["events"])

    def _call(self, operation: str, method: str, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = aws_call(SERVICE, operation, lambda: getattr(self._client.client, method)(**request))
        return response

    def _call_unless(
        self, codes: Collection[str], operation: str, method: str, **request: Any
    ) -> dict[str, Any] | None:
        response: dict[str, Any] | None = aws_call_unless(
            codes, SERVICE, operation, lambda: getattr(self._client.client, method)(**request)
        )
        return response


class ExecutionHistory:
    """An execution's history events, newest first: sorted here by event id rather than trusting
    `reverseOrder` (moto ignores it). At most 25,000 events, and only failures read them."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = sorted(events, key=lambda event: int(event["id"]), reverse=True)

    def failing_state(self) -> str | None:
        """The state whose task or branch failed last: the first state entered before the newest failure. An
        execution that failed with no state failure of its own (States.Runtime in a Pass or Choice state records
        only ExecutionFailed) failed in the state it entered last; an aborted or timed-out one has no failing state."""
        failed = False
        for event in self._events:
            kind = str(event["type"])
            if not failed:
                failed = kind.endswith(_FAILURE_EVENT_SUFFIXES) and not kind.startswith("Execution")
                continue
            if kind.endswith("StateEntered"):
                return str(event["stateEnteredEventDetails"]["name"])
        if any(event["type"] == "ExecutionFailed" for event in self._events):
            return self.current_state()
        return None

    def notified(self) -> bool:
        """Whether the execution reached one of its own notification states."""
        return any(
            str(event["type"]).endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] in _NOTIFY_STATES
            for event in self._events
        )

    def current_state(self) -> str | None:
        """The state entered last."""
        for event in self._events:
            if str(event.get("type", "")).endswith("StateEntered"):
                return str(event["stateEnteredEventDetails"]["name"])
        return None

    def failure(self) -> tuple[str | None, str | None]:
        """(error, cause) of the execution's final failure event, if it has one."""
        for event in self._events:
            details_key = _FAILURE_EVENTS.get(str(event.get("type")))
            if details_key:
                details = event.get(details_key, {})
                return details.get("error"), details.get("cause")
        return None, None


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None
