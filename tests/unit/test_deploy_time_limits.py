"""The deploy-time policy a run cannot leave: model units, the invocation-log scope, runs at once.

Each limit is checked when the run is planned or in Preflight, before anything exists in Bedrock; a settings file
gets its problems as `FILE:LINE: field: reason`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedrock_distill.gateways.stepfunctions import Execution, StepFunctionsGateway, state_machine_of
from bedrock_distill.preflight.filters import check_filter, filter_matches
from bedrock_distill.workflow.dataset_settings import load_dataset_settings
from bedrock_distill.workflow.errors import InvalidExecutionInput, PreflightFailed
from bedrock_distill.workflow.jobs import job_request
from bedrock_distill.workflow.log_scope import scoped_filter
from bedrock_distill.workflow.preflight import refuse_past_concurrency
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, plan_run
from bedrock_distill.workflow.settings import PipelineSettings
from stacks.config import ConfigurationError, DistillConfig
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:BedrockDistill-distillation"
EXECUTION = ExecutionContext(
    id="arn:aws:states:us-west-2:123456789012:execution:BedrockDistill-distillation:run-1", name="run-1"
)
SETTINGS_URI = "s3://inputs/datasets/incoming/tickets.json"
SCOPE = {"project": "support"}
LIMITED = pipeline_settings(max_provisioned_model_units=1, invocation_log_scope=SCOPE, max_concurrent_runs=2)


def _logs_input(request_metadata_filters: dict[str, Any] | None = None, **more: object) -> ExecutionInput:
    logs: dict[str, Any] = {}
    if request_metadata_filters is not None:
        logs["requestMetadataFilters"] = request_metadata_filters
    return ExecutionInput.model_validate(
        {"trainingData": {"invocationLogs": logs}, "validationPrompts": "s3://inputs/datasets/held-out.jsonl", **more}
    )


def _prompts_input(**more: object) -> ExecutionInput:
    return ExecutionInput.model_validate({"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}, **more})


# maxProvisionedModelUnits ------------------------------------------------------------------------------------------


def test_a_run_asking_for_more_model_units_than_the_deployment_allows_is_refused_naming_the_limit() -> None:
    with pytest.raises(
        ValueError, match=r"input\.provisionedModelUnits: 1000 model units .* maxProvisionedModelUnits = 1"
    ):
        plan_run(_prompts_input(provisionedModelUnits=1000), EXECUTION, LIMITED)
    # At the limit, and by the deployment's default, the run is planned
    assert plan_run(_prompts_input(provisionedModelUnits=1), EXECUTION, LIMITED).provisioned_model_units == 1
    assert plan_run(_prompts_input(), EXECUTION, LIMITED).provisioned_model_units == 1


def test_a_settings_file_asking_for_more_model_units_is_refused_at_its_line() -> None:
    text = '{\n  "provisionedModelUnits": 1000000000\n}'
    with pytest.raises(InvalidExecutionInput) as refused:
        load_dataset_settings(text, SETTINGS_URI, LIMITED)
    assert str(refused.value).startswith(f"{SETTINGS_URI}:2: provisionedModelUnits: 1000000000 model units")
    assert "maxProvisionedModelUnits = 1" in str(refused.value)


# invocationLogScope -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_filter", "effective"),
    [
        # Without a filter of its own, the run reads the scope alone
        (None, {"equals": {"project": "support"}}),
        # A condition on another key narrows the scope
        ({"equals": {"team": "a"}}, {"andAll": [{"equals": {"project": "support"}}, {"equals": {"team": "a"}}]}),
        # The "notEquals on a made-up value", which selected every record of the account
        (
            {"notEquals": {"project": "made-up"}},
            {"andAll": [{"equals": {"project": "support"}}, {"notEquals": {"project": "made-up"}}]},
        ),
        # Restating the scope changes nothing
        ({"equals": {"project": "support"}}, {"equals": {"project": "support"}}),
        (
            {"andAll": [{"equals": {"project": "support"}}, {"notEquals": {"split": "test"}}]},
            {"andAll": [{"equals": {"project": "support"}}, {"notEquals": {"split": "test"}}]},
        ),
    ],
)
def test_a_runs_filter_is_anded_with_the_scope(run_filter: dict[str, Any] | None, effective: dict[str, Any]) -> None:
    assert scoped_filter(run_filter, SCOPE) == (effective, [])


def test_without_a_scope_the_runs_filter_is_sent_as_given() -> None:
    assert scoped_filter({"orAll": [{"equals": {"a": "b"}}]}, {}) == ({"orAll": [{"equals": {"a": "b"}}]}, [])
    assert scoped_filter(None, {}) == (None, [])


@pytest.mark.parametrize(
    ("run_filter", "rendered"),
    [
        ({"equals": {"project": "billing"}}, "equals.project: this deployment confines runs to project=support"),
        (
            {"andAll": [{"equals": {"team": "a"}}, {"equals": {"project": "billing"}}]},
            "andAll[1].equals.project: this deployment confines runs to project=support",
        ),
        ({"notEquals": {"project": "support"}}, "notEquals.project: this deployment confines runs to project=support"),
        ({"orAll": [{"equals": {"project": "support"}}]}, "orAll: this deployment confines runs to project=support"),
        (
            {"andAll": [{"notEquals": {"n": str(index)}} for index in range(16)]},
            "andAll: with this deployment's 1 scope condition(s) the filter would hold 17 conditions",
        ),
    ],
)
def test_a_filter_that_would_leave_or_empty_the_scope_is_refused(run_filter: dict[str, Any], rendered: str) -> None:
    effective, violations = scoped_filter(run_filter, SCOPE)
    assert effective is None
    assert violations[0].render().startswith(rendered)


BASE_FILTERS = st.one_of(
    st.builds(lambda k, v: {"equals": {k: v}}, st.sampled_from(["project", "team"]), st.sampled_from(["support", "x"])),
    st.builds(
        lambda k, v: {"notEquals": {k: v}}, st.sampled_from(["project", "team"]), st.sampled_from(["support", "x"])
    ),
)
RUN_FILTERS = st.one_of(
    BASE_FILTERS,
    st.builds(lambda items: {"andAll": items}, st.lists(BASE_FILTERS, min_size=1, max_size=4)),
    st.builds(lambda items: {"orAll": items}, st.lists(BASE_FILTERS, min_size=1, max_size=4)),
)
METADATA = st.dictionaries(st.sampled_from(["project", "team"]), st.sampled_from(["support", "x", "billing"]))


@given(run_filter=RUN_FILTERS, metadata=METADATA)
def test_an_effective_filter_selects_only_records_in_the_scope_and_in_the_runs_filter(
    run_filter: dict[str, Any], metadata: dict[str, str]
) -> None:
    effective, violations = scoped_filter(run_filter, SCOPE)
    if effective is None:
        assert violations
        return
    # Bedrock accepts it, and it selects exactly what both select: a run only narrows the scope
    assert check_filter(effective) == []
    in_both = metadata.get("project") == "support" and filter_matches(run_filter, metadata)
    assert filter_matches(effective, metadata) is in_both


def test_the_job_request_carries_the_effective_filter_planned_once() -> None:
    run = plan_run(_logs_input({"notEquals": {"project": "made-up"}}), EXECUTION, LIMITED)
    effective = {"andAll": [{"equals": {"project": "support"}}, {"notEquals": {"project": "made-up"}}]}
    # Preflight's log scan reads the run's training data config, as the job request does
    assert run.training_data_config["invocationLogsConfig"]["requestMetadataFilters"] == effective
    request = job_request(run, LIMITED)
    assert request["trainingDataConfig"]["invocationLogsConfig"]["requestMetadataFilters"] == effective
    # Without a filter of its own, the run reads the scope alone
    unfiltered = plan_run(_logs_input(), EXECUTION, LIMITED)
    assert unfiltered.training_data_config["invocationLogsConfig"]["requestMetadataFilters"] == {"equals": SCOPE}


def test_an_execution_input_filter_outside_the_scope_is_refused_when_the_run_is_planned() -> None:
    with pytest.raises(ValueError, match="confines runs") as refused:
        plan_run(_logs_input({"equals": {"project": "billing"}}), EXECUTION, LIMITED)
    assert str(refused.value) == (
        "input.trainingData.invocationLogs.requestMetadataFilters.equals.project: "
        "this deployment confines runs to project=support"
    )


def test_a_settings_file_filter_outside_the_scope_is_refused_at_its_line() -> None:
    text = '{\n  "filter": {"equals": {"project": "billing"}}\n}'
    with pytest.raises(InvalidExecutionInput) as refused:
        load_dataset_settings(text, SETTINGS_URI, LIMITED)
    assert (
        str(refused.value)
        == f"{SETTINGS_URI}:2: filter.equals.project: this deployment confines runs to project=support"
    )


def test_the_scope_and_limits_reach_the_functions_through_their_environment() -> None:
    environment = LIMITED.to_environment()
    assert environment["INVOCATION_LOG_SCOPE"] == '{"project": "support"}'
    assert (environment["MAX_PROVISIONED_MODEL_UNITS"], environment["MAX_CONCURRENT_RUNS"]) == ("1", "2")
    assert PipelineSettings.from_environment(environment) == LIMITED


# maxConcurrentRuns --------------------------------------------------------------------------------------------------


class _Running(StepFunctionsGateway):
    """ListExecutions answering with these RUNNING executions of the state machine."""

    def __init__(self, *names: str) -> None:
        super().__init__()
        self.names = names
        self.asked: list[tuple[str, int, str | None]] = []

    def recent(self, state_machine_arn: str, limit: int, status: str | None = None) -> list[Execution]:
        self.asked.append((state_machine_arn, limit, status))
        started = datetime(2026, 1, 1, tzinfo=UTC)
        executions = [
            Execution(
                arn=f"{STATE_MACHINE.replace(':stateMachine:', ':execution:')}:{name}",
                name=name,
                status="RUNNING",
                start=started,
            )
            for name in self.names
        ]
        return executions[:limit]


def test_the_state_machine_is_known_from_the_execution_arn() -> None:
    assert state_machine_of(EXECUTION.id) == STATE_MACHINE


def test_a_run_past_the_concurrency_limit_fails_preflight_naming_the_limit() -> None:
    running = _Running("run-1", "a", "b")
    with pytest.raises(
        PreflightFailed, match=r"at most maxConcurrentRuns = 2 run\(s\) at once, and 2 are running \(a, b\)"
    ):
        refuse_past_concurrency(EXECUTION.id, LIMITED, running)
    # It asked for the running executions of its own state machine only
    assert running.asked == [(STATE_MACHINE, 3, "RUNNING")]


def test_a_run_within_the_concurrency_limit_passes_and_does_not_count_itself() -> None:
    refuse_past_concurrency(EXECUTION.id, LIMITED, _Running("run-1", "a"))
    # And a deployment without a limit does not ask
    unlimited = _Running("a", "b", "c")
    refuse_past_concurrency(EXECUTION.id, pipeline_settings(), unlimited)
    assert unlimited.asked == []


# The stack's configuration ----------------------------------------------------------------------------------------

REGION = "us-west-2"
# cdk.json's own context keys (the CDK's hold a ':').
CDK_JSON_CONTEXT: dict[str, Any] = {
    key: value
    for key, value in json.loads((Path(__file__).parents[2] / "cdk.json").read_text())["context"].items()
    if ":" not in key
}


def test_cdk_json_sets_the_safe_defaults() -> None:
    config = DistillConfig.from_mapping(CDK_JSON_CONTEXT, REGION)
    assert (config.max_provisioned_model_units, config.max_concurrent_runs) == (1, 2)
    assert config.invocation_log_scope == {}  # the whole account's logs
    assert config.upload_function_reserved_concurrency == 1


def test_a_default_above_the_model_unit_limit_is_refused_naming_both_keys() -> None:
    with pytest.raises(ConfigurationError) as refused:
        DistillConfig.from_mapping({**CDK_JSON_CONTEXT, "provisionedModelUnits": 2}, REGION)
    assert str(refused.value) == (
        "Invalid configuration: context key 'provisionedModelUnits': 2 is above maxProvisionedModelUnits (1): "
        "lower it or raise the limit"
    )


def test_a_scope_arrives_as_json_text_from_the_command_line() -> None:
    config = DistillConfig.from_mapping({**CDK_JSON_CONTEXT, "invocationLogScope": '{"project": "support"}'}, REGION)
    assert config.invocation_log_scope == SCOPE


@pytest.mark.parametrize(
    ("scope", "reason"),
    [
        ('{"project": ', "is not a JSON object"),
        ({"pro ject!": "x"}, "'pro ject!': key may contain only"),
        ({f"k{index}": "v" for index in range(17)}, "holds 17 keys"),
    ],
)
def test_a_scope_bedrock_could_not_filter_by_is_refused(scope: object, reason: str) -> None:
    with pytest.raises(ConfigurationError, match="context key 'invocationLogScope'") as refused:
        DistillConfig.from_mapping({**CDK_JSON_CONTEXT, "invocationLogScope": scope}, REGION)
    assert reason in str(refused.value)
