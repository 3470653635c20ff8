"""The execution-end cleanup's decisions: which events it acts on, when it reports, and what its message says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import ExecutionHistory, StepFunctionsGateway
from bedrock_distill.workflow.cleanup import CleanupIncompleteError, CleanupReport
from bedrock_distill.workflow.execution_end import (
    EXECUTION_EVENT_SOURCE,
    EXECUTION_STATUS_CHANGE,
    NEXT_STEPS_BY_STATUS,
    ExecutionEnd,
    IgnoredEvent,
    clean_up_after,
    end_outcome,
    execution_end,
)
from bedrock_distill.workflow.notify import Notifier, Outcome
from bedrock_distill.workflow.run import EXECUTION_TAG_KEY, PROJECT_TAG_KEY, PROJECT_TAG_VALUE
from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator

pytestmark = pytest.mark.unit

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:BedrockDistill-distillation"
OTHER_STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:someone-elses"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:BedrockDistill-distillation:run-1"


def _detail(status: str = "ABORTED", state_machine_arn: str = STATE_MACHINE) -> dict[str, Any]:
    return {"executionArn": EXECUTION, "stateMachineArn": state_machine_arn, "status": status, "name": "run-1"}


def _end(
    detail: dict[str, Any], source: str = EXECUTION_EVENT_SOURCE, detail_type: str = EXECUTION_STATUS_CHANGE
) -> ExecutionEnd | IgnoredEvent:
    return execution_end(source, detail_type, detail, STATE_MACHINE)


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_an_unhandled_end_of_this_state_machine_is_cleaned_up_after(status: str) -> None:
    # Given a status-change event of this stack's state machine, ending in a way its Catch cannot see
    # When the cleanup decides
    end = _end(_detail(status))
    # Then it acts on it
    assert end == ExecutionEnd(execution_arn=EXECUTION, state_machine_arn=STATE_MACHINE, status=status)


def test_another_state_machines_execution_is_ignored() -> None:
    # Given an aborted execution of another state machine (a rule edited by hand, a wrong target)
    # When the cleanup decides
    end = _end(_detail("ABORTED", OTHER_STATE_MACHINE))
    # Then it ignores the event and says whose execution it was
    assert isinstance(end, IgnoredEvent)
    assert OTHER_STATE_MACHINE in end.reason


@pytest.mark.parametrize("status", ["SUCCEEDED", "RUNNING", "PENDING_REDRIVE"])
def test_an_end_the_workflow_handles_itself_is_ignored(status: str) -> None:
    # Given a status change of this state machine that is not an unhandled end
    # When the cleanup decides
    end = _end(_detail(status))
    # Then it ignores the event, naming the status
    assert isinstance(end, IgnoredEvent)
    assert status in end.reason


def test_an_event_that_is_not_an_execution_status_change_is_ignored() -> None:
    # Given a Bedrock job event, and a status change whose detail lacks the state machine
    job_event = _end({"jobName": "j", "jobStatus": "Failed"}, source="aws.bedrock", detail_type="Job State Change")
    no_state_machine = _end({"executionArn": EXECUTION, "status": "ABORTED"})
    # When the cleanup decides
    # Then it ignores both, saying why
    assert isinstance(job_event, IgnoredEvent)
    assert "aws.bedrock" in job_event.reason
    assert isinstance(no_state_machine, IgnoredEvent)
    assert "stateMachineArn" in no_state_machine.reason


def test_without_a_configured_state_machine_nothing_is_acted_on() -> None:
    # Given a function deployed without its state machine's ARN
    # When an otherwise valid end arrives
    end = execution_end(EXECUTION_EVENT_SOURCE, EXECUTION_STATUS_CHANGE, _detail(), "")
    # Then it is ignored rather than trusted
    assert isinstance(end, IgnoredEvent)
    assert "STATE_MACHINE_ARN" in end.reason


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_the_message_for_an_unhandled_end_says_what_happened_and_what_was_cleaned_up(status: str) -> None:
    # Given an unhandled end and what the cleanup deleted and stopped
    end = ExecutionEnd(execution_arn=EXECUTION, state_machine_arn=STATE_MACHINE, status=status, error="States.Timeout")
    report = CleanupReport(
        deleted_provisioned_throughputs=["pt"], stopped_jobs=["job"], kept_provisioned_throughputs=["x"]
    )
    # When the message is built
    outcome = end_outcome(end, "WaitForProvisionedThroughput", report)
    # Then it carries the status, the failing state, the error, the status's next step and the cleanup lists only
    assert outcome.status == status
    assert outcome.failing_state == "WaitForProvisionedThroughput"
    assert outcome.error == "States.Timeout"
    assert outcome.next_step == NEXT_STEPS_BY_STATUS[status]
    assert outcome.cleanup == {"deleted_provisioned_throughputs": ["pt"], "stopped_jobs": ["job"]}


class _Executions(StepFunctionsGateway):
    def __init__(self, states_entered: list[str]) -> None:
        self._states_entered = states_entered

    def history(self, arn: str) -> ExecutionHistory:
        return ExecutionHistory(
            [
                {"id": index, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}
                for index, name in enumerate(self._states_entered, start=1)
            ]
        )


class _Outbox(Notifier):
    def __init__(self) -> None:
        self.sent: list[Outcome] = []

    def publish(self, outcome: Outcome) -> str | None:
        self.sent.append(outcome)
        return "message-1"


@pytest.fixture
def emulator() -> Iterator[BedrockEmulator]:
    with mock_aws(), bedrock_emulator(provisioning_seconds=600) as bedrock:
        yield bedrock


def _execution_pt(name: str) -> str:
    response: dict[str, Any] = boto3.client("bedrock").create_provisioned_model_throughput(
        modelUnits=1,
        provisionedModelName=name,
        modelId="meta.llama3-1-8b-instruct-v1:0",
        tags=[{"key": PROJECT_TAG_KEY, "value": PROJECT_TAG_VALUE}, {"key": EXECUTION_TAG_KEY, "value": EXECUTION}],
    )
    return str(response["provisionedModelArn"])


ABORTED = ExecutionEnd(execution_arn=EXECUTION, state_machine_arn=STATE_MACHINE, status="ABORTED")


def test_an_end_the_workflow_never_reported_is_reported_once_after_the_cleanup(emulator: BedrockEmulator) -> None:
    # Given an aborted execution with a PT, stopped before any notification state
    pt = _execution_pt("aborted")
    outbox = _Outbox()
    # When the cleanup runs
    cleanup = clean_up_after(ABORTED, BedrockGateway(), _Executions(["Preflight", "WaitForJob"]), outbox)
    # Then the PT is gone and one message lists it
    assert cleanup.deleted_provisioned_throughputs == [pt]
    assert cleanup.notified
    (outcome,) = outbox.sent
    assert outcome.cleanup == {"deleted_provisioned_throughputs": [pt], "stopped_jobs": []}
    assert outcome.failing_state is None


def test_an_end_the_workflow_reported_itself_gets_no_second_message(emulator: BedrockEmulator) -> None:
    # Given an execution that reached its own NotifyFailure before it ended
    outbox = _Outbox()
    # When the cleanup runs
    cleanup = clean_up_after(ABORTED, BedrockGateway(), _Executions(["Preflight", "NotifyFailure"]), outbox)
    # Then it sends nothing
    assert not cleanup.notified
    assert outbox.sent == []


def test_an_incomplete_cleanup_fails_without_a_message(emulator: BedrockEmulator) -> None:
    # Given a PT of the execution that cannot be deleted yet
    _execution_pt("creating")
    emulator.faults.conflict_on_delete("creating", times=None)
    outbox = _Outbox()
    # When the cleanup runs
    # Then it fails, to be retried, and has sent nothing: the retry sends the one message
    with pytest.raises(CleanupIncompleteError):
        clean_up_after(ABORTED, BedrockGateway(), _Executions(["Preflight"]), outbox)
    assert outbox.sent == []
