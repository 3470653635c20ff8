"""The custom resource that owns the account's invocation-logging configuration, as deployed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from bedrock_distill.invocation_logging import ROLE_CONTEXT_KEY
from stacks.app_builder import build_app
from stacks.config import STACK_ID, ConfigurationError, DistillConfig
from tests.infra.conftest import CloudAssembly, as_list, default_context, render
from tests.infra.test_compliance import _violations_in_reports

pytestmark = pytest.mark.infra

LOGGING_ROLE = "arn:aws:iam::123456789012:role/service-role/users-bedrock-logging"
HANDLER_ROLE_PREFIX = "InvocationLoggingHandlerRole"


@pytest.fixture(scope="module")
def keeping_cloudwatch(tmp_path_factory: pytest.TempPathFactory) -> CloudAssembly:
    """The app deployed to keep an existing CloudWatch Logs delivery: `-c invocationLoggingRoleArn=<role>`."""
    outdir = tmp_path_factory.mktemp("cdk.out.cloudwatch")
    context = default_context() | {ROLE_CONTEXT_KEY: LOGGING_ROLE}
    app = App(outdir=str(outdir), context=context)
    build_app(app)
    app.synth()
    template = json.loads((outdir / f"{STACK_ID}.template.json").read_text())
    return CloudAssembly(outdir=outdir, template=template, context=context)


def _handler_statements(assembly: CloudAssembly) -> list[dict[str, Any]]:
    return [
        render(statement)
        for name, policy in assembly.of_type("AWS::IAM::Policy").items()
        if name.startswith(HANDLER_ROLE_PREFIX)
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    ]


def _references(value: Any) -> set[str]:
    """Logical ids a CloudFormation value refers to (Ref, GetAtt), however deeply nested."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return {value["Ref"]}
        if set(value) == {"Fn::GetAtt"}:
            return {value["Fn::GetAtt"][0]}
        return {ref for item in value.values() for ref in _references(item)}
    if isinstance(value, list):
        return {ref for item in value for ref in _references(item)}
    return set()


def _created_after(assembly: CloudAssembly, logical_id: str) -> set[str]:
    """Every resource CloudFormation creates before `logical_id` and, on delete, deletes after it."""
    resources = assembly.resources
    found: set[str] = set()
    pending = [logical_id]
    while pending:
        resource = resources[pending.pop()]
        direct = _references(resource.get("Properties", {})) | set(as_list(resource.get("DependsOn", [])))
        for dependency in direct & set(resources) - found:
            found.add(dependency)
            pending.append(dependency)
    return found


def test_logging_configuration_waits_for_the_bucket_policy(assembly: CloudAssembly) -> None:
    # Given the custom resource and the invocation-log bucket's policy
    (resource,) = assembly.of_type("Custom::BedrockInvocationLogging").values()
    (bucket_id,) = [n for n in assembly.of_type("AWS::S3::Bucket") if n.startswith("BucketsInvocationLogs")]
    (policy_id,) = [
        n
        for n, p in assembly.of_type("AWS::S3::BucketPolicy").items()
        if render(p["Properties"]["Bucket"]) == f"${{{bucket_id}}}"
    ]
    # Then it is created after the policy (Bedrock checks its write access when logging is put)
    assert policy_id in resource["DependsOn"]
    # And it points Bedrock at our bucket and prefix
    properties = render(resource["Properties"])
    assert properties["BucketName"] == f"${{{bucket_id}}}"
    assert properties["KeyPrefix"] == assembly.context["invocationLogPrefix"]


