"""The app's typed configuration: every invalid value stops synth with a message naming its key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.catalog import ModelPair
from stacks.config import ConfigurationError, DistillConfig, deploy_environment

pytestmark = pytest.mark.unit

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
REGION = "us-west-2"
LLAMA = {"teacherModelId": "meta.llama3-1-70b-instruct-v1:0", "studentModelId": "meta.llama3-1-8b-instruct-v1:0:128k"}


@pytest.fixture
def context() -> dict[str, Any]:
    """The shipped defaults, without CDK's own feature flags."""
    values: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return {key: value for key, value in values.items() if key in DistillConfig.context_keys()}


def test_shipped_defaults_are_valid(context: dict[str, Any]) -> None:
    config = DistillConfig.from_mapping(context, REGION)
    assert config.provisioned_model_units == 1
    assert config.notification_email is None


@pytest.mark.parametrize(
    ("region", "pair"),
    [
        ("us-west-2", ModelPair("meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-8b-instruct-v1:0:128k")),
        ("us-east-1", ModelPair("amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0:300k")),
    ],
)
def test_models_left_empty_are_the_regions_default_pair(context: dict[str, Any], region: str, pair: ModelPair) -> None:
    # Given cdk.json as shipped: teacherModelId and studentModelId empty, no further pairs
    assert (context["teacherModelId"], context["studentModelId"], context["allowedModelPairs"]) == ("", "", [])
    # When it is read for a deploy Region
    config = DistillConfig.from_mapping(context, region)
    # Then the models are that Region's default pair, the only pair allowed
    assert ModelPair(config.teacher_model_id, config.student_model_id) == pair
    assert config.model_pairs == (pair,)


