"""Converse and model-invocation logging."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from offline.bedrock_emulator import BedrockEmulator
from tests.unit.emulator.builders import (
    ACCOUNT_ID,
    BUCKET,
    PROVISIONING_SECONDS,
    REGION,
    client,
    keys_under,
    read_gzip_json_lines,
)

pytestmark = pytest.mark.unit

QUESTION = [{"role": "user", "content": [{"text": "How does knowledge distillation shrink a language model?"}]}]
LOGGING = {"s3Config": {"bucketName": BUCKET, "keyPrefix": "invocations"}, "textDataDeliveryEnabled": True}


def _text(response: dict[str, Any]) -> str:
    text: str = response["output"]["message"]["content"][0]["text"]
    return text


def test_converse_answers_deterministically_per_model_and_prompt(runtime: Any) -> None:
    # Given the same question, When it is asked twice of one model and once of another
    first = runtime.converse(modelId="amazon.nova-pro-v1:0", messages=QUESTION)
    again = runtime.converse(modelId="amazon.nova-pro-v1:0", messages=QUESTION)
    other = runtime.converse(modelId="us.amazon.nova-premier-v1:0", messages=QUESTION)
    # Then one model always says the same, readable text about the question, and models differ
    assert _text(first) == _text(again)
    assert _text(first) != _text(other)
    assert any(word in _text(first) for word in ("knowledge", "distillation", "shrink", "language"))
    assert first["stopReason"] == "end_turn"
    usage = first["usage"]
    assert usage["inputTokens"] > 0
    assert usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert first["metrics"]["latencyMs"] > 0


def test_a_smaller_model_generates_faster_than_a_larger_one(runtime: Any) -> None:
    # Given the same question to a teacher-sized and a student-sized model of one family
    def milliseconds_per_token(model: str) -> float:
        response = runtime.converse(modelId=model, messages=QUESTION)
        latency_ms: float = response["metrics"]["latencyMs"]
        output_tokens: int = response["usage"]["outputTokens"]
        return (latency_ms - 150) / output_tokens

    # Then the smaller one spends less time per output token (so a scorecard can tell them apart)
    assert milliseconds_per_token("amazon.nova-lite-v1:0") < milliseconds_per_token("amazon.nova-pro-v1:0")
    assert milliseconds_per_token("meta.llama3-1-8b-instruct-v1:0") < milliseconds_per_token(
        "meta.llama3-1-70b-instruct-v1:0"
    )


def test_max_tokens_truncates_the_answer(runtime: Any) -> None:
    full = runtime.converse(modelId="amazon.nova-pro-v1:0", messages=QUESTION)
    short = runtime.converse(modelId="amazon.nova-pro-v1:0", messages=QUESTION, inferenceConfig={"maxTokens": 5})
    assert short["stopReason"] == "max_tokens"
    assert short["usage"]["outputTokens"] <= 5 < full["usage"]["outputTokens"]


def test_converse_on_a_provisioned_throughput_needs_it_in_service(
    bedrock: Any, runtime: Any, emulator: BedrockEmulator
) -> None:
    pt_arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt", modelId="amazon.nova-lite-v1:0"
    )["provisionedModelArn"]
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        runtime.converse(modelId=pt_arn, messages=QUESTION)
    emulator.clock.advance(PROVISIONING_SECONDS)
    assert _text(runtime.converse(modelId=pt_arn, messages=QUESTION))
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.converse(modelId=pt_arn, messages=QUESTION)


def test_converse_writes_invocation_logs_in_bedrocks_layout(
    bedrock: Any, runtime: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given logging to the bucket under a prefix
    bedrock.put_model_invocation_logging_configuration(loggingConfig=LOGGING)
    # When a model is called with request metadata
    response = runtime.converse(
        modelId="amazon.nova-pro-v1:0",
        messages=QUESTION,
        system=[{"text": "Answer briefly."}],
        inferenceConfig={"maxTokens": 200},
        requestMetadata={"project": "distill", "execution": "exec-1"},
    )
    # Then one gzip JSON-lines object lands under the dated Bedrock key layout
    now = emulator.clock.now()
    keys = [key for key in keys_under(s3, "invocations/") if key.endswith(".json.gz")]
    assert len(keys) == 1
    expected_dir = f"invocations/AWSLogs/{ACCOUNT_ID}/BedrockModelInvocationLogs/{REGION}/{now:%Y/%m/%d/%H}/"
    assert keys[0].startswith(expected_dir)
    assert keys[0].removeprefix(expected_dir).startswith(f"{now:%Y%m%dT%H%M%S}")
    # And the record has Bedrock's shape, with the request and the answer
    [record] = read_gzip_json_lines(s3, keys[0])
    assert record["schemaType"] == "ModelInvocationLog"
    assert record["schemaVersion"] == "1.0"
    assert record["operation"] == "Converse"
    assert record["modelId"] == "amazon.nova-pro-v1:0"
    assert record["accountId"] == ACCOUNT_ID
    assert record["region"] == REGION
    assert record["identity"]["arn"].startswith(f"arn:aws:sts::{ACCOUNT_ID}:")
    assert record["requestId"]
    assert record["timestamp"].startswith(f"{now:%Y-%m-%dT%H:%M}")
    assert record["requestMetadata"] == {"project": "distill", "execution": "exec-1"}
    assert record["input"]["inputContentType"] == "application/json"
    assert record["input"]["inputBodyJson"]["messages"] == QUESTION
    assert record["input"]["inputBodyJson"]["system"] == [{"text": "Answer briefly."}]
    assert record["input"]["inputTokenCount"] == response["usage"]["inputTokens"]
    assert record["output"]["outputBodyJson"]["output"]["message"]["content"][0]["text"] == _text(response)
    assert record["output"]["outputBodyJson"]["stopReason"] == response["stopReason"]
    assert record["output"]["outputTokenCount"] == response["usage"]["outputTokens"]


def test_no_logs_without_text_delivery_or_after_delete(bedrock: Any, runtime: Any, s3: Any) -> None:
    bedrock.put_model_invocation_logging_configuration(loggingConfig=LOGGING | {"textDataDeliveryEnabled": False})
    runtime.converse(modelId="amazon.nova-pro-v1:0", messages=QUESTION)
    bedrock.put_model_invocation_logging_configuration(loggingConfig=LOGGING)
    bedrock.delete_model_invocation_logging_configuration()
    runtime.converse(modelId="amazon.nova-pro-v1:0", messages=QUESTION)
    assert [key for key in keys_under(s3, "invocations/") if key.endswith(".json.gz")] == []


def test_logging_configuration_round_trips_and_checks_the_bucket(bedrock: Any, s3: Any) -> None:
    # Given no configuration
    assert "loggingConfig" not in bedrock.get_model_invocation_logging_configuration()
    # When ours is put, Then it reads back and Bedrock's permission check object is in the bucket
    bedrock.put_model_invocation_logging_configuration(loggingConfig=LOGGING)
    assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == LOGGING
    assert keys_under(s3, "invocations/") == ["invocations/amazon-bedrock-logs-permission-check"]
    # And a bucket that does not exist is refused
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.put_model_invocation_logging_configuration(
            loggingConfig={"s3Config": {"bucketName": "no-such-log-bucket"}, "textDataDeliveryEnabled": True}
        )
    assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == LOGGING
    bedrock.delete_model_invocation_logging_configuration()
    assert "loggingConfig" not in bedrock.get_model_invocation_logging_configuration()


def test_simulated_latency_overlaps_across_threads(s3: Any) -> None:
    # Given a model that takes 1 s to answer
    with BedrockEmulator(converse_latency_seconds=1.0):
        runtime = client("bedrock-runtime")
        # When four threads call it at once
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(
                pool.map(lambda _: _text(runtime.converse(modelId="amazon.nova-pro-v1:0", messages=QUESTION)), range(4))
            )
        elapsed = time.perf_counter() - started
    # Then they waited in parallel, not in turn (4 s), and all got the answer; the margin is for a loaded machine
    # (make test runs two pytest processes at once), where client set-up alone has taken most of a second
    assert 1.0 <= elapsed < 3.0
    assert len(set(answers)) == 1
