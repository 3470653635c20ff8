"""The judge's configuration: cdk.json's `evaluation` and `modelPricesUsd` keys are checked against what AWS
documents before anything is synthesized, and what passes reaches the functions as their settings.

Reading the configuration needs no synth: these cases cost milliseconds; the wiring is read off the session's
template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bedrock_distill.workflow.settings import (
    MIN_EVALUATION_POLL_INTERVAL_SECONDS,
    MIN_JOB_POLL_INTERVAL_SECONDS,
    ModelPrice,
    PipelineSettings,
)
from stacks.config import (
    MAX_EVALUATION_HOURS,
    ConfigurationError,
    DistillConfig,
    evaluation_poll_floor_seconds,
    judge_problem,
)
from stacks.pipeline_spec import (
    PROVISIONED_THROUGHPUT_POLL_SECONDS,
    WORKFLOW_FUNCTIONS,
    render_definition,
    substitutions,
)
from stacks.workflow_budget import HISTORY_LIMIT, Waits, worst_case_history
from tests.infra.conftest import CloudAssembly, default_context, render

pytestmark = pytest.mark.infra

REGION = "us-west-2"
NOVA_PRO_PROFILE = "us.amazon.nova-pro-v1:0"


@pytest.fixture
def context() -> dict[str, Any]:
    """cdk.json as shipped, without CDK's own feature flags."""
    return {key: value for key, value in default_context().items() if key in DistillConfig.context_keys()}


def _evaluation(context: dict[str, Any], **changes: object) -> dict[str, Any]:
    return {**context, "evaluation": {**context["evaluation"], **changes}}


def _refusal(values: dict[str, Any], region: str = REGION) -> str:
    with pytest.raises(ConfigurationError) as raised:
        DistillConfig.from_mapping(values, region)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_shipped_judge_is_valid_in_every_region_with_a_default_pair(context: dict[str, Any]) -> None:
    for region in ("us-east-1", "us-west-2"):
        evaluation = DistillConfig.from_mapping(context, region).evaluation
        assert evaluation.judge_model_id == NOVA_PRO_PROFILE
        assert evaluation.metrics == ("Builtin.Correctness", "Builtin.Completeness", "Builtin.Helpfulness")
        assert evaluation.decision_metric == "Builtin.Correctness"
    # And no price ships: prices are the user's
    assert DistillConfig.from_mapping(context, REGION).model_prices_usd == {}


