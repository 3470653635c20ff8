"""`distill doctor`: whether a real account and Region could run a distillation, before anything is bought.

Every call here is free and read-only: CloudFormation DescribeStacks and ListStackResources, Bedrock
ListFoundationModels, GetFoundationModel, GetFoundationModelAvailability and
GetModelInvocationLoggingConfiguration, Service Quotas GetServiceQuota and IAM SimulatePrincipalPolicy.
Each check ends in one `Check`: what was found and, when something needs doing, what to do.

A check that fails means a run cannot succeed as things are; one that could not be made (the call was
refused or failed) cannot say a run would succeed either. Either makes the verdict "not ready".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any, Final

from bedrock_distill.catalog import (
    ModelPair,
    describe_region,
    pair_problem,
    parse_model_id,
    region_default,
    teacher_route,
)
from bedrock_distill.gateways.calls import named_errors
from bedrock_distill.gateways.clients import LazyClient
from bedrock_distill.invocation_logging import ROLE_CONTEXT_KEY
from bedrock_distill.workflow.errors import WorkflowError
from bedrock_distill.workflow.jobs import CUSTOMIZATION_TYPE
from bedrock_distill.workflow.quotas import NO_COMMITMENT_MODEL_UNITS
from distill_cli.errors import OperatorError, explained
from distill_cli.stack import (
    DISTILLATION_SERVICE_ROLE_ARN,
    INVOCATION_LOG_SOURCE,
    OUTCOME_TOPIC_ARN,
    STUDENT_MODEL_ID,
    TEACHER_MODEL_ID,
    UPLOAD_LOCATION,
    Stack,
    StackGateway,
    StackNotFoundError,
)

# ListFoundationModels' byCustomizationType: DISTILLATION (the customization type the runs create) where
# botocore's bedrock model has it (older botocore releases only know FINE_TUNING and CONTINUED_PRE_TRAINING).
DISTILLATION: Final = CUSTOMIZATION_TYPE
FINE_TUNING: Final = "FINE_TUNING"
SERVICE_QUOTAS_BEDROCK: Final = "bedrock"
# What a no-commitment PT of the student needs at least: `distill start --model-units` defaults to the
# deployment's provisionedModelUnits, 1 unless configured.
MIN_MODEL_UNITS: Final = 1
MODEL_ACCESS_CONSOLE: Final = "Bedrock console > Model access"
# What the custom-model deployment quotas' names contain (matched lower-case): their exact names and codes were
# not readable in AWS's quota table when this was written, so they are found in ListServiceQuotas' answer.
DEPLOYMENT_QUOTA_NAME: Final = "custom model deployment"
# A placeholder name for the resources a run creates: IAM policies grant them by prefix or wildcard.
EXAMPLE: Final = "distill-doctor-example"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # a run can succeed, but read this
    FAIL = "fail"  # a run cannot succeed as things are
    UNKNOWN = "unknown"  # the check could not be made
    SKIP = "skip"  # nothing to check (no deployed stack)


BLOCKING: Final = frozenset({Status.FAIL, Status.UNKNOWN})


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    action: str | None = None

    def render(self) -> str:
        line = f"{self.status.value.upper():7} {self.name}: {self.detail}"
        return f"{line}; to do: {self.action}" if self.action else line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status.value}


@dataclass
class DoctorReport:
    region: str
    stack_name: str
    stack_found: bool
    pair: ModelPair | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not any(check.status in BLOCKING for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "stackName": self.stack_name,
            "stackFound": self.stack_found,
            "teacher": self.pair.teacher if self.pair else None,
            "student": self.pair.student if self.pair else None,
            "checks": [check.to_dict() for check in self.checks],
            "verdict": "ready" if self.ready else "not ready",
        }


# The AWS client of a service, by name (the command's session's, in the CLI).
Clients = Callable[[str], Any]


class _CallRefusedError(Exception):
    """A call was refused or failed: the check could not be made."""


@contextmanager
def _call(operation: str) -> Iterator[None]:
    try:
        with named_errors("doctor", operation):
            yield
    except WorkflowError as error:
        raise _CallRefusedError(explained(error)) from error


def examine(
    clients: Clients,
    region: str,
    stack_name: str,
    teacher: str | None = None,
    student: str | None = None,
) -> DoctorReport:
    """Every check, in the order a person fixes them."""
    stack, stack_check = _find_stack(clients, stack_name)
    pair = _pair(teacher, student, stack, region)
    report = DoctorReport(region=region, stack_name=stack_name, stack_found=stack is not None, pair=pair)
    report.checks.append(stack_check)
    report.checks.append(_pair_check(pair, region))
    if pair is not None:
        report.checks.append(_guarded("listing", lambda: _listing_check(clients("bedrock"), pair, region)))
        for model_id in (_foundation_model(pair.teacher, region), pair.student):
            report.checks.append(_guarded(f"access {model_id}", partial(_access_check, clients("bedrock"), model_id)))
    report.checks.append(_guarded("quota", lambda: _quota_check(clients("service-quotas"), region)))
    report.checks.append(
        _guarded("deployment quota", lambda: _deployment_quota_check(clients("service-quotas"), region))
    )
    report.checks.append(_guarded("invocation logging", lambda: _logging_check(clients("bedrock"), stack)))
    report.checks.extend(_permission_checks(clients, stack, pair, region))
    return report


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except _CallRefusedError as refused:
        return Check(name, Status.UNKNOWN, f"could not check ({refused})", "allow the caller this read-only call")


# The stack and the pair --------------------------------------------------------------------------------------


def _find_stack(clients: Clients, stack_name: str) -> tuple[Stack | None, Check]:
    try:
        stack = StackGateway(LazyClient("cloudformation", clients("cloudformation"))).find(stack_name)
    except StackNotFoundError:
        return None, Check(
            "stack", Status.SKIP, f"{stack_name} is not deployed here: checks of a deployment are skipped"
        )
    except (OperatorError, WorkflowError) as error:
        return None, Check("stack", Status.UNKNOWN, str(error), "allow cloudformation:DescribeStacks")
    # ROLLBACK_COMPLETE: the creation failed and nothing is left; UPDATE_ROLLBACK_COMPLETE is the previous version.
    if not stack.status.endswith("_COMPLETE") or stack.status == "ROLLBACK_COMPLETE":
        return stack, Check(
            "stack", Status.FAIL, f"{stack_name} is {stack.status}", "fix and redeploy it (`npx aws-cdk@2 deploy`)"
        )
    return stack, Check("stack", Status.OK, f"{stack_name} is {stack.status}")


def _pair(teacher: str | None, student: str | None, stack: Stack | None, region: str) -> ModelPair | None:
    """--teacher/--student, else the deployed stack's pair, else the pair a deployment here uses by default."""
    if teacher and student:
        return ModelPair(teacher, student)
    if stack is not None and stack.outputs.get(TEACHER_MODEL_ID) and stack.outputs.get(STUDENT_MODEL_ID):
        return ModelPair(stack.teacher_model_id, stack.student_model_id)
    return region_default(region)