def test_one_model_without_the_other_is_refused(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DistillConfig.from_mapping({**context, "studentModelId": "meta.llama3-2-1b-instruct-v1:0:128k"}, REGION)
    message = str(raised.value)
    assert "context keys 'teacherModelId' and 'studentModelId': set both, or leave both empty" in message
    assert "meta.llama3-1-70b-instruct-v1:0 -> meta.llama3-1-8b-instruct-v1:0:128k" in message


def test_a_region_without_distillation_has_no_default(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"eu-west-1 has no default pair: Bedrock offers no distillation"):
        DistillConfig.from_mapping(context, "eu-west-1")


def test_every_context_key_is_shipped_in_cdk_json(context: dict[str, Any]) -> None:
    optional = {"notificationEmail"}
    assert set(DistillConfig.context_keys()) - optional <= set(context)
    # The deploy Region is the stack's environment, not a context key
    assert "region" not in DistillConfig.context_keys()


def test_command_line_strings_are_coerced(context: dict[str, Any]) -> None:
    # Given values as `-c key=value` delivers them: strings
    strings = {"provisionedModelUnits": "2", "maxProvisionedModelUnits": "2", "logRetentionDays": "90"}
    config = DistillConfig.from_mapping({**context, **strings}, REGION)
    # Then they become typed values
    assert config.provisioned_model_units == 2
    assert config.max_provisioned_model_units == 2
    assert config.log_retention_days == 90


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("studentModelId", "amazon.nova-lite-v1:0:300k", "different model families"),
        ("studentModelId", "meta.llama3-1-70b-instruct-v1:0:128k", "not supported for teacher"),
        ("studentModelId", "meta.llama3-1-8b-instruct-v1:0", "name the student with its context length"),
        ("teacherModelId", "meta.llama3-1-8b-instruct-v1:0", "not a supported distillation teacher"),
        ("teacherModelId", "meta.llama3-3-70b-instruct-v1:0", "only as the inference profile"),
        ("allowedModelPairs", "[{", "is not a JSON list"),
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
    # Given one invalid value (beside the Llama pair, so a model key is checked against its partner)
    # When the configuration is read
    with pytest.raises(ConfigurationError) as raised:
        DistillConfig.from_mapping({**context, **LLAMA, key: value}, REGION)
    # Then the single-line message names that context key and the reason
    message = str(raised.value)
    assert message.startswith(f"Invalid configuration: context key '{key}': ")
    assert reason in message
    assert "\n" not in message


def test_missing_key_says_where_to_set_it(context: dict[str, Any]) -> None:
    del context["logRetentionDays"]
    with pytest.raises(ConfigurationError, match=r"'logRetentionDays': is required: set it in cdk\.json"):
        DistillConfig.from_mapping(context, REGION)


def test_unknown_key_is_rejected(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="'teacherModel'"):
        DistillConfig.from_mapping({**context, "teacherModel": "x"}, REGION)


def test_inference_profile_teacher_pairs_with_its_family(context: dict[str, Any]) -> None:
    config = DistillConfig.from_mapping(
        {
            **context,
            "teacherModelId": "us.amazon.nova-premier-v1:0",
            "studentModelId": "amazon.nova-lite-v1:0:300k",
        },
        "us-east-1",
    )
    assert config.teacher_model_id == "us.amazon.nova-premier-v1:0"


def test_a_pair_not_offered_in_the_deploy_region_names_where_it_is(context: dict[str, Any]) -> None:
    # Given the Llama pair, which Bedrock offers in us-west-2 only, deployed to us-east-1
    with pytest.raises(ConfigurationError) as raised:
        DistillConfig.from_mapping({**context, **LLAMA}, "us-east-1")
    # Then one line names where the pair is offered and what is offered here
    message = str(raised.value)
    assert message.startswith("Invalid configuration: context key 'studentModelId': ")
    assert "is offered only in us-west-2, not in us-east-1" in message
    assert "pairs offered in us-east-1: amazon.nova-pro-v1:0 -> amazon.nova-lite-v1:0:300k" in message
    assert "\n" not in message


def test_allowed_pairs_come_after_the_configured_one_from_json_text(context: dict[str, Any]) -> None:
    # Given further pairs as `-c allowedModelPairs='[...]'` delivers them, one repeating the configured pair
    pairs = [
        {"teacher": "us.meta.llama3-3-70b-instruct-v1:0", "student": "meta.llama3-2-3b-instruct-v1:0:128k"},
        {"teacher": LLAMA["teacherModelId"], "student": LLAMA["studentModelId"]},
    ]
    config = DistillConfig.from_mapping({**context, **LLAMA, "allowedModelPairs": json.dumps(pairs)}, REGION)
    # Then every pair is allowed once, the configured one first
    assert config.model_pairs == (
        ModelPair(LLAMA["teacherModelId"], LLAMA["studentModelId"]),
        ModelPair("us.meta.llama3-3-70b-instruct-v1:0", "meta.llama3-2-3b-instruct-v1:0:128k"),
    )


def test_an_allowed_pair_without_its_student_names_the_item(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DistillConfig.from_mapping({**context, "allowedModelPairs": [{"teacher": LLAMA["teacherModelId"]}]}, REGION)
    assert str(raised.value) == "Invalid configuration: context key 'allowedModelPairs.0.student': is required"


def test_an_allowed_pair_not_offered_in_the_region_is_refused_by_position(context: dict[str, Any]) -> None:
    pairs = [
        {"teacher": "meta.llama3-1-70b-instruct-v1:0", "student": "meta.llama3-2-1b-instruct-v1:0:128k"},
        {"teacher": "us.amazon.nova-premier-v1:0", "student": "amazon.nova-lite-v1:0:300k"},
    ]
    with pytest.raises(ConfigurationError) as raised:
        DistillConfig.from_mapping({**context, "allowedModelPairs": pairs}, REGION)
    message = str(raised.value)
    assert message.startswith("Invalid configuration: context key 'allowedModelPairs': pair 1 (us.amazon.nova-premier")
    assert "is offered only in us-east-1, not in us-west-2" in message


def test_the_deploy_region_is_the_cdk_clis_and_nothing_else() -> None:
    # Given the variables the CDK CLI sets
    environment = deploy_environment({"CDK_DEFAULT_REGION": "us-east-1", "CDK_DEFAULT_ACCOUNT": "111122223333"})
    assert (environment.region, environment.account) == ("us-east-1", "111122223333")
    # And an account-agnostic one
    assert deploy_environment({"CDK_DEFAULT_REGION": "us-west-2"}).account is None
    # When none is set, an AWS SDK Region is not taken instead: one line says how to set it
    with pytest.raises(ConfigurationError) as raised:
        deploy_environment({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2"})
    message = str(raised.value)
    assert message.startswith("No deploy Region: CDK_DEFAULT_REGION is not set.")
    assert "CDK_DEFAULT_REGION=us-west-2" in message
    assert "\n" not in message
