"""The deployed pipeline: the state machine as the definition file says, and each function's least privilege."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_distill.workflow.settings import ENVIRONMENT_VARIABLES
from stacks.pipeline_spec import DEFINITION_FILE, WORKFLOW_FUNCTIONS, all_functions, placeholders, substitution_name
from tests.infra.conftest import CloudAssembly, as_list, render

pytestmark = pytest.mark.infra

BEDROCK = "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}"
FOUNDATION_MODEL = "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model"
DEPLOYMENTS = f"{BEDROCK}:custom-model-deployment/*"
EVALUATION_JOBS = f"{BEDROCK}:evaluation-job/*"
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
    "ValidateModel": {
        ("bedrock:InvokeModel", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:InvokeModel", DEPLOYMENTS),
    },
    # The deploy Region's default teacher (us-west-2), on demand.
    "AnswerAsTeacher": {("bedrock:InvokeModel", f"{FOUNDATION_MODEL}/meta.llama3-1-70b-instruct-v1:0")},
    "CreateModelDeployment": {
        # Authorized on the custom model it deploys; tagging the new deployment is TagResource on it.
        ("bedrock:CreateCustomModelDeployment", f"{BEDROCK}:custom-model/*"),
        ("bedrock:TagResource", DEPLOYMENTS),
    },
    "ModelDeploymentStatus": {("bedrock:GetCustomModelDeployment", DEPLOYMENTS)},
    "DeleteModelDeployment": {
        ("bedrock:GetCustomModelDeployment", DEPLOYMENTS),
        ("bedrock:DeleteCustomModelDeployment", DEPLOYMENTS),
    },
    "CreateEvaluationJobs": {
        # Authorized on the models the job involves: the judge's (cdk.json's is the US profile of Nova Pro; precomputed
        # answers involve none); tagging the new job is TagResource on it.
        ("bedrock:CreateEvaluationJob", f"{FOUNDATION_MODEL}/amazon.nova-pro-v1:0"),
        # A retried create finds the job of its name by listing.
        ("bedrock:ListEvaluationJobs", "*"),
        ("bedrock:TagResource", EVALUATION_JOBS),
    },
    "EvaluationStatus": {
        ("bedrock:GetEvaluationJob", EVALUATION_JOBS),
        ("bedrock:StopEvaluationJob", EVALUATION_JOBS),
    },
    "Score": set(),
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
        ("bedrock:ListCustomModelDeployments", "*"),
        ("bedrock:ListTagsForResource", DEPLOYMENTS),
        ("bedrock:GetCustomModelDeployment", DEPLOYMENTS),
        ("bedrock:DeleteCustomModelDeployment", DEPLOYMENTS),
        ("bedrock:ListEvaluationJobs", "*"),
        ("bedrock:ListTagsForResource", EVALUATION_JOBS),
        ("bedrock:StopEvaluationJob", EVALUATION_JOBS),
    },
    "SweepProvisionedThroughputs": {
        ("bedrock:ListProvisionedModelThroughputs", "*"),
        ("bedrock:ListTagsForResource", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:GetProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:DeleteProvisionedModelThroughput", f"{BEDROCK}:provisioned-model/*"),
        ("bedrock:ListCustomModelDeployments", "*"),
        ("bedrock:ListTagsForResource", DEPLOYMENTS),
        ("bedrock:GetCustomModelDeployment", DEPLOYMENTS),
        ("bedrock:DeleteCustomModelDeployment", DEPLOYMENTS),
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


def test_only_the_job_creators_pass_their_service_role_and_only_to_bedrock(assembly: CloudAssembly) -> None:
    # Given each service role and the one function that creates the jobs Bedrock runs as it
    passers = {"CreateJob": "DistillationServiceRole", "CreateEvaluationJobs": "EvaluationServiceRole"}
    role_ids = {
        name: next(n for n in assembly.of_type("AWS::IAM::Role") if n.startswith(prefix))
        for name, prefix in passers.items()
    }
    for name in all_functions():
        passes = [s for s in _role_statements(assembly, name) if "iam:PassRole" in as_list(s["Action"])]
        if name not in passers:
            assert passes == [], name
            continue
        # Then that function passes exactly that role, and only to Bedrock
        (statement,) = passes
        assert statement["Resource"] == f"${{{role_ids[name]}.Arn}}", name
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


def test_the_judging_functions_touch_only_their_files_of_each_run(assembly: CloudAssembly) -> None:
    # Given the functions between the student's answers and the scorecard
    (outputs,) = [n for n in assembly.of_type("AWS::S3::Bucket") if n.startswith("BucketsOutputs")]
    run = f"${{{outputs}.Arn}}/jobs/*"
    expected = {
        # Both sides' answers in, the judge's datasets out
        "CreateEvaluationJobs": {
            ("s3:GetObject", f"{run}/report/responses/*"),
            ("s3:PutObject", f"{run}/evaluation/datasets/*"),
        },
        "EvaluationStatus": set(),
        # The judge's results (listed: Bedrock names them), both sides' answers and the log scan's volume in, the
        # scorecard out
        "Score": {
            ("s3:GetObject", f"{run}/evaluation/output/*"),
            ("s3:ListBucket", f"${{{outputs}.Arn}}"),
            ("s3:GetObject", f"{run}/report/responses/*"),
            ("s3:GetObject", f"{run}/report/preflight.json"),
            ("s3:PutObject", f"{run}/report/scorecard.json"),
        },
    }
    for name, grants in expected.items():
        # Then each reads and writes exactly those objects of the output bucket
        assert _grants(_role_statements(assembly, name), "s3") == grants, name
    (listing,) = [s for s in _role_statements(assembly, "Score") if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["jobs/*/evaluation/output", "jobs/*/evaluation/output/*"]}
    }