def _pair_check(pair: ModelPair | None, region: str) -> Check:
    if pair is None:
        return Check(
            "pair",
            Status.FAIL,
            f"no pair configured and no default in {region}; {describe_region(region)}",
            "pass --teacher and --student (and deploy with -c teacherModelId=... -c studentModelId=...)",
        )
    if problem := pair_problem(pair.teacher, pair.student, region):
        return Check(
            "pair",
            Status.FAIL,
            problem,
            "deploy in a Region that offers the pair (--region), or choose a pair offered here "
            "(-c teacherModelId=... -c studentModelId=...)",
        )
    return Check("pair", Status.OK, f"{pair} is offered in {region}")


def _foundation_model(teacher: str, region: str) -> str:
    """The foundation model behind the teacher as written (an inference profile routes to one)."""
    try:
        return teacher_route(teacher, region).foundation_model_id
    except ValueError:
        return parse_model_id(teacher).base_model_id


# Bedrock's own answers ------------------------------------------------------------------------------------------


def customization_type(bedrock: Any) -> str:
    """DISTILLATION when the installed botocore knows it, else FINE_TUNING (students are fine-tunable too)."""
    shape = bedrock.meta.service_model.operation_model("ListFoundationModels").input_shape
    return DISTILLATION if DISTILLATION in shape.members["byCustomizationType"].enum else FINE_TUNING


