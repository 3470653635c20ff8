"""Which state an execution failed in, read from its history as Step Functions records it."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_distill.gateways.stepfunctions import ExecutionHistory

pytestmark = pytest.mark.unit


def _entered(event_id: int, state: str, kind: str = "TaskStateEntered") -> dict[str, Any]:
    return {"id": event_id, "type": kind, "stateEnteredEventDetails": {"name": state}}


def _event(event_id: int, kind: str) -> dict[str, Any]:
    return {"id": event_id, "type": kind}


def test_a_task_failure_names_the_task_even_after_the_catch_moved_on() -> None:
    # Given a task that failed, and the Catch's route entered after it (events in any order: sorted by id)
    history = ExecutionHistory(
        [
            _entered(4, "NotifyFailure"),
            _event(3, "TaskFailed"),
            _entered(2, "CreateJob"),
            _entered(1, "Preflight"),
            _event(5, "ExecutionFailed"),
        ]
    )
    # Then the failing state is the task, not where the failure path went
    assert history.failing_state() == "CreateJob"


def test_a_runtime_error_in_a_pass_state_names_the_state_it_happened_in() -> None:
    # Given States.Runtime in a Pass state: Step Functions records no state failure, only ExecutionFailed
    history = ExecutionHistory(
        [
            _entered(1, "GetProvisionedThroughputStatus"),
            _event(2, "TaskStateExited"),
            _entered(3, "StudentOnProvisionedThroughput", "PassStateEntered"),
            _event(4, "ExecutionFailed"),
        ]
    )
    # Then it failed in the state it entered last
    assert history.failing_state() == "StudentOnProvisionedThroughput"


def test_an_aborted_execution_has_no_failing_state() -> None:
    history = ExecutionHistory([_entered(1, "WaitForJobEvent"), _event(2, "ExecutionAborted")])
    assert history.failing_state() is None
