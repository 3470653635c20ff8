"""IAM as synthesized decides the offline pipeline: each grant the pipeline needs, taken away, fails the run
where AWS would fail it, with AWS's error.

The template is the one `cdk deploy` uploads (`offline.synth`); a grant is taken out of it before the
offline world is deployed from it, so nothing but the policy changes.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.bedrock_emulator.service import DEFAULT_ACCOUNT_ID
from offline.iam.policy import statements
from offline.iam.template import PATH_METADATA, Account, DeployedTemplate
from offline.pipeline import LocalNames, LocalPipeline
from stacks.config import STACK_ID
from tests.workflow.conftest import (
    NO_COMMITMENT_MODEL_UNITS,
    GrantAudit,
    offline_bedrock,
    prompts_input,
    run_to_end,
)

pytestmark = pytest.mark.workflow

REGION = os.environ["AWS_DEFAULT_REGION"]


def _role_logical_id(template: dict[str, Any], *path: str) -> str:
    wanted = "/".join(path)
    (found,) = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and resource["Metadata"][PATH_METADATA].endswith(f"/{wanted}/Resource")
    ]
    return str(found)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def without_grant(
    template: dict[str, Any], role_path: tuple[str, ...], *, action: str, resource_containing: str | None = None
) -> dict[str, Any]:
    """The template with one grant taken from the role at `role_path`: `action` (and, with
    `resource_containing`, only the resources whose text contains it) removed from every statement of the
    role's policies that has it. Fails if there was no such grant, so a renamed grant cannot pass unnoticed."""
    changed = copy.deepcopy(template)
    role = _role_logical_id(changed, *role_path)
    removed = 0
    for resource in changed["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy" or {"Ref": role} not in resource["Properties"]["Roles"]:
            continue
        kept = []
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = _as_list(statement["Action"])
            if action not in actions:
                kept.append(statement)
                continue
            resources = _as_list(statement["Resource"])
            gone = [r for r in resources if resource_containing is None or resource_containing in str(r)]
            removed += len(gone)
            if len(actions) > 1:
                kept.append(statement | {"Action": [a for a in actions if a != action]})
            if resource_containing is not None and len(gone) < len(resources):
                kept.append(statement | {"Action": action, "Resource": [r for r in resources if r not in gone]})
        resource["Properties"]["PolicyDocument"]["Statement"] = kept
    assert removed, (
        f"{'/'.join(role_path)} has no {action} grant{f' on {resource_containing}' if resource_containing else ''}"
    )
    return changed


def failing_state(pipeline: LocalPipeline, execution_arn: str) -> str:
    """The state whose task failed first: where the run met its error."""
    state = ""
    for event in pipeline.history(execution_arn):
        if str(event["type"]).endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] in ("LambdaFunctionFailed", "TaskFailed"):
            return state
    raise AssertionError("no task failed")


@pytest.fixture
def bedrock() -> Iterator[BedrockEmulator]:
    with offline_bedrock(no_commitment_model_units=NO_COMMITMENT_MODEL_UNITS) as emulator:
        yield emulator


STUDENT_MODEL = "foundation-model/meta.llama3-1-8b-instruct-v1:0:128k"
TEACHER_MODEL = "foundation-model/meta.llama3-1-70b-instruct-v1:0"
SERVICE_ROLE = ("DistillationServiceRole", "Role")