def _listing_check(bedrock: Any, pair: ModelPair, region: str) -> Check:
    kind = customization_type(bedrock)
    with _call("ListFoundationModels"):
        summaries = bedrock.list_foundation_models(byCustomizationType=kind)["modelSummaries"]
    listed = {summary["modelId"] for summary in summaries}
    note = "" if kind == DISTILLATION else " (this botocore has no DISTILLATION filter: FINE_TUNING used)"
    student_base = parse_model_id(pair.student).base_model_id
    if pair.student in listed or student_base in {parse_model_id(model).base_model_id for model in listed}:
        return Check("listing", Status.OK, f"Bedrock lists {pair.student} for {kind} in {region}{note}")
    return Check(
        "listing",
        Status.FAIL,
        f"Bedrock does not list {pair.student} for {kind} in {region}{note} "
        f"(it lists {len(listed)}: {', '.join(sorted(listed)) or 'none'})",
        "choose a student Bedrock lists here, or another Region",
    )


def _access_check(bedrock: Any, model_id: str) -> Check:
    name = f"access {model_id}"
    try:
        with _call("GetFoundationModel"):
            bedrock.get_foundation_model(modelIdentifier=model_id)
    except _CallRefusedError as refused:
        return Check(name, Status.FAIL, f"cannot read the model ({refused})", "check the model id and the Region")
    if "GetFoundationModelAvailability" not in bedrock.meta.service_model.operation_names:
        return Check(name, Status.OK, "readable (this botocore cannot ask for model access: check it in the console)")
    with _call("GetFoundationModelAvailability"):
        availability = bedrock.get_foundation_model_availability(modelId=model_id)
    refusals = [
        f"{key} {value}"
        for key, value in (
            ("authorization", availability.get("authorizationStatus")),
            ("entitlement", availability.get("entitlementAvailability")),
            ("Region availability", availability.get("regionAvailability")),
            ("agreement", availability.get("agreementAvailability", {}).get("status")),
        )
        if value not in (None, "AUTHORIZED", "AVAILABLE")
    ]
    if refusals:
        return Check(
            name,
            Status.FAIL,
            f"no access: {', '.join(refusals)}",
            f"request access to the model in the {MODEL_ACCESS_CONSOLE}",
        )
    return Check(name, Status.OK, "authorized and available")


def _quota_check(service_quotas: Any, region: str) -> Check:
    quota = NO_COMMITMENT_MODEL_UNITS
    with _call("GetServiceQuota"):
        value = service_quotas.get_service_quota(ServiceCode=SERVICE_QUOTAS_BEDROCK, QuotaCode=quota.code)["Quota"][
            "Value"
        ]
    units = int(value)
    if units < MIN_MODEL_UNITS:
        return Check(
            "quota",
            Status.FAIL,
            f"'{quota.name}' ({quota.code}) is {units} in {region}: no Provisioned Throughput can be bought to "
            "validate the student",
            f"{quota.request_increase(str(MIN_MODEL_UNITS))}: `aws service-quotas request-service-quota-increase "
            f"--service-code {SERVICE_QUOTAS_BEDROCK} --quota-code {quota.code} --desired-value {MIN_MODEL_UNITS} "
            f"--region {region}`",
        )
    return Check("quota", Status.OK, f"'{quota.name}' ({quota.code}) is {units} model unit(s) in {region}")


