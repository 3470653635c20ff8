"""The app's typed configuration: every invalid value stops synth with a message naming its key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigurationError, DistillConfig

pytestmark = pytest.mark.unit

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


@pytest.fixture
def context() -> dict[str, Any]:
    """The shipped defaults, without CDK's own feature flags."""
    values: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return {key: value for key, value in values.items() if key in DistillConfig.context_keys()}


def test_shipped_defaults_are_valid(context: dict[str, Any]) -> None:
    config = DistillConfig.from_mapping(context)
    assert config.provisioned_model_units == 1
    assert config.notification_email is None


def test_every_context_key_is_shipped_in_cdk_json(context: dict[str, Any]) -> None:
    optional = {"notificationEmail"}
    assert set(DistillConfig.context_keys()) - optional <= set(context)


def test_command_line_strings_are_coerced(context: dict[str, Any]) -> None:
    # Given values as `-c key=value` delivers them: strings
    config = DistillConfig.from_mapping({**context, "provisionedModelUnits": "2", "logRetentionDays": "90"})
    # Then they become typed values
    assert config.provisioned_model_units == 2
    assert config.log_retention_days == 90


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("studentModelId", "amazon.nova-lite-v1:0", "different model families"),
        ("studentModelId", "meta.llama3-1-70b-instruct-v1:0", "not supported for teacher"),
        ("teacherModelId", "meta.llama3-1-8b-instruct-v1:0", "not a supported distillation teacher"),
        ("provisionedModelUnits", 0, "greater than or equal to 1"),
        ("provisionedModelUnits", "two", "valid integer"),
        ("invocationLogPrefix", "/logs", "must not start with '/'"),
        ("invocationLogPrefix", "logs/", "must not end with '/'"),
        ("invocationLogPrefix", "a//b", "segments"),
        ("invocationLogExpirationDays", 0, "greater than or equal to 1"),
        ("maxProvisionedThroughputHours", 0, "greater than or equal to 1"),
        ("jobPollIntervalSeconds", 60, "greater than or equal to 600"),
        ("notificationEmail", "not-an-address", "not an e-mail address"),
        ("logRetentionDays", 31, "CloudWatch Logs accepts only"),
    ],
)
def test_invalid_value_is_one_message_naming_the_key(
    context: dict[str, Any], key: str, value: object, reason: str
) -> None:
    # Given one invalid value
    # When the configuration is read
    with pytest.raises(ConfigurationError) as raised:
        DistillConfig.from_mapping({**context, key: value})
    # Then the single-line message names that context key and the reason
    message = str(raised.value)
    assert message.startswith(f"Invalid configuration: context key '{key}': ")
    assert reason in message
    assert "\n" not in message


def test_missing_key_says_where_to_set_it(context: dict[str, Any]) -> None:
    del context["teacherModelId"]
    with pytest.raises(ConfigurationError, match=r"'teacherModelId': is required: set it in cdk\.json"):
        DistillConfig.from_mapping(context)


def test_unknown_key_is_rejected(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="'teacherModel'"):
        DistillConfig.from_mapping({**context, "teacherModel": "x"})


def test_inference_profile_teacher_pairs_with_its_family(context: dict[str, Any]) -> None:
    config = DistillConfig.from_mapping(
        {
            **context,
            "teacherModelId": "us.amazon.nova-premier-v1:0",
            "studentModelId": "amazon.nova-lite-v1:0:300k",
        }
    )
    assert config.teacher_model_id == "us.amazon.nova-premier-v1:0"
