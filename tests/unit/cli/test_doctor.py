"""distill doctor against moto, the Bedrock emulator (models, model access, invocation logging) and, where
neither has the API, botocore: a Stubber for Service Quotas' GetServiceQuota, and a before-call answer for
IAM's SimulatePrincipalPolicy that denies the actions a test names."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws

from distill_cli.main import main
from distill_cli.session import AwsSession
from offline.bedrock_emulator import bedrock_emulator
from tests.unit.cli.conftest import ACCOUNT, REGION

pytestmark = pytest.mark.unit

NOVA_REGION = "us-east-1"
NOVA_TEACHER = "amazon.nova-pro-v1:0"
NOVA_STUDENT = "amazon.nova-lite-v1:0:300k"
PT_QUOTA_CODE = "L-BE77399C"
STACK = "BedrockDistill"


@dataclass
class FakeAccount:
    """What the AWS account answers where moto and the emulator cannot: its quota, and IAM's decisions."""

    model_units: float = 0.0
    quota_error: str | None = None
    denied_actions: set[str] = field(default_factory=set)
    listed_quotas: list[dict[str, Any]] = field(default_factory=list)
    simulated: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> FakeAccount:
    fake = FakeAccount()
    made = AwsSession.client

    def client(self: AwsSession, service_name: str, **settings: Any) -> Any:
        real = made(self, service_name, **settings)
        if service_name == "service-quotas" and not hasattr(real, "_doctor_stub"):
            stub = Stubber(real)
            request = {"ServiceCode": "bedrock", "QuotaCode": PT_QUOTA_CODE}
            if fake.quota_error:
                stub.add_client_error("get_service_quota", fake.quota_error, expected_params=request)
            else:
                quota = {"ServiceCode": "bedrock", "QuotaCode": PT_QUOTA_CODE, "Value": fake.model_units}
                stub.add_response("get_service_quota", {"Quota": quota}, request)
            stub.add_response("list_service_quotas", {"Quotas": fake.listed_quotas}, {"ServiceCode": "bedrock"})
            stub.activate()
            real._doctor_stub = stub
        if service_name == "iam" and not hasattr(real, "_doctor_stub"):
            real.meta.events.register("before-parameter-build.iam.SimulatePrincipalPolicy", _remember_params)
            real.meta.events.register("before-call.iam.SimulatePrincipalPolicy", _simulate(fake))
            real._doctor_stub = True
        return real

    monkeypatch.setattr(AwsSession, "client", client)
    return fake


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["simulated_params"] = params


