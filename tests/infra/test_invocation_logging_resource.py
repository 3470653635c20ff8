"""The custom resource that owns the account's invocation-logging configuration, as deployed."""

from __future__ import annotations

import pytest

from tests.infra.conftest import CloudAssembly, render

pytestmark = pytest.mark.infra


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
