"""The sweeper's message (sent only when it deleted something, and what it says) and the metrics its alarms read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from bedrock_distill.handlers import common
from bedrock_distill.observability import (
    MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND,
    OVERDUE_MODEL_DEPLOYMENTS,
    OVERDUE_PROVISIONED_THROUGHPUTS,
    PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
)
from bedrock_distill.workflow.cleanup import (
    SWEPT,
    SWEPT_NEXT_STEP,
    CleanupFailure,
    CleanupIncompleteError,
    CleanupReport,
    sweep_outcome,
)
from bedrock_distill.workflow.run import KEEP_ON_SUCCESS_TAG_KEY, KEEP_ON_SUCCESS_TAG_VALUE
from offline.bedrock_emulator import bedrock_emulator
from offline.bedrock_emulator.clock import LogicalClock
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.cleanup_builders import (
    deployment,
    distilled_on_demand_model,
    live_deployments,
    printed_metrics,
    run_tags,
)
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:BedrockDistill-distillation"


def test_a_sweep_that_deleted_nothing_sends_no_message() -> None:
    # Given a sweep that kept the one PT and the one deployment it found
    report = CleanupReport(kept_provisioned_throughputs=["pt-running"], kept_model_deployments=["deployment-kept"])
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
        "deleted_model_deployments": [],
        "overdue_model_deployments": [],
        "failures": [failure.model_dump()],
    }


def test_a_sweep_that_deleted_only_a_deployment_says_so() -> None:
    # Given a sweep that deleted an overdue custom model deployment, kept another, and found no PT
    report = CleanupReport(
        deleted_model_deployments=["deployment-old"],
        overdue_model_deployments=["deployment-old"],
        kept_model_deployments=["deployment-kept"],
    )
    # When its message is built
    outcome = sweep_outcome(report, STATE_MACHINE)
    # Then there is one, naming the deleted and overdue deployment and not the kept one
    assert outcome is not None
    assert outcome.cleanup is not None
    assert outcome.cleanup["deleted_model_deployments"] == ["deployment-old"]
    assert outcome.cleanup["overdue_model_deployments"] == ["deployment-old"]
    assert "deployment-kept" not in str(outcome.cleanup)


def test_a_report_with_failures_fails_the_invocation_and_one_without_does_not() -> None:
    # Given a complete report and one with a failure
    complete = CleanupReport(deleted_provisioned_throughputs=["pt"])
    incomplete = CleanupReport(failures=[CleanupFailure(arn="pt", operation="Delete", error="Conflict")])
    # When each is checked
    complete.raise_if_incomplete()
    # Then only the incomplete one raises, naming what is left
    with pytest.raises(CleanupIncompleteError, match="Delete pt: Conflict"):
        incomplete.raise_if_incomplete()


def test_the_sweeper_counts_an_overdue_deployment_for_the_alarm_and_leaves_a_kept_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bedrock_distill.handlers import sweep_provisioned_throughputs as sweeper  # noqa: PLC0415 - after the settings

    # Given the sweeper as deployed (12 hours' maximum lifetime), and two deployments two days old: one of a run
    # still RUNNING, one kept by a run that SUCCEEDED
    settings = pipeline_settings(state_machine_arn=STATE_MACHINE, max_provisioned_throughput_seconds=12 * 3600)
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
    common.settings.cache_clear()
    running, succeeded = f"{STATE_MACHINE}:running", f"{STATE_MACHINE}:succeeded"
    statuses = {running: "RUNNING", succeeded: "SUCCEEDED"}
    monkeypatch.setattr(sweeper._executions, "status", statuses.__getitem__)
    three_days_ago = LogicalClock(datetime.now(UTC) - timedelta(days=3))
    with mock_aws(), bedrock_emulator(clock=three_days_ago) as emulator:
        model = distilled_on_demand_model(emulator)  # a day passes
        stuck = deployment(model, "stuck", run_tags(running))
        kept = deployment(model, "kept", run_tags(succeeded) | {KEEP_ON_SUCCESS_TAG_KEY: KEEP_ON_SUCCESS_TAG_VALUE})
        capsys.readouterr()
        # When the scheduled sweep runs now
        result = sweeper.handler({}, LocalLambdaContext(function_name="sweep"))
        # Then the overdue deployment is deleted and counted in the overdue metric the alarm reads; the kept one stays
        assert result["deletedModelDeployments"] == result["overdueModelDeployments"] == [stuck]
        assert live_deployments(emulator) == {kept}
    common.settings.cache_clear()
    metrics = printed_metrics(capsys.readouterr().out)
    assert metrics[OVERDUE_MODEL_DEPLOYMENTS] == 1
    assert metrics[MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND] == 1
    assert metrics[OVERDUE_PROVISIONED_THROUGHPUTS] == metrics[PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND] == 0