@dataclass(frozen=True)
class TakenAway:
    """A grant taken out of the template, and where and how the run must then fail."""

    role: tuple[str, ...]
    action: str
    resource: str | None
    state: str
    error: str
    message: str


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            TakenAway(
                ("Pipeline", "CreateJob", "Role"),
                "bedrock:CreateModelCustomizationJob",
                STUDENT_MODEL,
                "CreateJob",
                "BedrockRequestRejected",
                f"bedrock:CreateModelCustomizationJob on resource: arn:aws:bedrock:{REGION}::{STUDENT_MODEL}",
            ),
            id="CreateJob may not customize the student",
        ),
        pytest.param(
            TakenAway(
                ("Pipeline", "CreateJob", "Role"),
                "iam:PassRole",
                None,
                "CreateJob",
                "BedrockRequestRejected",
                "not authorized to perform: iam:PassRole",
            ),
            id="CreateJob may not pass the service role",
        ),
        pytest.param(
            TakenAway(
                SERVICE_ROLE,
                "s3:GetObject",
                "jobs/*",
                "GetJobStatus",
                "DistillationJobFailed",
                "/data/training.jsonl because no identity-based policy allows the s3:GetObject action",
            ),
            id="the service role may not read the output location (the held-out training split lives there)",
        ),
        pytest.param(
            TakenAway(
                SERVICE_ROLE,
                "bedrock:InvokeModel",
                TEACHER_MODEL,
                "GetJobStatus",
                "DistillationJobFailed",
                f"bedrock:InvokeModel on resource: arn:aws:bedrock:{REGION}::{TEACHER_MODEL}",
            ),
            id="the service role may not invoke the teacher",
        ),
        pytest.param(
            TakenAway(
                ("Pipeline", "ValidateModel", "Role"),
                "bedrock:InvokeModel",
                None,
                "ValidateModel",
                "ValidationInferenceFailed",
                "not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock",
            ),
            id="ValidateModel may not invoke the Provisioned Throughput",
        ),
    ],
)
def test_a_grant_taken_away_fails_the_run_at_its_state_with_access_denied(
    bedrock: BedrockEmulator, pipeline_template: dict[str, Any], case: TakenAway
) -> None:
    # Given the stack as synthesized, with one grant taken away
    template = without_grant(pipeline_template, case.role, action=case.action, resource_containing=case.resource)
    with LocalPipeline(template, emulator=bedrock) as pipeline:
        # When a run that needs it is started
        execution_arn = pipeline.start_execution(prompts_input(pipeline), name="one-grant-short")
        result = pipeline.wait(execution_arn)
        # Then it fails at the state that needs the grant, with AWS's refusal in the error
        assert result["status"] == "FAILED"
        assert failing_state(pipeline, execution_arn) == case.state
        assert result["error"] == case.error
        assert case.message in result["cause"]
        # and nothing is left billing (the fixture checks that no PT is alive)


def test_the_full_grants_run_without_a_single_denial(
    bedrock: BedrockEmulator, pipeline_template: dict[str, Any]
) -> None:
    with LocalPipeline(pipeline_template, emulator=bedrock) as pipeline:
        result = run_to_end(pipeline, prompts_input(pipeline), "all-grants")
        assert result["status"] == "SUCCEEDED"
        assert pipeline.enforcer is not None
        assert pipeline.enforcer.denials == []
        assert pipeline.enforcer.authorizations, "nothing was authorized: the enforcer is not in the path"


def test_the_invocation_logging_custom_resource_installs_and_restores_as_its_role(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given an account whose logging somebody else configured
    region = os.environ["AWS_DEFAULT_REGION"]
    boto3.client("bedrock").put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": pipeline.names.input_bucket, "keyPrefix": "theirs"}}
    )
    # When CloudFormation creates the stack's custom resource, then deletes it, each as the handler's role
    pipeline.invocation_logging("Create")
    installed = emulator.logging_configuration(region)
    pipeline.invocation_logging("Delete")
    # Then ours was installed and theirs came back, with no call refused
    assert installed is not None
    assert installed["s3Config"]["bucketName"] == pipeline.names.invocation_log_bucket
    restored = emulator.logging_configuration(region)
    assert restored is not None
    assert restored["s3Config"] == {"bucketName": pipeline.names.input_bucket, "keyPrefix": "theirs"}
    assert pipeline.enforcer is not None
    assert pipeline.enforcer.denials == []


