"""Every cdk-nag finding we accept, each on the one construct it concerns, with the reason.

cdk-nag 3 acknowledges one finding id at a time (`RuleId[FindingId]`), so a new wildcard or a new
managed policy is never waved through by an earlier acknowledgement.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from bedrock_distill.workflow.run import SCORECARD_FILE
from bedrock_distill.workflow.settings import UPLOAD_TRIGGER_PREFIX
from stacks.components.evaluation_role import EVALUATION_DATASETS_PREFIX, EVALUATION_OUTPUT_PREFIX
from stacks.components.pipeline import PREFLIGHT_REPORTS, RESPONSES_PREFIX
from stacks.components.project_function import ProjectFunction
from stacks.config import INPUT_PREFIX, LAMBDA_RUNTIME, OUTPUT_PREFIX
from stacks.pipeline_spec import EVENT_FUNCTIONS, STATE_MACHINE_NAME_SUFFIX, WORKFLOW_FUNCTIONS

XRAY_REASON = (
    "Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions."
)
SYNCHRONOUS_REASON = (
    "Invoked synchronously by Step Functions, whose Retry and Catch handle failures; a DLQ only receives "
    "failed asynchronous invocations."
)
LIST_REASON = (
    "bedrock:ListProvisionedModelThroughputs, ListCustomModelDeployments, ListModelCustomizationJobs and "
    "ListEvaluationJobs support no resource type; the cleanup keeps only what carries this project's tags. Also "
    "X-Ray (active tracing), which supports no resource type either."
)
FIND_EVALUATION_JOB_REASON = (
    "bedrock:ListEvaluationJobs supports no resource type: a retried create finds the job of its own name by "
    "listing (GetEvaluationJob takes an ARN only). Also X-Ray (active tracing), which supports no resource type."
)
DEAD_LETTER_REASON = (
    "This queue is itself the dead-letter queue of an EventBridge target and its function; a DLQ for it would "
    "only move the same undeliverable events again. The DLQ alarm reports anything that lands here."
)
# Runtime dates: AWS Lambda developer guide, "Building Lambda functions with Python" (supported runtimes).
RUNTIME_REASON = (
    f"{LAMBDA_RUNTIME.name} (Amazon Linux 2023; Lambda deprecates it on 30 June 2029), not the newest Lambda Python, "
    "because it is the newest one the project's machines and CI have: every test tier runs on the functions' own "
    "Python (the Makefile builds the venv on it), so what passes offline is what Lambda runs."
)
# Bedrock names these resources with ids it generates at creation, so a policy can only name the type.
BEDROCK_RESOURCE_REASONS = {
    "model-customization-job": "Job ARNs end in an id Bedrock generates at creation",
    "custom-model": "Custom-model ARNs end in an id Bedrock generates when the job completes",
    "provisioned-model": "Provisioned-model ARNs end in an id Bedrock generates at creation",
    "custom-model-deployment": "Custom-model-deployment ARNs end in an id Bedrock generates at creation",
    "evaluation-job": "Evaluation-job ARNs end in an id Bedrock generates at creation",
}
# Files in every run's own folder under the output prefix (named per execution), by what they hold: a grant on one
# of these reaches that file or folder of each run and nothing else of it.
RUN_FILES = {
    f"{RESPONSES_PREFIX}/*": "both sides' answers to the held-out prompts",
    f"{EVALUATION_DATASETS_PREFIX}/*": "the judge's datasets",
    f"{EVALUATION_OUTPUT_PREFIX}/*": "the judge's results, under names Bedrock chooses per job",
    f"{OUTPUT_PREFIX}/*/{SCORECARD_FILE}": "the scorecard",
    PREFLIGHT_REPORTS: "Preflight's report (the log scan's token volume)",
}


def acknowledge_reviewed_findings(stack: Stack) -> None:
    _acknowledge_distillation_role(stack)
    _acknowledge_evaluation_role(stack)
    _acknowledge_invocation_logging(stack)
    _acknowledge_pipeline(stack)
    _acknowledge_runtime(stack)


def _acknowledge_runtime(stack: Stack) -> None:
    for construct in stack.node.find_all():
        if isinstance(construct, ProjectFunction):
            for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
                _acknowledge(construct.function, rule, RUNTIME_REASON)


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


def _acknowledge_evaluation_role(stack: Stack) -> None:
    policy = stack.node.find_child("EvaluationServiceRole").node.find_child("Role").node.find_child("DefaultPolicy")
    outputs = stack.get_logical_id(stack.node.find_child("Buckets").node.find_child("Outputs").node.default_child)  # type: ignore[arg-type]
    for pattern in (f"{EVALUATION_DATASETS_PREFIX}/*", f"{EVALUATION_OUTPUT_PREFIX}/*"):
        _acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{outputs}.Arn>/{pattern}]",
            f"The evaluation job reads or writes {RUN_FILES[pattern]} in the folder of the run that created it, "
            "whose name is chosen per execution; no other file of any run is reachable.",
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


def _acknowledge_pipeline(stack: Stack) -> None:
    pipeline = stack.node.find_child("Pipeline")
    buckets = stack.node.find_child("Buckets")
    bucket_ids = {
        construct_id: stack.get_logical_id(buckets.node.find_child(construct_id).node.default_child)  # type: ignore[arg-type]
        for construct_id in ("Inputs", "InvocationLogs", "Outputs")
    }
    log_prefix = str(stack.node.try_get_context("invocationLogPrefix"))
    bedrock = "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>"
    state_machine_policy = (
        pipeline.node.find_child("StateMachine").node.find_child("Role").node.find_child("DefaultPolicy")
    )
    _acknowledge(
        state_machine_policy,
        "AwsSolutions-IAM5[Resource::*]",
        "Logging to CloudWatch Logs uses vended log delivery (logs:CreateLogDelivery, ...), and tracing uses "
        "X-Ray; neither supports resource-level permissions.",
    )
    executions = (
        f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"{stack.stack_name}-{STATE_MACHINE_NAME_SUFFIX}:*"
    )
    prefixes = [
        ("Inputs", INPUT_PREFIX),
        ("Inputs", UPLOAD_TRIGGER_PREFIX),
        ("InvocationLogs", log_prefix),
        ("Outputs", OUTPUT_PREFIX),
    ]
    triggers = stack.node.find_child("Triggers")
    functions = [(name, pipeline.node.find_child(name)) for name in WORKFLOW_FUNCTIONS]
    functions += [(name, triggers.node.find_child(name)) for name in EVENT_FUNCTIONS]
    for name, function in functions:
        policy = function.node.find_child("Role").node.find_child("DefaultPolicy")
        wildcard_reason = {
            "CleanUpExecution": LIST_REASON,
            "SweepProvisionedThroughputs": LIST_REASON,
            "CreateEvaluationJobs": FIND_EVALUATION_JOB_REASON,
        }
        _acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", wildcard_reason.get(name, XRAY_REASON))
        if name in WORKFLOW_FUNCTIONS:
            _acknowledge(function.node.find_child("Function"), "Serverless-LambdaDLQ", SYNCHRONOUS_REASON)
            function_id = stack.get_logical_id(function.node.find_child("Function").node.default_child)  # type: ignore[arg-type]
            _acknowledge(
                state_machine_policy,
                f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
                f"The state machine may invoke any version of its own {name} function (function ARN plus ':*').",
            )
        else:
            _acknowledge(
                triggers.node.find_child(f"{name}DeadLetters"), "Serverless-SQSRedrivePolicy", DEAD_LETTER_REASON
            )
        for resource in _policy_resources(policy):
            if resource == executions:
                _acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{resource}]",
                    "Execution names are chosen per run (by the user or the upload trigger); scoped to the "
                    "executions of this stack's one state machine.",
                )
                continue
            if resource.startswith(f"{bedrock}:"):
                kind = resource.removeprefix(f"{bedrock}:").split("/", 1)[0]
                reason = f"{BEDROCK_RESOURCE_REASONS[kind]}; scoped to this account's and Region's {kind}s."
            elif resource.startswith(f"<{bucket_ids['Outputs']}.Arn>/{OUTPUT_PREFIX}/*/"):
                pattern = resource.removeprefix(f"<{bucket_ids['Outputs']}.Arn>/")
                reason = (
                    f"Each run has its own folder under '{OUTPUT_PREFIX}/', named per execution; this function "
                    f"reaches only {RUN_FILES[pattern]} in it ('{pattern}')."
                )
            else:
                bucket_id, prefix = next((b, p) for b, p in prefixes if resource == f"<{bucket_ids[b]}.Arn>/{p}/*")
                reason = (
                    f"Run data lives under the '{prefix}/' prefix of the {bucket_id} bucket with names chosen per "
                    "run; access is scoped to that prefix."
                )
            _acknowledge(policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)


def _policy_resources(policy: IConstruct) -> list[str]:
    """The wildcard resources of a policy, as cdk-nag spells them in finding ids."""
    document = Stack.of(policy).resolve(policy.node.default_child.policy_document)  # type: ignore[union-attr]
    resources: list[str] = []
    for statement in document["Statement"]:
        items = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        resources += [_nag_spelling(item) for item in items]
    return sorted({r for r in resources if "*" in r and r != "*"})


def _nag_spelling(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_nag_spelling(part) for part in parts)
    raise ValueError(f"unexpected policy resource {value!r}")


def _acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
