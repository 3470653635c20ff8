"""The deployed pipeline: the state machine as the definition file says, and each function's least privilege."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_distill.workflow.settings import ENVIRONMENT_VARIABLES
from stacks.pipeline_spec import DEFINITION_FILE, WORKFLOW_FUNCTIONS, all_functions, placeholders, substitution_name
from tests.infra.conftest import CloudAssembly, as_list, render

pytestmark = pytest.mark.infra

BEDROCK = "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}"
# Every Bedrock action each state's function may call, and on what.
BEDROCK_GRANTS = {
    "Preflight": set(),
    "CreateJob": {
        ("bedrock:CreateModelCustomizationJob", f"{BEDROCK}:model-customization-job/*"),
        ("bedrock:CreateModelCustomizationJob", f"{BEDROCK}:custom-model/*"),
        (
            "bedrock:CreateModelCustomizationJob",
            "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/meta.llama3-1-8b-instruct-v1:0:128k",
        ),
        ("bedrock:TagResource", f"{BEDROCK}:model-customization-job/*"),
        ("bedrock:TagResource", f"{BEDROCK}:custom-model/*"),
        (
            "bedrock:TagResource",
            "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/meta.llama3-1-8b-instruct-v1:0:128k",
        ),
    },
    "JobStatus": {("bedrock:GetModelCustomizationJob", f"{BEDROCK}:model-customization-job/*")},
    "CollectMetrics": set(),
    "CreateProvisionedThroughput": {
        # Bought on the custom model (no provisioned-model type for it); tagging the new PT is TagResource on it.
        ("bedrock:CreateProvisionedModelThroughput", f"{BEDROCK}:custom-model/*"),
        ("bedrock:TagResource", f"{BEDROCK}:provisioned-model/*"),
    },
    "ProvisionedThroughputStatus": {("bedrock:GetProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*")},
    "DeleteProvisionedThroughput": {
        ("bedrock:GetProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:DeleteProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
    },
    "ValidateModel": {("bedrock:InvokeModel", f"{BEDROCK}:provisioned-model/*")},
    "Notify": set(),
    "RegisterJobWaiter": {("bedrock:GetModelCustomizationJob", f"{BEDROCK}:model-customization-job/*")},
    "StartFromUpload": set(),
    "RelayJobEvent": set(),
    "CleanUpExecution": {
        ("bedrock:ListProvisionedModelThroughputs", "*"),
        ("bedrock:ListModelCustomizationJobs", "*"),
        ("bedrock:ListTagsForResource", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:GetProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:DeleteProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:ListTagsForResource", f"{BEDROCK}:model-customization-job/*"),
        ("bedrock:StopModelCustomizationJob", f"{BEDROCK}:model-customization-job/*"),
    },
    "SweepProvisionedThroughputs": {
        ("bedrock:ListProvisionedModelThroughputs", "*"),
        ("bedrock:ListTagsForResource", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:GetProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:DeleteProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
    },
}


def _state_machine(assembly: CloudAssembly) -> dict[str, Any]:
    (machine,) = assembly.of_type("AWS::StepFunctions::StateMachine").values()
    properties: dict[str, Any] = machine["Properties"]
    return properties


def _function_id(assembly: CloudAssembly, name: str) -> str:
    (logical_id,) = [n for n in assembly.of_type("AWS::Lambda::Function") if n.startswith(f"Pipeline{name}Function")]
    return logical_id


def _role_statements(assembly: CloudAssembly, name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for logical_id, policy in assembly.of_type("AWS::IAM::Policy").items():
        if logical_id.startswith((f"Pipeline{name}Role", f"Triggers{name}Role")):
            statements += render(as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
    return statements


def _grants(statements: list[dict[str, Any]], service: str) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith(f"{service}:")
        for resource in as_list(statement["Resource"])
    }


def test_state_machine_is_standard_logged_traced_and_bounded(assembly: CloudAssembly) -> None:
    machine = render(_state_machine(assembly))
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"].strip("${}").removesuffix(".Arn")
    log_group = render(assembly.resources[log_group_id]["Properties"])
    assert log_group["KmsKeyId"].endswith(".Arn}")


def test_deployed_definition_is_the_file_with_every_substitution_given(assembly: CloudAssembly) -> None:
    machine = _state_machine(assembly)
    substitutions = render(machine["DefinitionSubstitutions"])
    assert set(substitutions) == placeholders(DEFINITION_FILE.read_text())
    # CDK uploads the file as an asset; what deploys is byte-for-byte the file in statemachines/
    deployed = assembly.staged_asset(machine["DefinitionS3Location"]["Key"])
    assert deployed.read_text() == DEFINITION_FILE.read_text()
    for name in WORKFLOW_FUNCTIONS:
        assert substitutions[substitution_name(name)] == f"${{{_function_id(assembly, name)}.Arn}}", name


def test_state_machine_may_invoke_only_its_functions(assembly: CloudAssembly) -> None:
    statements = [
        s
        for logical_id, policy in assembly.of_type("AWS::IAM::Policy").items()
        if logical_id.startswith("PipelineStateMachineRole")
        for s in render(as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
    ]
    invokable = {
        resource.removesuffix(":*")
        for action, resource in _grants(statements, "lambda")
        if action == "lambda:InvokeFunction"
    }
    assert invokable == {f"${{{_function_id(assembly, name)}.Arn}}" for name in WORKFLOW_FUNCTIONS}


def test_every_workflow_function_knows_exactly_the_pipeline_settings(assembly: CloudAssembly) -> None:
    for name in WORKFLOW_FUNCTIONS:
        variables = assembly.resources[_function_id(assembly, name)]["Properties"]["Environment"]["Variables"]
        powertools = {key for key in variables if key.startswith("POWERTOOLS_")}
        assert set(variables) - powertools == set(ENVIRONMENT_VARIABLES.values()), name


@pytest.mark.parametrize("name", sorted(all_functions()))
def test_each_function_may_call_only_the_bedrock_actions_of_its_state(assembly: CloudAssembly, name: str) -> None:
    assert _grants(_role_statements(assembly, name), "bedrock") == BEDROCK_GRANTS[name]


def test_only_create_job_passes_the_distillation_role_and_only_to_bedrock(assembly: CloudAssembly) -> None:
    (role_id,) = [n for n in assembly.of_type("AWS::IAM::Role") if n.startswith("DistillationServiceRole")]
    for name in all_functions():
        passes = [s for s in _role_statements(assembly, name) if "iam:PassRole" in as_list(s["Action"])]
        if name != "CreateJob":
            assert passes == [], name
            continue
        (statement,) = passes
        assert statement["Resource"] == f"${{{role_id}.Arn}}"
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}


def test_only_the_reporting_functions_publish_and_only_to_the_encrypted_outcome_topic(assembly: CloudAssembly) -> None:
    (topic_id, topic) = next(iter(assembly.of_type("AWS::SNS::Topic").items()))
    assert render(topic["Properties"]["KmsMasterKeyId"]).endswith(".Arn}")
    reporters = {"Notify", "CleanUpExecution", "SweepProvisionedThroughputs"}
    for name in all_functions():
        published = _grants(_role_statements(assembly, name), "sns")
        assert published == ({("sns:Publish", f"${{{topic_id}}}")} if name in reporters else set()), name
    (topic_policy,) = assembly.of_type("AWS::SNS::TopicPolicy").values()
    statements = render(as_list(topic_policy["Properties"]["PolicyDocument"]["Statement"]))
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