def test_handler_records_the_previous_configuration_in_one_named_parameter(assembly: CloudAssembly) -> None:
    (function,) = [
        r for n, r in assembly.of_type("AWS::Lambda::Function").items() if n.startswith("InvocationLoggingHandler")
    ]
    environment = render(function["Properties"]["Environment"]["Variables"])
    parameter = environment["PREVIOUS_CONFIGURATION_PARAMETER"]
    assert parameter == "/bedrock-distill/${AWS::StackName}/previous-invocation-logging-configuration"
    (policy,) = [
        p for n, p in assembly.of_type("AWS::IAM::Policy").items() if n.startswith("InvocationLoggingHandlerRole")
    ]
    statements = render(policy["Properties"]["PolicyDocument"]["Statement"])
    (ssm,) = [s for s in statements if s.get("Sid") == "RecordPreviousConfiguration"]
    assert ssm["Resource"].endswith(f":parameter{parameter}")


# Keeping an existing CloudWatch Logs delivery ---------------------------------------------------------------


def test_by_default_the_handler_may_pass_no_role(assembly: CloudAssembly) -> None:
    # Given the app with the shipped defaults (no CloudWatch delivery role named)
    # Then the handler's role has no iam:PassRole, and the resource names no role to keep
    statements = _handler_statements(assembly)
    assert statements, "the handler's policy is found"
    assert [s for s in statements if "iam:PassRole" in as_list(s["Action"])] == []
    (resource,) = assembly.of_type("Custom::BedrockInvocationLogging").values()
    assert "CloudWatchRoleArn" not in resource["Properties"]


def test_naming_the_logging_role_grants_pass_role_on_it_to_bedrock_only(keeping_cloudwatch: CloudAssembly) -> None:
    # Given the app deployed with the existing CloudWatch delivery's role named
    # Then the handler may pass exactly that role, and only to Bedrock
    passes = [s for s in _handler_statements(keeping_cloudwatch) if "iam:PassRole" in as_list(s["Action"])]
    assert passes == [
        {
            "Sid": "PassCloudWatchDeliveryRoleToBedrock",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": LOGGING_ROLE,
            "Condition": {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        }
    ]
    # And the custom resource tells the handler which role it may pass
    (resource,) = keeping_cloudwatch.of_type("Custom::BedrockInvocationLogging").values()
    assert resource["Properties"]["CloudWatchRoleArn"] == LOGGING_ROLE
    # And cdk-nag reports nothing (no wildcard was needed)
    assert _violations_in_reports(keeping_cloudwatch.outdir) == []


def test_the_pass_role_grant_outlives_the_resource_that_restores_on_delete(keeping_cloudwatch: CloudAssembly) -> None:
    # Given the custom resource and the policy holding the PassRole grant
    ((resource_id, _),) = keeping_cloudwatch.of_type("Custom::BedrockInvocationLogging").items()
    (policy_id,) = [
        name
        for name, policy in keeping_cloudwatch.of_type("AWS::IAM::Policy").items()
        if name.startswith(HANDLER_ROLE_PREFIX) and "iam:PassRole" in json.dumps(policy)
    ]
    # Then the resource depends on the policy: created after it, deleted (and so restoring) before it goes
    assert policy_id in _created_after(keeping_cloudwatch, resource_id)


def test_the_role_context_key_is_the_configs_and_is_shipped_blank() -> None:
    # The key the handler's refusal tells the operator to set is the one the app reads
    assert ROLE_CONTEXT_KEY in DistillConfig.context_keys()
    assert default_context()[ROLE_CONTEXT_KEY] == ""


@pytest.mark.parametrize(
    "value",
    [
        "users-bedrock-logging",
        "arn:aws:iam::123456789012:user/someone",
        "arn:aws:iam:::role/no-account",
    ],
)
def test_a_logging_role_that_is_not_a_role_arn_stops_synth_naming_the_key(tmp_path: Path, value: str) -> None:
    # Given a context value that cannot be granted iam:PassRole on (it must be one exact role ARN)
    app = App(outdir=str(tmp_path), context=default_context() | {ROLE_CONTEXT_KEY: value})
    # When the app is built, then it stops with one message naming the key
    with pytest.raises(ConfigurationError, match=f"context key '{ROLE_CONTEXT_KEY}': is not an IAM role ARN"):
        build_app(app)
