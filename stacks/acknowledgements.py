"""Every cdk-nag finding we accept, each on the one construct it concerns, with the reason.

cdk-nag 3 acknowledges one finding id at a time (`RuleId[FindingId]`), so a new wildcard or a new
managed policy is never waved through by an earlier acknowledgement.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from stacks.config import INPUT_PREFIX, OUTPUT_PREFIX


def acknowledge_reviewed_findings(stack: Stack) -> None:
    _acknowledge_distillation_role(stack)
    _acknowledge_invocation_logging(stack)


def _acknowledge_distillation_role(stack: Stack) -> None:
    policy = stack.node.find_child("DistillationServiceRole").node.find_child("Role").node.find_child("DefaultPolicy")
    buckets = stack.node.find_child("Buckets")
    log_prefix = str(stack.node.try_get_context("invocationLogPrefix"))
    prefixes = {
        "Inputs": (INPUT_PREFIX, "reads the prompt dataset the user names at run time"),
        "InvocationLogs": (
            log_prefix,
            "walks every invocation-log object Bedrock delivered under the prefix",
        ),
        "Outputs": (OUTPUT_PREFIX, "writes artifacts whose names Bedrock chooses per job"),
    }
    for bucket_id, (prefix, purpose) in prefixes.items():
        logical_id = stack.get_logical_id(buckets.node.find_child(bucket_id).node.default_child)  # type: ignore[arg-type]
        _acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{prefix}/*]",
            f"The distillation job {purpose}; object names are not known at deploy time, "
            f"so access is scoped to the '{prefix}/' prefix of this one bucket.",
        )


def _acknowledge_invocation_logging(stack: Stack) -> None:
    logging = stack.node.find_child("InvocationLogging")
    handler = logging.node.find_child("Handler")
    _acknowledge(
        handler.node.find_child("Role").node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5[Resource::*]",
        "bedrock:Get/Put/DeleteModelInvocationLoggingConfiguration act on the account's single setting and "
        "support no resource type; xray:PutTraceSegments/PutTelemetryRecords (active tracing) also "
        "support no resource type.",
    )
    _acknowledge(
        handler.node.find_child("Function"),
        "Serverless-LambdaDLQ",
        "Invoked synchronously by the custom-resource provider, which reports failures to CloudFormation; "
        "a DLQ only receives failed asynchronous invocations.",
    )
    framework = logging.node.find_child("Provider").node.find_child("framework-onEvent")
    _acknowledge(
        framework.node.find_child("ServiceRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "The CDK custom-resource provider framework creates this role with the basic execution policy; "
        "the framework function only relays CloudFormation events to our handler.",
    )
    handler_logical_id = stack.get_logical_id(handler.node.find_child("Function").node.default_child)  # type: ignore[arg-type]
    _acknowledge(
        framework.node.find_child("ServiceRole").node.find_child("DefaultPolicy"),
        f"AwsSolutions-IAM5[Resource::<{handler_logical_id}.Arn>:*]",
        "The provider framework may invoke any version of our one handler function (function ARN plus ':*').",
    )
    for rule, reason in {
        "Serverless-LambdaDLQ": "Invoked synchronously by CloudFormation through the provider framework; "
        "failures are reported to CloudFormation, not retried asynchronously.",
        "Serverless-LambdaDefaultMemorySize": "The CDK provider framework's relay function; its memory is set "
        "by CDK and it does no work beyond relaying an event.",
        "Serverless-LambdaTracing": "The CDK provider framework's relay function does not expose tracing; our "
        "handler behind it is traced.",
    }.items():
        _acknowledge(framework, rule, reason)


def _acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
