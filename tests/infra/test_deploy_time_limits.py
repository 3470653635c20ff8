"""The deploy-time limits in the template: they reach the functions, Preflight may count running executions,
the upload function has reserved concurrency, and a default above its limit stops synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.workflow.settings import PipelineSettings
from stacks.config import STACK_ID
from tests.infra.conftest import CloudAssembly, as_list, render, run_app

pytestmark = pytest.mark.infra

STATE_MACHINE_ARN = (
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:BedrockDistill-distillation"
)


def _function(resources: dict[str, dict[str, Any]], prefix: str) -> dict[str, Any]:
    (function,) = [
        resource
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function" and logical_id.startswith(prefix)
    ]
    return function


def _settings_of(resources: dict[str, dict[str, Any]], prefix: str) -> PipelineSettings:
    variables = _function(resources, prefix)["Properties"]["Environment"]["Variables"]
    return PipelineSettings.from_environment({key: str(value) for key, value in variables.items()})


def test_the_limits_reach_every_function_as_cdk_json_sets_them(assembly: CloudAssembly) -> None:
    # Given cdk.json's defaults: 1 model unit, 2 runs at once, no scope (the whole account's logs)
    for prefix in ("PipelinePreflightFunction", "TriggersStartFromUploadFunction"):
        settings = _settings_of(assembly.resources, prefix)
        assert settings.max_provisioned_model_units == 1, prefix
        assert settings.max_concurrent_runs == 2, prefix
        assert settings.invocation_log_scope == {}, prefix


def test_preflight_may_list_the_executions_of_its_state_machine_only(assembly: CloudAssembly) -> None:
    grants = {
        (action, resource)
        for logical_id, policy in assembly.of_type("AWS::IAM::Policy").items()
        if logical_id.startswith("PipelinePreflightRole")
        for statement in render(as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
        for action in as_list(statement["Action"])
        if action.startswith("states:")
        for resource in as_list(statement["Resource"])
    }
    assert grants == {("states:ListExecutions", STATE_MACHINE_ARN)}


def test_only_the_upload_function_has_reserved_concurrency(assembly: CloudAssembly) -> None:
    reserved = {
        logical_id: function["Properties"]["ReservedConcurrentExecutions"]
        for logical_id, function in assembly.of_type("AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in function["Properties"]
    }
    assert list(reserved.values()) == [1]
    assert next(iter(reserved)).startswith("TriggersStartFromUploadFunction")


def test_a_default_above_the_model_unit_limit_stops_synth_with_one_line(tmp_path: Path) -> None:
    # Given `-c provisionedModelUnits=3` with cdk.json's maxProvisionedModelUnits of 1
    result = run_app(tmp_path, {"provisionedModelUnits": "3"})
    # Then synth stops with one line naming the key and the limit, and writes no template
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Invalid configuration: context key 'provisionedModelUnits': 3 is above maxProvisionedModelUnits (1): "
        "lower it or raise the limit"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / f"{STACK_ID}.template.json").exists()


def test_a_scope_and_limits_given_on_the_command_line_reach_the_functions(tmp_path: Path) -> None:
    # Given the limits as `-c key=value` delivers them: text
    context = {
        "invocationLogScope": '{"project": "support"}',
        "maxProvisionedModelUnits": "4",
        "maxConcurrentRuns": "3",
        "uploadFunctionReservedConcurrency": "0",
    }
    result = run_app(tmp_path, context)
    assert result.returncode == 0, result.stderr
    resources = json.loads((tmp_path / f"{STACK_ID}.template.json").read_text())["Resources"]
    # Then Preflight knows them
    settings = _settings_of(resources, "PipelinePreflightFunction")
    assert settings.invocation_log_scope == {"project": "support"}
    assert (settings.max_provisioned_model_units, settings.max_concurrent_runs) == (4, 3)
    # And 0 reserves nothing for the upload function
    assert "ReservedConcurrentExecutions" not in _function(resources, "TriggersStartFromUploadFunction")["Properties"]