def _deployment_quota_check(service_quotas: Any, region: str) -> Check:
    """The custom-model deployment quotas, found by name: a deployment serves a custom model on demand (user guide,
    "Deploy a custom model for on-demand inference"). This pipeline validates on Provisioned Throughput, so they
    are reported for the day it deploys instead, never a reason a run cannot start."""
    name = "deployment quota"
    with _call("ListServiceQuotas"):
        pages = service_quotas.get_paginator("list_service_quotas").paginate(ServiceCode=SERVICE_QUOTAS_BEDROCK)
        quotas = [quota for page in pages for quota in page["Quotas"]]
    found = [quota for quota in quotas if DEPLOYMENT_QUOTA_NAME in quota["QuotaName"].lower()]
    if not found:
        return Check(name, Status.SKIP, f"Service Quotas lists no custom-model deployment quota in {region}")
    listed = "; ".join(f"'{quota['QuotaName']}' ({quota['QuotaCode']}) is {quota['Value']:g}" for quota in found)
    return Check(name, Status.OK, f"{listed} (runs validate on Provisioned Throughput, not on a deployment)")


def _logging_check(bedrock: Any, stack: Stack | None) -> Check:
    name = "invocation logging"
    with _call("GetModelInvocationLoggingConfiguration"):
        configuration: dict[str, Any] | None = bedrock.get_model_invocation_logging_configuration().get("loggingConfig")
    ours = _log_bucket(stack)
    s3_bucket = ((configuration or {}).get("s3Config") or {}).get("bucketName")
    cloud_watch = (configuration or {}).get("cloudWatchConfig")
    if ours is not None:
        if s3_bucket == ours and (configuration or {}).get("textDataDeliveryEnabled"):
            return Check(name, Status.OK, f"text logs go to the stack's bucket {ours}")
        found = f"to S3 bucket {s3_bucket}" if s3_bucket else "off" if configuration is None else "not to S3"
        return Check(
            name,
            Status.WARN,
            f"logging is {found}, not to the stack's bucket {ours}: runs from logs will not see new calls",
            "redeploy the stack (`npx aws-cdk@2 deploy`) to put its logging back",
        )
    if configuration is None:
        return Check(name, Status.OK, "off: deploying turns on text logging to the stack's bucket")
    if cloud_watch is not None:
        role = cloud_watch.get("roleArn")
        return Check(
            name,
            Status.WARN,
            f"logs go to CloudWatch Logs (log group {cloud_watch.get('logGroupName')}) as role {role}"
            + (f" and to S3 bucket {s3_bucket}" if s3_bucket else "")
            + ": deploying keeps the CloudWatch delivery and sends S3 delivery to the stack's bucket",
            f"deploy with -c {ROLE_CONTEXT_KEY}={role} (the deploy refuses to pass any other role)",
        )
    if s3_bucket:
        return Check(
            name,
            Status.WARN,
            f"logs go to S3 bucket {s3_bucket}: deploying moves them to the stack's bucket "
            "(`cdk destroy` puts this configuration back)",
            f"nothing, unless something reads {s3_bucket}: then plan for the move",
        )
    return Check(name, Status.OK, "configured without a destination: deploying sends text logs to the stack's bucket")


def _log_bucket(stack: Stack | None) -> str | None:
    source = (stack.outputs.get(INVOCATION_LOG_SOURCE) if stack else None) or ""
    return _split_s3(source)[0] if source else None


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


# The deployment's roles ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One authorization a pipeline call needs: an action on a resource, with its request context."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def context_entries(self) -> list[dict[str, Any]]:
        return [{"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"} for k, v in self.context]


