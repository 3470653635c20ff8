"""Per-call error injection and the logical clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from offline.bedrock_emulator import BedrockEmulator, LogicalClock

pytestmark = pytest.mark.unit


def test_throttle_the_nth_call_only(bedrock: Any, emulator: BedrockEmulator) -> None:
    # Given the second listing call is throttled
    emulator.faults.throttle("ListProvisionedModelThroughputs", nth=2)
    # When it is called three times, Then only the second raises ThrottlingException with HTTP 429
    bedrock.list_provisioned_model_throughputs()
    with pytest.raises(bedrock.exceptions.ThrottlingException) as raised:
        bedrock.list_provisioned_model_throughputs()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    bedrock.list_provisioned_model_throughputs()
    assert emulator.call_count("ListProvisionedModelThroughputs") == 3


def test_raise_on_repeats_for_times_calls_then_recovers(runtime: Any, emulator: BedrockEmulator) -> None:
    emulator.faults.raise_on("Converse", "InternalServerException", times=2)
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    for _ in range(2):
        with pytest.raises(runtime.exceptions.InternalServerException) as raised:
            runtime.converse(modelId="amazon.nova-pro-v1:0", messages=messages)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert runtime.converse(modelId="amazon.nova-pro-v1:0", messages=messages)["stopReason"] == "end_turn"


def test_raise_on_forever_until_cleared(bedrock: Any, emulator: BedrockEmulator) -> None:
    emulator.faults.raise_on("GetModelInvocationLoggingConfiguration", "AccessDeniedException", times=None)
    for _ in range(3):
        with pytest.raises(bedrock.exceptions.AccessDeniedException):
            bedrock.get_model_invocation_logging_configuration()
    emulator.faults.clear()
    bedrock.get_model_invocation_logging_configuration()


def test_a_fault_fires_before_validation_and_changes_nothing(bedrock: Any, emulator: BedrockEmulator) -> None:
    emulator.faults.throttle("CreateProvisionedModelThroughput")
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="pt", modelId="amazon.nova-lite-v1:0"
        )
    assert emulator.live_provisioned_throughputs() == []


@pytest.mark.parametrize(
    ("operation", "error_code"),
    [
        pytest.param("ListFoundationModelz", "ThrottlingException", id="unknown operation"),
        pytest.param("GetModelInvocationLoggingConfiguration", "ConflictException", id="error it cannot raise"),
    ],
)
def test_faults_the_service_could_not_produce_are_refused(
    emulator: BedrockEmulator, operation: str, error_code: str
) -> None:
    with pytest.raises(ValueError, match=operation):
        emulator.faults.raise_on(operation, error_code)


def test_the_logical_clock_only_moves_forward_when_told() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = LogicalClock(start)
    assert clock.now() == start
    clock.advance(90)
    assert clock.elapsed_seconds == 90
    assert (clock.now() - start).total_seconds() == 90
    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)
