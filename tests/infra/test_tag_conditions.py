"""IAM keeps the functions to this project's Bedrock resources even if their code is wrong: every delete and stop of a
PT, deployment or job holds only on a resource carrying the project's tag, and every PT purchase and deployment (and
job creation) only when the request tags what it creates as the project's, on a custom model of the project's.

Condition keys per action: Service Authorization Reference, "Actions, resources, and condition keys for Amazon
Bedrock" (stacks/components/grants.py names them)."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_distill.workflow.run import EXECUTION_TAG_KEY, KEEP_ON_SUCCESS_TAG_KEY, PROJECT_TAG_KEY, PROJECT_TAG_VALUE
from tests.infra.conftest import CloudAssembly, as_list, render

pytestmark = pytest.mark.infra

BEDROCK = "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}"
# Actions that end or change someone's spend on a resource that already exists.
DESTRUCTIVE_ACTIONS = {
    "bedrock:DeleteProvisionedModelThroughput",
    "bedrock:StopModelCustomizationJob",
    "bedrock:DeleteCustomModelDeployment",
    "bedrock:StopEvaluationJob",
}
# Actions that create a billed resource.
CREATE_ACTIONS = {
    "bedrock:CreateProvisionedModelThroughput",
    "bedrock:CreateModelCustomizationJob",
    "bedrock:CreateCustomModelDeployment",
    "bedrock:CreateEvaluationJob",
}
OURS = {f"aws:ResourceTag/{PROJECT_TAG_KEY}": PROJECT_TAG_VALUE}
TAGGED_AS_OURS = {f"aws:RequestTag/{PROJECT_TAG_KEY}": PROJECT_TAG_VALUE}
# Run.tags, and the keep-on-success key a run asked to keep its deployment adds (Run.model_deployment_tags).
ONLY_RUN_TAG_KEYS = {"aws:TagKeys": [PROJECT_TAG_KEY, EXECUTION_TAG_KEY, KEEP_ON_SUCCESS_TAG_KEY]}


def _allow_statements(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Every Allow statement of every role policy, rendered, with the policy it belongs to."""
    return [
        render(statement) | {"Policy": name}
        for name, policy in assembly.of_type("AWS::IAM::Policy").items()
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
        if statement["Effect"] == "Allow"
    ]


def _granting(assembly: CloudAssembly, actions: set[str]) -> list[dict[str, Any]]:
    return [s for s in _allow_statements(assembly) if actions & set(as_list(s["Action"]))]


def test_every_pt_delete_and_job_stop_holds_only_on_the_projects_tag(assembly: CloudAssembly) -> None:
    # Given the synthesized stack's grants of a PT delete or a job stop
    granting = _granting(assembly, DESTRUCTIVE_ACTIONS)
    # Then the cleanup paths have them: the workflow's deletes, the evaluation timeout, the execution-end cleanup and
    # the sweeper
    assert {s["Policy"].split("Role")[0] for s in granting} == {
        "PipelineDeleteProvisionedThroughput",
        "PipelineDeleteModelDeployment",
        "PipelineEvaluationStatus",
        "TriggersCleanUpExecution",
        "TriggersSweepProvisionedThroughputs",
    }
    for statement in granting:
        # And each holds only on a resource tagged as the project's, with nothing else in the statement
        assert statement["Condition"] == {"StringEquals": OURS}, statement
        assert set(as_list(statement["Action"])) <= DESTRUCTIVE_ACTIONS, statement


def test_reads_the_cleanup_decides_by_stay_unconditioned(assembly: CloudAssembly) -> None:
    # The cleanup reads a resource's tags to decide whether it is the project's: a tag condition on the read would
    # turn "not ours" into AccessDenied and fail the cleanup instead of skipping the resource.
    for statement in _granting(assembly, {"bedrock:ListTagsForResource"}):
        assert "Condition" not in statement, statement


def test_every_pt_purchase_needs_the_projects_request_tag_on_a_custom_model_of_the_project(
    assembly: CloudAssembly,
) -> None:
    (statement,) = _granting(assembly, {"bedrock:CreateProvisionedModelThroughput"})
    assert as_list(statement["Action"]) == ["bedrock:CreateProvisionedModelThroughput"]
    # Only custom models (no foundation model), and only those carrying the project's tag
    assert as_list(statement["Resource"]) == [f"{BEDROCK}:custom-model/*"]
    assert statement["Condition"] == {
        "StringEquals": TAGGED_AS_OURS | OURS,
        "ForAllValues:StringEquals": ONLY_RUN_TAG_KEYS,
    }


def test_every_create_and_its_tagging_needs_the_projects_request_tag_and_no_other_key(
    assembly: CloudAssembly,
) -> None:
    creating = _granting(assembly, CREATE_ACTIONS | {"bedrock:TagResource"})
    assert {action for s in creating for action in as_list(s["Action"])} == CREATE_ACTIONS | {"bedrock:TagResource"}
    for statement in creating:
        assert statement["Condition"]["StringEquals"].items() >= TAGGED_AS_OURS.items(), statement
        assert statement["Condition"]["ForAllValues:StringEquals"] == ONLY_RUN_TAG_KEYS, statement


def test_every_on_demand_deployment_needs_the_projects_request_tag_on_a_custom_model_of_the_project(
    assembly: CloudAssembly,
) -> None:
    # Given the grant of CreateCustomModelDeployment, authorized on the custom model it deploys
    (statement,) = _granting(assembly, {"bedrock:CreateCustomModelDeployment"})
    assert statement["Policy"].startswith("PipelineCreateModelDeployment")
    assert as_list(statement["Action"]) == ["bedrock:CreateCustomModelDeployment"]
    # Then it holds only on a custom model carrying the project's tag, with the run's tags and no other key
    assert as_list(statement["Resource"]) == [f"{BEDROCK}:custom-model/*"]
    assert statement["Condition"] == {
        "StringEquals": TAGGED_AS_OURS | OURS,
        "ForAllValues:StringEquals": ONLY_RUN_TAG_KEYS,
    }


def test_validation_may_invoke_only_the_projects_provisioned_throughputs_and_deployments(
    assembly: CloudAssembly,
) -> None:
    statements = [
        s for s in _granting(assembly, {"bedrock:InvokeModel"}) if s["Policy"].startswith("PipelineValidateModel")
    ]
    resources = {r for s in statements for r in as_list(s["Resource"])}
    assert resources == {f"{BEDROCK}:provisioned-model/*", f"{BEDROCK}:custom-model-deployment/*"}
    for statement in statements:
        assert statement["Condition"] == {"StringEquals": OURS}, statement