@dataclass(frozen=True)
class Place:
    """The real names a run's calls touch, from the stack's outputs and resources."""

    partition: str
    region: str
    account: str
    inputs: tuple[str, str]  # bucket, key prefix ending in /
    uploads: tuple[str, str]
    outputs: tuple[str, str]
    logs: tuple[str, str]
    topic_arn: str
    state_machine_arn: str
    service_role_arn: str
    table_name: str | None
    idempotency_table_name: str | None

    def bedrock(self, resource: str) -> str:
        return f"arn:{self.partition}:bedrock:{self.region}:{self.account}:{resource}"

    def foundation_model(self, model_id: str, region: str | None = None) -> str:
        return f"arn:{self.partition}:bedrock:{region or self.region}::foundation-model/{model_id}"

    def object_arn(self, location: tuple[str, str]) -> str:
        return f"arn:{self.partition}:s3:::{location[0]}/{location[1]}{EXAMPLE}.jsonl"

    def bucket_arn(self, location: tuple[str, str]) -> str:
        return f"arn:{self.partition}:s3:::{location[0]}"


def _read(place: Place, location: tuple[str, str], *, listing: bool = True) -> list[Call]:
    calls = [Call("s3:GetObject", place.object_arn(location))]
    if listing:
        calls.append(Call("s3:ListBucket", place.bucket_arn(location), (("s3:prefix", location[1]),)))
    return calls


def _write(place: Place, location: tuple[str, str]) -> list[Call]:
    return [Call("s3:PutObject", place.object_arn(location))]


def pipeline_calls(place: Place, pair: ModelPair) -> dict[str, list[Call]]:
    """What each workflow function (by its construct id) and the service role call in a run."""
    job = place.bedrock(f"model-customization-job/{EXAMPLE}")
    custom_model = place.bedrock(f"custom-model/{EXAMPLE}")
    provisioned = place.bedrock(f"provisioned-model/{EXAMPLE}")
    state_machine_name = place.state_machine_arn.rsplit(":", 1)[-1]
    execution = f"arn:{place.partition}:states:{place.region}:{place.account}:execution:{state_machine_name}:{EXAMPLE}"
    table = f"arn:{place.partition}:dynamodb:{place.region}:{place.account}:table/{place.table_name}"
    create_job = [
        Call("bedrock:CreateModelCustomizationJob", resource)
        for resource in (job, custom_model, place.foundation_model(pair.student))
    ]
    idempotency = f"arn:{place.partition}:dynamodb:{place.region}:{place.account}:table/{place.idempotency_table_name}"
    tagged_pt = [
        Call("bedrock:ListProvisionedModelThroughputs", "*"),
        Call("bedrock:ListTagsForResource", provisioned),
        Call("bedrock:GetProvisionedModelThroughput", provisioned),
        Call("bedrock:DeleteProvisionedModelThroughput", provisioned),
        Call("sns:Publish", place.topic_arn),
    ]
    calls: dict[str, list[Call]] = {
        "Preflight": [*_read(place, place.inputs), *_read(place, place.logs), *_write(place, place.outputs)],
        "CreateJob": [
            *create_job,
            Call("bedrock:TagResource", job),
            Call("iam:PassRole", place.service_role_arn, (("iam:PassedToService", "bedrock.amazonaws.com"),)),
        ],
        "JobStatus": [Call("bedrock:GetModelCustomizationJob", job)],
        "RegisterJobWaiter": [
            *([Call("dynamodb:PutItem", table), Call("dynamodb:DeleteItem", table)] if place.table_name else []),
            Call("bedrock:GetModelCustomizationJob", job),
            Call("states:SendTaskSuccess", place.state_machine_arn),
        ],
        "CollectMetrics": [*_read(place, place.outputs), *_write(place, place.outputs)],
        "CreateProvisionedThroughput": [
            Call("bedrock:CreateProvisionedModelThroughput", custom_model),
            Call("bedrock:CreateProvisionedModelThroughput", provisioned),
            Call("bedrock:TagResource", provisioned),
        ],
        "ProvisionedThroughputStatus": [Call("bedrock:GetProvisionedModelThroughput", provisioned)],
        "DeleteProvisionedThroughput": [
            Call("bedrock:GetProvisionedModelThroughput", provisioned),
            Call("bedrock:DeleteProvisionedModelThroughput", provisioned),
        ],
        "ValidateModel": [
            Call("bedrock:InvokeModel", provisioned),
            *_read(place, place.inputs, listing=False),
            *_read(place, place.outputs, listing=False),
            *_write(place, place.outputs),
        ],
        "Notify": [Call("sns:Publish", place.topic_arn), Call("states:GetExecutionHistory", execution)],
        # The functions EventBridge runs: an upload starts a run, a job event releases it, and the cleanups.
        "StartFromUpload": [*_read(place, place.uploads), Call("states:StartExecution", place.state_machine_arn)],
        "RelayJobEvent": [
            *([Call("dynamodb:DeleteItem", table)] if place.table_name else []),
            Call("states:SendTaskSuccess", place.state_machine_arn),
        ],
        "CleanUpExecution": [
            *tagged_pt,
            Call("bedrock:ListModelCustomizationJobs", "*"),
            Call("bedrock:ListTagsForResource", job),
            Call("bedrock:StopModelCustomizationJob", job),
            Call("states:GetExecutionHistory", execution),
            *(
                [Call(f"dynamodb:{action}", idempotency) for action in ("PutItem", "UpdateItem", "DeleteItem")]
                if place.idempotency_table_name
                else []
            ),
        ],
        "SweepProvisionedThroughputs": [*tagged_pt, Call("states:DescribeExecution", execution)],
        "DistillationServiceRole": [
            *_read(place, place.inputs),
            *_read(place, place.logs),
            *_read(place, place.outputs),
            *_write(place, place.outputs),
            *(Call("bedrock:InvokeModel", arn) for arn in _teacher_arns(place, pair.teacher)),
        ],
    }
    return calls


