"""The sweeper's message: sent only when it deleted something, and what it says."""

from __future__ import annotations

import pytest

from bedrock_distill.workflow.cleanup import (
    SWEPT,
    SWEPT_NEXT_STEP,
    CleanupFailure,
    CleanupIncompleteError,
    CleanupReport,
    sweep_outcome,
)

pytestmark = pytest.mark.unit

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:BedrockDistill-distillation"


def test_a_sweep_that_deleted_nothing_sends_no_message() -> None:
    # Given a sweep that kept the one PT it found
    report = CleanupReport(kept_provisioned_throughputs=["pt-running"])
    # When its message is decided
    # Then there is none
    assert sweep_outcome(report, STATE_MACHINE) is None


def test_a_sweep_that_deleted_a_pt_says_so_and_what_to_look_into() -> None:
    # Given a sweep that deleted an overdue PT and could not delete another
    failure = CleanupFailure(arn="pt-creating", operation="DeleteProvisionedModelThroughput", error="Conflict")
    report = CleanupReport(
        deleted_provisioned_throughputs=["pt-old"],
        overdue_provisioned_throughputs=["pt-old"],
        kept_provisioned_throughputs=["pt-running"],
        failures=[failure],
    )
    # When its message is built
    outcome = sweep_outcome(report, STATE_MACHINE)
    # Then it is a SWEPT message of the state machine, with the next step and the deleted, overdue and failed PTs
    assert outcome is not None
    assert (outcome.status, outcome.execution_arn, outcome.next_step) == (SWEPT, STATE_MACHINE, SWEPT_NEXT_STEP)
    assert outcome.cleanup == {
        "deleted_provisioned_throughputs": ["pt-old"],
        "overdue_provisioned_throughputs": ["pt-old"],
        "failures": [failure.model_dump()],
    }


def test_a_report_with_failures_fails_the_invocation_and_one_without_does_not() -> None:
    # Given a complete report and one with a failure
    complete = CleanupReport(deleted_provisioned_throughputs=["pt"])
    incomplete = CleanupReport(failures=[CleanupFailure(arn="pt", operation="Delete", error="Conflict")])
    # When each is checked
    complete.raise_if_incomplete()
    # Then only the incomplete one raises, naming what is left
    with pytest.raises(CleanupIncompleteError, match="Delete pt: Conflict"):
        incomplete.raise_if_incomplete()
