"""The event-driven half of the stack: what starts runs, what releases them, what cleans up after them."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.pipeline_spec import (
    EVENT_FUNCTIONS,
    EVENT_MAX_AGE_SECONDS,
    EVENT_RETRY_ATTEMPTS,
    SWEEP_SCHEDULE,
    execution_end_pattern,
    job_end_pattern,
    upload_pattern,
)
from tests.infra.conftest import CloudAssembly, as_list, render

pytestmark = pytest.mark.infra

STATE_MACHINE_ARN = (
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:BedrockDistill-distillation"
)
EXECUTIONS_ARN = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:BedrockDistill-distillation:*"


def _only(assembly: CloudAssembly, resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (match,) = [(n, r) for n, r in assembly.of_type(resource_type).items() if n.startswith(prefix)]
    return match


def _rule(assembly: CloudAssembly, name: str) -> dict[str, Any]:
    properties: dict[str, Any] = render(_only(assembly, "AWS::Events::Rule", f"Triggers{name}")[1]["Properties"])
    return properties


def _statements(assembly: CloudAssembly, function: str) -> list[dict[str, Any]]:
    return [
        statement
        for name, policy in assembly.of_type("AWS::IAM::Policy").items()
        if name.startswith(f"Triggers{function}Role") or name.startswith(f"Pipeline{function}Role")
        for statement in render(as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
    ]


def _grants(assembly: CloudAssembly, function: str, service: str) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for statement in _statements(assembly, function)
        for action in as_list(statement["Action"])
        if action.startswith(f"{service}:")
        for resource in as_list(statement["Resource"])
    }


def test_the_inputs_bucket_sends_its_events_to_eventbridge_without_a_notification_lambda(
    assembly: CloudAssembly,
) -> None:
    _, bucket = _only(assembly, "AWS::S3::Bucket", "BucketsInputs")
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert not [n for n in assembly.resources if n.startswith("BucketNotificationsHandler")]


def test_each_rule_matches_the_pattern_the_offline_pipeline_uses(assembly: CloudAssembly) -> None:
    # Given the stack's buckets and state machine
    bucket_id, _ = _only(assembly, "AWS::S3::Bucket", "BucketsInputs")
    machine_id, _ = _only(assembly, "AWS::StepFunctions::StateMachine", "PipelineStateMachine")
    # Then each rule's pattern is the spec's pattern for them (offline/ tests run exactly these)
    assert _rule(assembly, "Uploads")["EventPattern"] == render(upload_pattern(f"${{{bucket_id}}}"))
    assert _rule(assembly, "JobEvents")["EventPattern"] == job_end_pattern()
    assert _rule(assembly, "ExecutionEnds")["EventPattern"] == execution_end_pattern(f"${{{machine_id}}}")
    assert _rule(assembly, "Sweep")["ScheduleExpression"] == SWEEP_SCHEDULE


@pytest.mark.parametrize(
    ("rule", "function"),
    [
        ("Uploads", "StartFromUpload"),
        ("JobEvents", "RelayJobEvent"),
        ("ExecutionEnds", "CleanUpExecution"),
        ("Sweep", "SweepProvisionedThroughputs"),
    ],
)
def test_every_target_retries_then_dead_letters_into_its_own_encrypted_queue(
    assembly: CloudAssembly, rule: str, function: str
) -> None:
    (target,) = _rule(assembly, rule)["Targets"]
    function_id, lambda_function = _only(assembly, "AWS::Lambda::Function", f"Triggers{function}Function")
    queue_id, queue = _only(assembly, "AWS::SQS::Queue", f"Triggers{function}DeadLetters")
    # Then the rule invokes the function, retries, and dead-letters what it cannot deliver
    assert target["Arn"] == f"${{{function_id}.Arn}}"
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": EVENT_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": EVENT_MAX_AGE_SECONDS,
    }
    assert target["DeadLetterConfig"] == {"Arn": f"${{{queue_id}.Arn}}"}
    # And an invocation that fails Lambda's own retries lands in the same queue
    assert render(lambda_function["Properties"]["DeadLetterConfig"]) == {"TargetArn": f"${{{queue_id}.Arn}}"}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    policies = [
        render(p["Properties"]["PolicyDocument"])
        for p in assembly.of_type("AWS::SQS::QueuePolicy").values()
        if render(p["Properties"]["Queues"]) == [f"${{{queue_id}}}"]
    ]
    statements = [s for policy in policies for s in policy["Statement"]]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_task_tokens_are_released_only_to_this_state_machine(assembly: CloudAssembly) -> None:
    for function in ("RegisterJobWaiter", "RelayJobEvent"):
        assert _grants(assembly, function, "states") == {("states:SendTaskSuccess", STATE_MACHINE_ARN)}, function
    assert _grants(assembly, "StartFromUpload", "states") == {("states:StartExecution", STATE_MACHINE_ARN)}
    assert _grants(assembly, "CleanUpExecution", "states") == {("states:GetExecutionHistory", EXECUTIONS_ARN)}
    assert _grants(assembly, "SweepProvisionedThroughputs", "states") == {("states:DescribeExecution", EXECUTIONS_ARN)}
    # And the named state machine is the one those ARNs name
    _, machine = _only(assembly, "AWS::StepFunctions::StateMachine", "PipelineStateMachine")
    assert render(machine["Properties"]["StateMachineName"]) == "BedrockDistill-distillation"


def test_the_token_table_is_encrypted_with_the_key_recoverable_and_expires_tokens(assembly: CloudAssembly) -> None:
    table_id, table = _only(assembly, "AWS::DynamoDB::Table", "PipelineJobWaiters")
    key_id, _ = _only(assembly, "AWS::KMS::Key", "Encryption")
    properties = render(table["Properties"])
    assert properties["SSESpecification"] == {
        "KMSMasterKeyId": f"${{{key_id}.Arn}}",
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    # Only the two functions that file and take tokens touch it
    for function in ("RegisterJobWaiter", "RelayJobEvent"):
        assert {resource for _, resource in _grants(assembly, function, "dynamodb")} == {f"${{{table_id}.Arn}}"}
    assert _grants(assembly, "RelayJobEvent", "dynamodb") == {("dynamodb:DeleteItem", f"${{{table_id}.Arn}}")}


def test_the_upload_trigger_reads_only_the_trigger_prefix(assembly: CloudAssembly) -> None:
    bucket_id, _ = _only(assembly, "AWS::S3::Bucket", "BucketsInputs")
    assert _grants(assembly, "StartFromUpload", "s3") == {
        ("s3:GetObject", f"${{{bucket_id}.Arn}}/datasets/incoming/*"),
        ("s3:ListBucket", f"${{{bucket_id}.Arn}}"),
    }


def test_every_event_function_is_deployed(assembly: CloudAssembly) -> None:
    for name, spec in EVENT_FUNCTIONS.items():
        _, function = _only(assembly, "AWS::Lambda::Function", f"Triggers{name}Function")
        assert function["Properties"]["Handler"] == spec.handler
        assert function["Properties"]["Timeout"] == spec.timeout_seconds


def test_the_upload_location_is_an_output(assembly: CloudAssembly) -> None:
    bucket_id, _ = _only(assembly, "AWS::S3::Bucket", "BucketsInputs")
    outputs = render(assembly.template["Outputs"])
    assert outputs["UploadLocation"]["Value"] == f"s3://${{{bucket_id}}}/datasets/incoming/"


def test_the_execution_end_cleanup_records_handled_events_in_its_own_encrypted_table(assembly: CloudAssembly) -> None:
    table_id, table = _only(assembly, "AWS::DynamoDB::Table", "TriggersIdempotency")
    key_id, _ = _only(assembly, "AWS::KMS::Key", "Encryption")
    properties = render(table["Properties"])
    assert properties["SSESpecification"]["KMSMasterKeyId"] == f"${{{key_id}.Arn}}"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # Only the cleanup uses it, with exactly the item actions Powertools idempotency needs
    assert _grants(assembly, "CleanUpExecution", "dynamodb") == {
        (action, f"${{{table_id}.Arn}}")
        for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
    }
    _, function = _only(assembly, "AWS::Lambda::Function", "TriggersCleanUpExecutionFunction")
    assert render(function["Properties"]["Environment"]["Variables"]["IDEMPOTENCY_TABLE"]) == f"${{{table_id}}}"