def _teacher_arns(place: Place, teacher: str) -> list[str]:
    """What invoking the teacher touches: its foundation model here, or its profile and each Region it routes to."""
    try:
        route = teacher_route(teacher, place.region)
    except ValueError:
        return [place.foundation_model(parse_model_id(teacher).base_model_id)]
    if route.inference_profile_id is None:
        return [place.foundation_model(route.foundation_model_id)]
    return [
        place.bedrock(f"inference-profile/{route.inference_profile_id}"),
        *(place.foundation_model(route.foundation_model_id, region) for region in route.regions),
    ]


def _permission_checks(clients: Clients, stack: Stack | None, pair: ModelPair | None, region: str) -> list[Check]:
    if stack is None:
        return [Check("permissions", Status.SKIP, "no deployed stack: the roles are checked once it is deployed")]
    if pair is None:
        return [Check("permissions", Status.SKIP, "no pair to check the roles against")]
    try:
        with _call("ListStackResources"):
            resources = _stack_resources(clients("cloudformation"), stack.name)
        place = _place(stack, region, resources)
    except (_CallRefusedError, OperatorError) as error:
        return [Check("permissions", Status.UNKNOWN, f"could not find the roles ({error})", "redeploy the stack")]
    roles = {
        _construct_id(logical): physical for logical, (kind, physical) in resources.items() if kind == "AWS::IAM::Role"
    }
    iam = clients("iam")
    checks = []
    for owner, calls in pipeline_calls(place, pair).items():
        # CDK's construct paths: Pipeline/<function>/Role and DistillationServiceRole/Role.
        role_name = roles.get(f"Pipeline{owner}Role") or roles.get(f"Triggers{owner}Role") or roles.get(owner)
        name = f"role {owner}"
        if role_name is None:
            checks.append(Check(name, Status.FAIL, "not in the stack", "redeploy the current version"))
            continue
        role_arn = f"arn:{place.partition}:iam::{place.account}:role/{role_name}"
        checks.append(_guarded(name, partial(_simulate, iam, name, role_arn, calls)))
    return checks