@pytest.mark.parametrize(
    ("key", "changes", "reason"),
    [
        ("judgeModelId", {"judgeModelId": "amazon.titan-text-express-v1"}, "is not a judge AWS supports"),
        ("judgeModelId", {"judgeModelId": "us.anthropic.claude-3-5-haiku-20241022-v1:0"}, "routes to are not in"),
        ("judgeModelId", {"judgeModelId": ""}, "at least 1 character"),
        ("metrics", {"metrics": ["Builtin.Accuracy"]}, "is not a built-in judge metric"),
        ("metrics", {"metrics": ["Builtin.Correctness", "Builtin.Correctness"]}, "names a metric twice"),
        ("metrics", {"metrics": []}, "at least 1 item"),
        ("decisionMetric", {"decisionMetric": "Builtin.Refusal"}, "is not one of evaluation.metrics"),
        ("promoteMinShare", {"promoteMinShare": 0}, "greater than 0"),
        ("promoteMinShare", {"promoteMinShare": 1.5}, "less than or equal to 1"),
        ("maxEvaluationHours", {"maxEvaluationHours": 25}, "less than or equal to 24"),
        ("pollSeconds", {"pollSeconds": 30}, f"greater than or equal to {MIN_EVALUATION_POLL_INTERVAL_SECONDS}"),
        ("judge", {"judge": NOVA_PRO_PROFILE}, "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_judge_setting_is_one_message_naming_its_key(
    context: dict[str, Any], key: str, changes: dict[str, object], reason: str
) -> None:
    message = _refusal(_evaluation(context, **changes))
    assert message.startswith(f"Invalid configuration: context key 'evaluation.{key}': "), message
    assert reason in message, message


def test_a_judge_is_checked_against_the_deploy_region() -> None:
    # A profile is called from the deploy Region: it must route from there (catalog.json, user guide "Supported
    # Regions and models for inference profiles"); the model ID itself is invoked there
    assert judge_problem(NOVA_PRO_PROFILE, "us-west-2") is None
    assert "cannot be called from eu-west-1" in str(judge_problem(NOVA_PRO_PROFILE, "eu-west-1"))
    assert judge_problem("amazon.nova-pro-v1:0", "eu-west-1") is None
    # And no judge runs where Bedrock runs no evaluation jobs (user guide "Supported Regions and models for model
    # evaluation")
    assert "not offered in af-south-1" in str(judge_problem("amazon.nova-pro-v1:0", "af-south-1"))


@pytest.mark.parametrize("hours", [1, MAX_EVALUATION_HOURS])
def test_the_shortest_poll_a_run_may_use_fits_the_history_beside_a_seven_day_job(hours: int) -> None:
    # Given the shortest evaluation poll the stack lets a run use for evaluations of up to `hours`
    floor = evaluation_poll_floor_seconds(hours)
    assert floor >= MIN_EVALUATION_POLL_INTERVAL_SECONDS
    # When a run waits that long at that poll, beside a 7-day job polled as often as any run may (the definition's
    # worst case: every state, every retry, the serving wait)
    waits = Waits(
        job_poll_seconds=MIN_JOB_POLL_INTERVAL_SECONDS,
        serving_poll_seconds=PROVISIONED_THROUGHPUT_POLL_SECONDS,
        evaluation_poll_seconds=floor,
        evaluation_seconds=hours * 3600,
    )
    definition = render_definition(substitutions(dict.fromkeys(WORKFLOW_FUNCTIONS, "arn")))
    # Then its history stays under Step Functions' 25,000 events
    assert worst_case_history(definition, waits) < HISTORY_LIMIT


def test_a_poll_under_the_history_floor_is_refused_naming_the_floor(
    context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a definition whose worst case needs evaluation polls of at least 400 s (a longer one than today's)
    monkeypatch.setattr("stacks.config.evaluation_poll_floor_seconds", lambda hours: 400)
    # Then 300 s polls are refused naming the key, the floor and the way out
    message = _refusal(_evaluation(context, pollSeconds=300))
    assert message.startswith("Invalid configuration: context key 'evaluation.pollSeconds': 300 s polls"), message
    assert "use at least 400, or lower maxEvaluationHours" in message
    assert DistillConfig.from_mapping(_evaluation(context, pollSeconds=400), REGION).evaluation.poll_seconds == 400


def test_evaluation_given_on_the_command_line_is_read_from_json_text(context: dict[str, Any]) -> None:
    # Given `-c evaluation='{...}'` (text), naming only the judge
    judge = "meta.llama3-1-70b-instruct-v1:0"
    config = DistillConfig.from_mapping({**context, "evaluation": json.dumps({"judgeModelId": judge})}, REGION)
    # Then the judge is read and the rest keeps the runtime's defaults
    assert config.evaluation.judge_model_id == judge
    assert config.evaluation.promote_min_share == 0.9
    # And text that is not JSON names the key
    assert _refusal({**context, "evaluation": "{judge"}).startswith(
        "Invalid configuration: context key 'evaluation': is not a JSON object"
    )


def test_prices_are_read_for_the_deployments_models_only(context: dict[str, Any]) -> None:
    # Given prices for the us-west-2 default pair's teacher and student, by their IDs as the pair names them (the
    # scorecard looks them up so)
    prices = {
        "meta.llama3-1-70b-instruct-v1:0": {"inputPerMillionTokens": 0.72, "outputPerMillionTokens": 0.72},
        "meta.llama3-1-8b-instruct-v1:0:128k": {"inputPerMillionTokens": 0.22, "outputPerMillionTokens": 0.22},
    }
    # When they are given as cdk.json holds them and as `-c modelPricesUsd='...'` text
    for given in (prices, json.dumps(prices)):
        config = DistillConfig.from_mapping({**context, "modelPricesUsd": given}, REGION)
        # Then both are read as typed prices
        assert config.model_prices_usd["meta.llama3-1-8b-instruct-v1:0:128k"] == ModelPrice(
            input_per_million_tokens=0.22, output_per_million_tokens=0.22
        )


@pytest.mark.parametrize(
    ("prices", "key", "reason"),
    [
        ({"amazon.nova-pro-v1:0": {"inputPerMillionTokens": 1, "outputPerMillionTokens": 1}}, "", "would never"),
        # The student without its context suffix: not the ID the run names it by
        ({"meta.llama3-1-8b-instruct-v1:0": {"inputPerMillionTokens": 1, "outputPerMillionTokens": 1}}, "", "never"),
        (
            {"meta.llama3-1-70b-instruct-v1:0": {"inputPerMillionTokens": -1, "outputPerMillionTokens": 1}},
            ".meta.llama3-1-70b-instruct-v1:0.inputPerMillionTokens",
            "greater than or equal to 0",
        ),
        (
            {"meta.llama3-1-70b-instruct-v1:0": {"inputPerMillionTokens": 1}},
            ".meta.llama3-1-70b-instruct-v1:0.outputPerMillionTokens",
            "is required",
        ),
        (
            {"meta.llama3-1-70b-instruct-v1:0": {"input": 1, "inputPerMillionTokens": 1, "outputPerMillionTokens": 1}},
            ".meta.llama3-1-70b-instruct-v1:0.input",
            "Extra inputs are not permitted",
        ),
        ("{", "", "is not a JSON object"),
    ],
)
def test_an_invalid_price_is_one_message_naming_its_key(
    context: dict[str, Any], prices: object, key: str, reason: str
) -> None:
    message = _refusal({**context, "modelPricesUsd": prices})
    assert message.startswith(f"Invalid configuration: context key 'modelPricesUsd{key}': "), message
    assert reason in message, message


def test_the_judge_settings_reach_the_functions(assembly: CloudAssembly) -> None:
    # Given the function that creates the evaluation jobs, as synthesized from cdk.json for us-west-2
    (function,) = [
        f for n, f in assembly.of_type("AWS::Lambda::Function").items() if n.startswith("PipelineCreateEvaluationJobs")
    ]
    variables = render(function["Properties"]["Environment"]["Variables"])
    (role_id,) = [n for n in assembly.of_type("AWS::IAM::Role") if n.startswith("EvaluationServiceRole")]
    # When its environment is read as the runtime reads it
    settings = PipelineSettings.from_environment({k: v for k, v in variables.items() if isinstance(v, str)})
    # Then it names the judge, its metrics and decision, the deploy Region, no prices, and the history-safe polls
    evaluation = assembly.context["evaluation"]
    assert settings.judge_model_id == evaluation["judgeModelId"]
    assert settings.judge_metrics == tuple(evaluation["metrics"])
    assert settings.decision_metric == evaluation["decisionMetric"]
    assert settings.promote_min_share == evaluation["promoteMinShare"]
    assert settings.deploy_region == REGION
    assert settings.model_prices_usd == {}
    assert settings.default_evaluation_poll_seconds == evaluation["pollSeconds"]
    assert settings.max_evaluation_seconds == evaluation["maxEvaluationHours"] * 3600
    assert settings.min_evaluation_poll_seconds == evaluation_poll_floor_seconds(evaluation["maxEvaluationHours"])
    # And the evaluation role is the stack's own
    assert variables["EVALUATION_ROLE_ARN"] == f"${{{role_id}.Arn}}"