def test_an_account_without_logging_gets_it_removed_again_on_delete(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given an account with no invocation logging, when the custom resource is created and deleted
    pipeline.invocation_logging("Create")
    pipeline.invocation_logging("Delete")
    # Then logging is off again, as before, with no call refused
    assert emulator.logging_configuration(REGION) is None
    assert pipeline.enforcer is not None
    assert pipeline.enforcer.denials == []


def test_a_run_on_a_dataset_that_does_not_exist_is_told_so_not_access_denied(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    # Given a run on a key nobody uploaded (Preflight may list the prefix, so S3 answers 404, not 403)
    missing = f"s3://{pipeline.names.input_bucket}/datasets/never-uploaded.jsonl"
    result = run_to_end(pipeline, {"trainingData": {"prompts": missing}}, "missing-dataset")
    # Then Preflight fails naming the missing file, and nothing exists in Bedrock
    assert result["status"] == "FAILED"
    assert result["error"] == "PreflightFailed"
    assert missing in result["cause"]
    assert "AccessDenied" not in result["cause"]
    assert emulator.jobs == {}


# Grants the offline world cannot exercise, each with why; every other grant must be needed by some call.
NOT_EXERCISED_OFFLINE = {
    "logs:CreateLogStream": "the Lambda runtime writes the function's logs, not its code",
    "logs:PutLogEvents": "the Lambda runtime writes the function's logs, not its code",
    "xray:PutTraceSegments": "the tracer is off offline",
    "xray:PutTelemetryRecords": "the tracer is off offline",
    "sqs:SendMessage": "Lambda writes a failed event to the dead-letter queue, not the function",
}
# Kept although no offline call needs them, each for a reason the offline world cannot show.
KEPT_UNEXERCISED = {
    ("the distillation service role", "s3:ListBucket", "inputs"): "AWS's documented service-role policy grants it "
    "on the training data (user guide, 'Create a service role for model customization'); which Bedrock call uses "
    "it is not documented",
    ("Triggers/CleanUpExecution/Function", "dynamodb:GetItem", "idempotency"): "Powertools idempotency reads the "
    "record when a conditional write does not return it (its DynamoDB persistence layer's fallback)",
    ("Pipeline/CreateEvaluationJobs/Function", "bedrock:ListEvaluationJobs", "*"): "only when CreateEvaluationJob "
    "answers ConflictException (the run's job name taken with another token), which no run can cause offline: "
    "tests/unit/test_evaluation.py finds the job by its exact name",
    ("Pipeline/EvaluationStatus/Function", "bedrock:StopEvaluationJob", "evaluation-job"): "only past "
    "maxEvaluationHours of wall-clock time (EvaluationTimedOut), which the emulator's clock cannot reach: "
    "tests/unit/test_evaluation.py stops the jobs past the limit",
}
# A table under a customer-managed key: offline, an item call needs kms:Decrypt through DynamoDB ("How Amazon
# DynamoDB uses AWS KMS"); the rest of what CDK's own table grants ask of the key is kept, unexercised.
DYNAMODB_KEY_ACTIONS_NOT_EXERCISED = {"kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}


def _not_exercised(statement: Mapping[str, Any], action: str) -> bool:
    via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", "")
    through_dynamodb = str(via).startswith("dynamodb.")
    return action in NOT_EXERCISED_OFFLINE or (through_dynamodb and action in DYNAMODB_KEY_ACTIONS_NOT_EXERCISED)


def _grants(deployed: DeployedTemplate) -> dict[tuple[str, int, str], str]:
    """Every (role ARN, statement index, action) the template grants to a Python function or the service role,
    with a readable name."""
    # CDK's custom-resource relay (Node.js) is CloudFormation's side: only our Python functions run offline.
    python = [f for f, r in deployed.of_type("AWS::Lambda::Function").items() if "python" in r["Properties"]["Runtime"]]
    roles = {deployed.role_of(f): f for f in python}
    roles[deployed.find("AWS::IAM::Role", *SERVICE_ROLE)] = "the distillation service role"
    grants = {}
    for role, owner in roles.items():
        for index, statement in enumerate(statements(deployed.role_policies(role))):
            for action in _as_list(statement.get("Action", [])):
                if _not_exercised(statement, action):
                    continue
                where = "/".join(deployed.path(owner)) if owner in deployed.resources else owner
                resources = ", ".join(str(r) for r in _as_list(statement["Resource"]))
                grants[(deployed.arn(role), index, action)] = f"{where}: {action} on {resources}"
    return grants


def _describes(key: tuple[str, str, str], name: str) -> bool:
    owner, action, resource = key
    return name.startswith(f"{owner}: {action} on ") and resource in name.split(" on ", 1)[1]


@pytest.mark.grant_audit
def test_every_grant_is_needed_by_some_call_of_the_workflow_tests(
    request: pytest.FixtureRequest, grant_audit: GrantAudit
) -> None:
    """Runs after every other workflow test (tests/conftest.py orders it last), over the calls they made."""
    workflow_modules = {path.name for path in Path(__file__).parent.glob("test_*.py")}
    collected = {Path(str(item.fspath)).name for item in request.session.items}
    if request.config.option.keyword or not workflow_modules <= collected:
        pytest.skip("needs the whole workflow tier: the grants are judged by the calls of all its tests")
    deployed = DeployedTemplate(
        grant_audit.template,
        prefix=LocalNames().prefix,
        account=Account(REGION, DEFAULT_ACCOUNT_ID),
        stack_name=STACK_ID,
    )
    grants = _grants(deployed)
    # Each grant was the only one allowing some call: taking it away would have denied that call.
    kept = [name for name in grants.values() if any(_describes(key, name) for key in KEPT_UNEXERCISED)]
    unneeded = sorted(name for grant, name in grants.items() if grant not in grant_audit.needed and name not in kept)
    assert unneeded == [], "granted, but no call of the workflow tests needed it:\n" + "\n".join(unneeded)
