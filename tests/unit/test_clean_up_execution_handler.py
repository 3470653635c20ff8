"""The CleanUpExecution function checks the event itself: only this stack's unhandled ends are acted on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from bedrock_distill.handlers import common
from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator
from offline.lambda_runtime import LocalLambdaContext
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
