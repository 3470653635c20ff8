"""The CleanUpExecution function checks the event itself: only this stack's unhandled ends are acted on; on one
of those it stops the run's jobs, deletes its PTs and deployments, and counts what it did in its metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.gateways.stepfunctions import ExecutionHistory
from bedrock_distill.handlers import common
from bedrock_distill.observability import (
    EVALUATION_JOBS_STOPPED_OUT_OF_BAND,
    JOBS_STOPPED_OUT_OF_BAND,
    MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND,
    PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
)
from bedrock_distill.workflow.run import KEEP_ON_SUCCESS_TAG_KEY, KEEP_ON_SUCCESS_TAG_VALUE
from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.cleanup_builders import (
    deployment,
    distilled_on_demand_model,
    evaluation_job,
    live_deployments,
    printed_metrics,
    run_tags,
)
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:BedrockDistill-distillation"
OTHER_STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:another-team"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[BedrockEmulator]:
    """The function as deployed for STATE_MACHINE, with Bedrock to see that nothing is called."""
    settings = pipeline_settings(state_machine_arn=STATE_MACHINE, idempotency_table="handled-events")
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
    common.settings.cache_clear()
    with mock_aws(), bedrock_emulator() as bedrock:
        yield bedrock
    common.settings.cache_clear()


def _event(state_machine_arn: str, status: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "event-1",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-west-2",
        "resources": [f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:run-1"],
        "detail": {
            "executionArn": f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:run-1",
            "stateMachineArn": state_machine_arn,
            "name": "run-1",
            "status": status,
        },
    }


@pytest.mark.parametrize(
    ("state_machine_arn", "status", "named"),
    [(OTHER_STATE_MACHINE, "ABORTED", OTHER_STATE_MACHINE), (STATE_MACHINE, "SUCCEEDED", "SUCCEEDED")],
    ids=["another state machine", "an end the workflow handles"],
)
def test_the_function_ignores_an_event_it_must_not_act_on(
    emulator: BedrockEmulator, state_machine_arn: str, status: str, named: str
) -> None:
    from bedrock_distill.handlers.clean_up_execution import handler  # noqa: PLC0415 - after the settings

    # When an event arrives that the rule should not have sent
    result = handler(_event(state_machine_arn, status), LocalLambdaContext(function_name="clean-up-execution"))
    # Then the function says it ignored it and why, and called nothing in Bedrock
    assert result["ignored"] is True
    assert named in result["reason"]
    assert emulator.calls == []


class _History:
    """Step Functions' history of the execution, as the function reads it: a run the workflow never reported."""

    def history(self, arn: str) -> ExecutionHistory:
        return ExecutionHistory([])


@pytest.fixture
def idempotency_for_this_test() -> Iterator[None]:
    """The function keeps its idempotency store from its first call on, as a warm Lambda does: forget the one this
    test's settings create, so that other tests' functions get their own."""
    from bedrock_distill.handlers import clean_up_execution  # noqa: PLC0415 - after the settings

    clean_up_execution._clean_up_once.cache_clear()
    yield
    clean_up_execution._clean_up_once.cache_clear()


@pytest.mark.usefixtures("idempotency_for_this_test")
def test_an_aborted_run_loses_its_deployment_even_a_kept_one_and_its_judge_job(
    emulator: BedrockEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bedrock_distill.handlers import clean_up_execution  # noqa: PLC0415 - after the settings

    # Given an execution of this stack with a deployment it was asked to keep and a running evaluation job
    event = _event(STATE_MACHINE, "ABORTED")
    execution_arn = event["detail"]["executionArn"]
    boto3.client("dynamodb").create_table(
        TableName="handled-events",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setattr(clean_up_execution, "_executions", _History())
    kept = {KEEP_ON_SUCCESS_TAG_KEY: KEEP_ON_SUCCESS_TAG_VALUE}
    served = deployment(distilled_on_demand_model(emulator), "served", run_tags(execution_arn) | kept)
    judge = evaluation_job("judge", run_tags(execution_arn))
    capsys.readouterr()
    # When the execution is aborted
    result = clean_up_execution.handler(event, LocalLambdaContext(function_name="clean-up-execution"))
    # Then the deployment is deleted (an aborted run keeps nothing) and the judge job stopped
    assert result["deletedModelDeployments"] == [served]
    assert result["stoppedEvaluationJobs"] == [judge]
    assert live_deployments(emulator) == set()
    assert emulator.evaluation_jobs["judge"].status in {"Stopping", "Stopped"}
    # And the function's metrics count both, beside the PTs and customization jobs (none here)
    assert printed_metrics(capsys.readouterr().out) == {
        PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND: 0,
        MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND: 1,
        JOBS_STOPPED_OUT_OF_BAND: 0,
        EVALUATION_JOBS_STOPPED_OUT_OF_BAND: 1,
    }