def _simulate(fake: FakeAccount) -> Any:
    """IAM's answer to SimulatePrincipalPolicy: each action allowed unless the test denies it."""

    def answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = context["simulated_params"]
        fake.simulated.append(params)
        (action,) = params["ActionNames"]
        decision = "explicitDeny" if action in fake.denied_actions else "allowed"
        results = [
            {"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision}
            for resource in params["ResourceArns"]
        ]
        return AWSResponse("https://iam.amazonaws.com", 200, {}, None), {"EvaluationResults": results}

    return answer


@pytest.fixture
def world() -> Iterator[Any]:
    with mock_aws(), bedrock_emulator() as bedrock:
        yield bedrock


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def lines_of(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(prefix)]


def test_a_new_account_gets_the_pt_quota_and_a_pair_not_offered_here_each_with_what_to_do(
    world: Any, account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a new account (no model units) and the Nova pair, which Bedrock offers only in us-east-1, in us-west-2
    account.model_units = 0
    # When the doctor checks it
    code, out = doctor(capsys, "--region", REGION, "--teacher", NOVA_TEACHER, "--student", NOVA_STUDENT)
    # Then it exits 1 with the pair and the quota failing, each saying what to do
    assert code == 1
    (pair,) = lines_of(out, "FAIL    pair:")
    assert f"offered only in {NOVA_REGION}, not in {REGION}" in pair
    assert "; to do: deploy in a Region that offers the pair" in pair
    (quota,) = lines_of(out, "FAIL    quota:")
    assert f"({PT_QUOTA_CODE}) is 0 in {REGION}" in quota
    assert (
        "to do: Request an increase of the Amazon Bedrock quota 'Model units no-commitment Provisioned Throughputs "
        f"across custom models' ({PT_QUOTA_CODE})" in quota
    )
    assert (
        f"`aws service-quotas request-service-quota-increase --service-code bedrock --quota-code {PT_QUOTA_CODE} "
        f"--desired-value 1 --region {REGION}`" in quota
    )
    # and Bedrock's own listing agrees that the student is not offered for distillation here
    (listing,) = lines_of(out, "FAIL    listing:")
    assert f"does not list {NOVA_STUDENT} for DISTILLATION in {REGION}" in listing
    assert lines_of(out, "SKIP    stack:")
    assert lines_of(out, "SKIP    permissions:")
    assert out.splitlines()[-1].startswith("verdict: not ready")


def test_a_ready_account_exits_0_and_reports_every_check_as_json(
    world: Any, account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given us-east-1 with model units granted, model access, logging off, a custom-model deployment quota
    # and no stack yet
    account.model_units = 2
    account.listed_quotas = [
        {"QuotaName": "Custom model deployments per account", "QuotaCode": "L-00000001", "Value": 2.0},
        {"QuotaName": "Model units no-commitment Provisioned Throughputs across custom models", "Value": 2.0},
    ]
    # When the doctor checks the Region's default pair, as JSON
    code, out = doctor(capsys, "--region", NOVA_REGION, "--json")
    # Then every check passes or is skipped, and the verdict is ready
    document = json.loads(out)
    assert code == 0
    assert document["verdict"] == "ready"
    assert document["region"] == NOVA_REGION
    assert document["stackFound"] is False
    statuses = {check["name"]: check["status"] for check in document["checks"]}
    assert statuses == {
        "stack": "skip",
        "pair": "ok",
        "listing": "ok",
        f"access {document['teacher'].removeprefix('us.')}": "ok",
        f"access {document['student']}": "ok",
        "quota": "ok",
        "deployment quota": "ok",
        "invocation logging": "ok",
        "permissions": "skip",
    }
    deployment = next(check for check in document["checks"] if check["name"] == "deployment quota")
    assert deployment["detail"].startswith("'Custom model deployments per account' (L-00000001) is 2 ")
    logging = next(check for check in document["checks"] if check["name"] == "invocation logging")
    assert logging["detail"] == "off: deploying turns on text logging to the stack's bucket"


def test_a_model_without_access_fails_with_where_to_request_it(
    account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given model units, but no access granted to the student yet
    account.model_units = 1
    with mock_aws(), bedrock_emulator(models_without_access=[NOVA_STUDENT]):
        # When the doctor checks the Nova pair in its Region
        code, out = doctor(capsys, "--region", NOVA_REGION, "--teacher", NOVA_TEACHER, "--student", NOVA_STUDENT)
    # Then the student's access fails, saying where to ask for it, and the teacher's passes
    assert code == 1
    (student,) = lines_of(out, f"FAIL    access {NOVA_STUDENT}:")
    assert "no access: authorization NOT_AUTHORIZED, entitlement NOT_AVAILABLE" in student
    assert "to do: request access to the model in the Bedrock console > Model access" in student
    assert lines_of(out, f"OK      access {NOVA_TEACHER}: authorized and available")


def test_cloudwatch_logging_says_which_role_to_name_at_deploy(
    world: Any, account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account that already logs invocations to CloudWatch Logs
    account.model_units = 1
    role = f"arn:aws:iam::{ACCOUNT}:role/bedrock-logging"
    aws_client_in(NOVA_REGION, "bedrock").put_model_invocation_logging_configuration(
        loggingConfig={"cloudWatchConfig": {"logGroupName": "bedrock-calls", "roleArn": role}}
    )
    # When the doctor checks it
    code, out = doctor(capsys, "--region", NOVA_REGION)
    # Then deploying is said to keep that delivery, given the role, and a run is still possible
    (logging,) = lines_of(out, "WARN    invocation logging:")
    assert "log group bedrock-calls" in logging
    assert f"to do: deploy with -c invocationLoggingRoleArn={role}" in logging
    assert code == 0


def test_s3_logging_elsewhere_would_move_to_the_stack_bucket(
    world: Any, account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account that logs invocations to a bucket of its own
    account.model_units = 1
    s3 = aws_client_in(NOVA_REGION, "s3")
    s3.create_bucket(Bucket="team-bedrock-logs")
    aws_client_in(NOVA_REGION, "bedrock").put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": "team-bedrock-logs"}, "textDataDeliveryEnabled": True}
    )
    # When the doctor checks it
    code, out = doctor(capsys, "--region", NOVA_REGION)
    # Then it says deploying moves that delivery to the stack's bucket
    (logging,) = lines_of(out, "WARN    invocation logging:")
    assert "logs go to S3 bucket team-bedrock-logs: deploying moves them to the stack's bucket" in logging
    assert code == 0


def test_a_check_that_cannot_be_made_keeps_the_verdict_not_ready(
    world: Any, account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a caller that may not read service quotas, in an otherwise ready Region
    account.quota_error = "AccessDeniedException"
    # When the doctor checks it
    code, out = doctor(capsys, "--region", NOVA_REGION)
    # Then the quota is unknown, saying which call was refused, and the run is not called ready
    (quota,) = lines_of(out, "UNKNOWN quota:")
    assert "could not check (GetServiceQuota: AccessDeniedException" in quota
    assert "to do: allow the caller this read-only call" in quota
    assert code == 1


def test_teacher_without_student_is_a_usage_error(world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # When only the teacher is given
    code = main(["doctor", "--region", NOVA_REGION, "--teacher", NOVA_TEACHER])
    # Then it is a usage error (exit 2) naming both options
    assert code == 2
    assert "--teacher and --student go together" in capsys.readouterr().err


# A deployed stack ------------------------------------------------------------------------------------------------

# Logical ids as CDK writes them for the stack's roles and the job-waiter table (construct path + hash).
ROLES = {
    "PipelinePreflightRole5FB0A7EA": "Preflight",
    "PipelineCreateJobRole4B81AE63": "CreateJob",
    "PipelineJobStatusRole5DE55823": "JobStatus",
    "PipelineRegisterJobWaiterRole9BC8F65D": "RegisterJobWaiter",
    "PipelineCollectMetricsRoleF2B3F6F6": "CollectMetrics",
    "PipelineCreateProvisionedThroughputRole5804BB0F": "CreateProvisionedThroughput",
    "PipelineProvisionedThroughputStatusRole6570A332": "ProvisionedThroughputStatus",
    "PipelineDeleteProvisionedThroughputRole700525D4": "DeleteProvisionedThroughput",
    "PipelineValidateModelRole18362EF6": "ValidateModel",
    "PipelineNotifyRoleDC5B841D": "Notify",
    "TriggersStartFromUploadRoleDF233CA1": "StartFromUpload",
    "TriggersRelayJobEventRole89478EED": "RelayJobEvent",
    "TriggersCleanUpExecutionRole3F39E841": "CleanUpExecution",
    "TriggersSweepProvisionedThroughputsRoleDF394A81": "SweepProvisionedThroughputs",
    "DistillationServiceRole12BB649F": "DistillationServiceRole",
}


def deploy_stack(region: str) -> dict[str, str]:
    """A stack with the real stack's roles, table and outputs (moto creates the roles and the table)."""
    trust = {"Version": "2012-10-17", "Statement": []}
    resources: dict[str, Any] = {
        logical: {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}} for logical in ROLES
    }
    for table, key in (("PipelineJobWaiters8E32FB4F", "jobName"), ("TriggersIdempotency72E76B6A", "id")):
        resources[table] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        }
    outputs = {
        "StateMachineArn": f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{STACK}-distillation",
        "InputLocation": "s3://distill-inputs/datasets/",
        "UploadLocation": "s3://distill-inputs/datasets/incoming/",
        "OutputLocation": "s3://distill-outputs/jobs/",
        "OutcomeTopicArn": f"arn:aws:sns:{region}:{ACCOUNT}:outcomes",
        "InvocationLogSource": "s3://distill-invocation-logs/bedrock/AWSLogs",
        "TeacherModelId": NOVA_TEACHER,
        "StudentModelId": NOVA_STUDENT,
    }
    template: dict[str, Any] = {
        "Resources": resources,
        "Outputs": {key: {"Value": value} for key, value in outputs.items()}
        | {"DistillationServiceRoleArn": {"Value": {"Fn::GetAtt": ["DistillationServiceRole12BB649F", "Arn"]}}},
    }
    cloudformation = aws_client_in(region, "cloudformation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    summaries = cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    return {item["LogicalResourceId"]: item["PhysicalResourceId"] for item in summaries}


def test_a_deployed_stack_has_each_role_simulated_with_its_real_arns(
    world: Any, account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stack in us-east-1 and an account whose IAM allows every call
    account.model_units = 1
    physical = deploy_stack(NOVA_REGION)
    # When the doctor checks it
    code, out = doctor(capsys, "--region", NOVA_REGION)
    # Then every role is simulated by its real ARN, and each may make its calls
    assert code == 0, out
    for logical, owner in ROLES.items():
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/{physical[logical]}"
        assert len(lines_of(out, f"OK      role {owner}: {role_arn} may make its ")) == 1
    sources = {call["PolicySourceArn"] for call in account.simulated}
    assert len(sources) == len(ROLES)
    # on the stack's real resources: its buckets, table, topic, state machine, the service role it passes
    resources = {(call["ActionNames"][0], call["ResourceArns"][0]) for call in account.simulated}
    service_role = f"arn:aws:iam::{ACCOUNT}:role/{physical['DistillationServiceRole12BB649F']}"
    assert ("iam:PassRole", service_role) in resources
    assert ("s3:ListBucket", "arn:aws:s3:::distill-inputs") in resources
    assert ("s3:PutObject", "arn:aws:s3:::distill-outputs/jobs/distill-doctor-example.jsonl") in resources
    table = f"arn:aws:dynamodb:{NOVA_REGION}:{ACCOUNT}:table/{physical['PipelineJobWaiters8E32FB4F']}"
    assert ("dynamodb:PutItem", table) in resources
    assert ("sns:Publish", f"arn:aws:sns:{NOVA_REGION}:{ACCOUNT}:outcomes") in resources
    # the functions EventBridge runs too: the upload trigger's prefix, the cleanup's idempotency table
    assert ("s3:GetObject", "arn:aws:s3:::distill-inputs/datasets/incoming/distill-doctor-example.jsonl") in resources
    idempotency = f"arn:aws:dynamodb:{NOVA_REGION}:{ACCOUNT}:table/{physical['TriggersIdempotency72E76B6A']}"
    assert ("dynamodb:PutItem", idempotency) in resources
    assert (
        "bedrock:StopModelCustomizationJob",
        f"arn:aws:bedrock:{NOVA_REGION}:{ACCOUNT}:model-customization-job/distill-doctor-example",
    ) in resources
    assert ("bedrock:InvokeModel", f"arn:aws:bedrock:{NOVA_REGION}::foundation-model/{NOVA_TEACHER}") in resources
    assert (
        "bedrock:CreateModelCustomizationJob",
        f"arn:aws:bedrock:{NOVA_REGION}::foundation-model/{NOVA_STUDENT}",
    ) in resources
    # with the request context the grants are conditioned on
    pass_role = next(call for call in account.simulated if call["ActionNames"] == ["iam:PassRole"])
    assert pass_role["ContextEntries"] == [
        {
            "ContextKeyName": "iam:PassedToService",
            "ContextKeyValues": ["bedrock.amazonaws.com"],
            "ContextKeyType": "string",
        }
    ]
    # and the logging check compares with the stack's own bucket
    assert lines_of(
        out, "WARN    invocation logging: logging is off, not to the stack's bucket distill-invocation-logs"
    )


def test_a_role_denied_a_pipeline_call_fails_naming_the_call(
    world: Any, account: FakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stack whose account denies PassRole (say, a permissions boundary)
    account.model_units = 1
    account.denied_actions = {"iam:PassRole"}
    deploy_stack(NOVA_REGION)
    # When the doctor checks it
    code, out = doctor(capsys, "--region", NOVA_REGION)
    # Then the CreateJob role fails, naming the call and the decision, and the run is not ready
    assert code == 1
    (line,) = lines_of(out, "FAIL    role CreateJob:")
    assert "may not make 1 of its 5 call(s): iam:PassRole on arn:aws:iam::" in line
    assert "(explicitDeny)" in line
    assert "to do: redeploy the current version" in line


def aws_client_in(region: str, service_name: str) -> Any:
    import boto3  # noqa: PLC0415

    return boto3.session.Session(region_name=region).client(service_name)