def _simulate(iam: Any, name: str, role_arn: str, calls: Sequence[Call]) -> Check:
    denied = []
    for call in calls:
        with _call("SimulatePrincipalPolicy"):
            response = iam.simulate_principal_policy(
                PolicySourceArn=role_arn,
                ActionNames=[call.action],
                ResourceArns=[call.resource],
                ContextEntries=call.context_entries(),
            )
        decisions = {result["EvalDecision"] for result in response["EvaluationResults"]}
        if decisions != {"allowed"}:
            denied.append(f"{call.action} on {call.resource} ({', '.join(sorted(decisions))})")
    if denied:
        return Check(
            name,
            Status.FAIL,
            f"{role_arn} may not make {len(denied)} of its {len(calls)} call(s): {'; '.join(denied)}",
            "redeploy the current version; if it still fails, a permissions boundary or an SCP denies these",
        )
    return Check(name, Status.OK, f"{role_arn} may make its {len(calls)} call(s)")


def _stack_resources(cloudformation: Any, stack_name: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (resource type, physical id)."""
    resources: dict[str, tuple[str, str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for item in page["StackResourceSummaries"]:
            resources[item["LogicalResourceId"]] = (item["ResourceType"], item.get("PhysicalResourceId", ""))
    return resources


def _construct_id(logical_id: str) -> str:
    """CDK's logical id without the 8-hex-digit hash it ends in: "PipelineCreateJobRole4B81AE63" -> "...Role"."""
    head, tail = logical_id[:-8], logical_id[-8:]
    return head if len(logical_id) > 8 and all(c in "0123456789ABCDEF" for c in tail) else logical_id


def _place(stack: Stack, region: str, resources: dict[str, tuple[str, str]]) -> Place:
    service_role_arn = stack.output(DISTILLATION_SERVICE_ROLE_ARN)
    arn_parts = service_role_arn.split(":")
    log_bucket, log_key = _split_s3(stack.invocation_log_source)
    tables = {
        _construct_id(logical): physical
        for logical, (kind, physical) in resources.items()
        if kind == "AWS::DynamoDB::Table"
    }
    return Place(
        partition=arn_parts[1],
        region=region,
        account=arn_parts[4],
        inputs=_split_s3(stack.input_location),
        uploads=_split_s3(stack.output(UPLOAD_LOCATION)),
        outputs=_split_s3(stack.output_location),
        logs=(log_bucket, log_key.rstrip("/") + "/"),
        topic_arn=stack.output(OUTCOME_TOPIC_ARN),
        state_machine_arn=stack.state_machine_arn,
        service_role_arn=service_role_arn,
        table_name=tables.get("PipelineJobWaiters"),
        idempotency_table_name=tables.get("TriggersIdempotency"),
    )


# The command -------------------------------------------------------------------------------------------------------


def doctor(context: Any) -> int:
    """`distill doctor`, run by `commands.run`: one line per check (or one JSON object); 0 only when ready."""
    from distill_cli.console import print_json, say  # noqa: PLC0415 - rich loads for commands only

    args = context.args
    if bool(args.teacher) != bool(args.student):
        raise OperatorError("--teacher and --student go together: pass both, or neither for the stack's pair")
    report = examine(context.aws.client, context.aws.region, args.stack_name, args.teacher, args.student)
    if args.json:
        print_json(context.console, report.to_dict())
    else:
        for check in report.checks:
            say(context.console, check.render(), _STYLES[check.status])
        verdict = "ready: a run could succeed" if report.ready else "not ready: fix the FAIL and UNKNOWN lines above"
        say(context.console, f"verdict: {verdict}", "green" if report.ready else "red")
    return 0 if report.ready else 1


_STYLES: Final = {
    Status.OK: "green",
    Status.WARN: "yellow",
    Status.FAIL: "red",
    Status.UNKNOWN: "red",
    Status.SKIP: None,
}
