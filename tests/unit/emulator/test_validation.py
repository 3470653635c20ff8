"""The service's own validation: the model's constraints botocore skips, and Bedrock's extra rules."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from bedrock_emulator import BedrockEmulator
from tests.unit.emulator.builders import distillation_request, invocation_logs_source

pytestmark = pytest.mark.unit

PROMPTS = {"s3Uri": "s3://distill-data/train/prompts.jsonl"}


def _rejected(bedrock: Any, request: dict[str, Any]) -> str:
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        bedrock.create_model_customization_job(**request)
    message: str = raised.value.response["Error"]["Message"]
    return message


def test_botocore_itself_rejects_a_request_missing_a_required_member(bedrock: Any, emulator: BedrockEmulator) -> None:
    request = distillation_request(PROMPTS)
    del request["roleArn"]
    with pytest.raises(ParamValidationError, match="roleArn"):
        bedrock.create_model_customization_job(**request)
    assert emulator.calls == []


@pytest.mark.parametrize(
    ("override", "named"),
    [
        pytest.param({"jobName": "-starts-with-a-dash"}, "jobName", id="job name pattern"),
        pytest.param({"jobName": "j" * 64}, "jobName", id="job name longer than 63"),
        pytest.param({"clientRequestToken": "ends-with-dash-"}, "clientRequestToken", id="token pattern"),
        pytest.param({"customizationType": "DISTILLING"}, "customizationType", id="unknown enum value"),
    ],
)
def test_model_constraints_botocore_leaves_to_the_service(
    bedrock: Any, emulator: BedrockEmulator, override: dict[str, Any], named: str
) -> None:
    assert named in _rejected(bedrock, distillation_request(PROMPTS, **override))
    assert emulator.jobs == {}


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        pytest.param({"equals": {"project": "a", "stage": "b"}}, "equals", id="two entries in equals"),
        pytest.param({"andAll": [{"equals": {f"k{i}": "v"}} for i in range(17)]}, "andAll", id="17 filters"),
        pytest.param({"equals": {"project#": "a"}}, "equals.key", id="character outside the key set"),
        pytest.param({"notEquals": {"project": "x" * 257}}, "notEquals.project", id="value longer than 256"),
        pytest.param(
            {"orAll": [{"equals": {"a": "1"}, "notEquals": {"b": "2"}}]}, "orAll.1", id="two operators in one filter"
        ),
    ],
)
def test_request_metadata_filter_rules(
    bedrock: Any, emulator: BedrockEmulator, filters: dict[str, Any], named: str
) -> None:
    assert named in _rejected(bedrock, distillation_request(invocation_logs_source(filters)))


def test_two_operators_at_the_top_are_refused_by_botocores_union_check(bedrock: Any) -> None:
    filters = {"equals": {"a": "1"}, "notEquals": {"b": "2"}}
    with pytest.raises(ParamValidationError, match="union"):
        bedrock.create_model_customization_job(**distillation_request(invocation_logs_source(filters)))


def test_sixteen_single_entry_filters_are_accepted(bedrock: Any, emulator: BedrockEmulator) -> None:
    filters = {"orAll": [{"equals": {f"key-{i}": "value"}} for i in range(16)]}
    bedrock.create_model_customization_job(**distillation_request(invocation_logs_source(filters)))
    assert list(emulator.jobs) == ["distill-job-1"]


def test_distillation_requires_a_distillation_config(bedrock: Any) -> None:
    request = distillation_request(PROMPTS)
    del request["customizationConfig"]
    assert "distillationConfig" in _rejected(bedrock, request)


def test_training_data_needs_exactly_one_source(bedrock: Any) -> None:
    both = PROMPTS | invocation_logs_source()
    assert "exactly one" in _rejected(bedrock, distillation_request(both))
    assert "exactly one" in _rejected(bedrock, distillation_request({}))


def test_hyper_parameters_must_be_positive_integers(bedrock: Any) -> None:
    message = _rejected(bedrock, distillation_request(PROMPTS, hyperParameters={"epochCount": "two"}))
    assert "epochCount" in message


def test_converse_request_metadata_is_validated(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationException, match="requestMetadata"):
        runtime.converse(
            modelId="amazon.nova-pro-v1:0",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
            requestMetadata={"key": "bad\u00e9value"},
        )
