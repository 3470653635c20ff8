"""The pipeline, deployed into moto from the synthesized template, and run by moto's Step Functions.

Everything comes from the template `cdk deploy` would upload (`offline.synth`): the buckets, tables and
topic, each function's handler and environment, and each function's role, whose policies decide every AWS
call the function makes (`offline.iam`); the Bedrock emulator runs jobs as the distillation service role
of the template. The state machine runs the stack's definition file with the stack's substitution names;
only its retry timings are shortened (moto really sleeps), as are the few polling settings in
`LocalPipeline.offline_timings`. Bedrock is the project's emulator, which must be active, inside
`mock_aws()`, before `deploy()`.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from bedrock_distill import catalog
from bedrock_distill.gateways.stepfunctions import TERMINAL_STATUSES
from bedrock_distill.handlers import common, invocation_logging
from bedrock_distill.workflow.settings import DEFAULT_MAX_PROVISIONED_THROUGHPUT_SECONDS, PipelineSettings
from offline import aws_semantics
from offline.events import EventPump, LocalRule
from offline.iam import enforcer as iam_enforcer
from offline.iam.enforcer import Enforcer, Principal
from offline.iam.requests import World
from offline.iam.service_roles import ServiceRole, TemplateServiceRoles
from offline.iam.template import Account, DeployedTemplate
from offline.lambda_runtime import LocalLambdas, activate, deactivate
from stacks.config import STACK_ID
from stacks.pipeline_spec import (
    EXECUTION_TIMEOUT_SECONDS,
    SWEEP_SCHEDULE,
    RetryTiming,
    all_functions,
    execution_end_pattern,
    job_end_pattern,
    render_definition,
    substitutions,
    upload_pattern,
)

# moto really sleeps in Wait states and between retries: keep them at the minimum Step Functions accepts.
FAST_RETRIES = RetryTiming(
    transient_interval_seconds=1,
    transient_max_delay_seconds=1,
    delete_interval_seconds=1,
    delete_max_delay_seconds=1,
)
# Runtime-level variables belong to the host (tests set tracing off); the offline world keeps its own.
_HOST_VARIABLE_PREFIXES = ("POWERTOOLS_", "AWS_")


@dataclass(frozen=True)
class LocalNames:
    """The offline names of the template's resources: `<prefix>-<construct id, kebab-case>`."""

    prefix: str = "bedrock-distill-local"
    invocation_log_prefix: str = "bedrock-invocation-logs"

    @property
    def input_bucket(self) -> str:
        return f"{self.prefix}-inputs"

    @property
    def output_bucket(self) -> str:
        return f"{self.prefix}-outputs"

    @property
    def invocation_log_bucket(self) -> str:
        return f"{self.prefix}-invocation-logs"

    @property
    def job_waiter_table(self) -> str:
        return f"{self.prefix}-job-waiters"

    @property
    def idempotency_table(self) -> str:
        return f"{self.prefix}-idempotency"


class LocalPipeline:
    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        names: LocalNames = LocalNames(),
        timing: RetryTiming = FAST_RETRIES,
        job_poll_seconds: int = 1,
        provisioned_throughput_poll_seconds: int = 1,
        model_deployment_poll_seconds: int = 1,
        evaluation_poll_seconds: int = 1,
        execution_timeout_seconds: int = EXECUTION_TIMEOUT_SECONDS,
        max_provisioned_throughput_seconds: int = DEFAULT_MAX_PROVISIONED_THROUGHPUT_SECONDS,
        emulator: Any | None = None,
        emulator_seconds_per_tick: float = 0.0,
        out_of_band_cleanup: bool = True,
    ) -> None:
        """`template`: the stack's synthesized template (`offline.synth.synthesize`) for this Region.
        `emulator`: the Bedrock emulator, whose job events then reach the pipeline's rules and whose jobs run
        as the template's service role; with `emulator_seconds_per_tick`, the event pump also moves its clock,
        so jobs finish without polling. `out_of_band_cleanup=False` leaves out the execution-end and sweep rules,
        so a test of the workflow's own cleanup cannot pass because a later layer cleaned up."""
        self.template = template
        self.names = names
        self.lambdas = LocalLambdas()
        self._timing = timing
        # Settings moto's real sleeping makes the offline world shorten; nothing else differs from the template.
        self.offline_timings = {
            "JOB_POLL_INTERVAL_SECONDS": str(job_poll_seconds),
            "MIN_JOB_POLL_INTERVAL_SECONDS": "1",
            "PROVISIONED_THROUGHPUT_POLL_INTERVAL_SECONDS": str(provisioned_throughput_poll_seconds),
            "MODEL_DEPLOYMENT_POLL_INTERVAL_SECONDS": str(model_deployment_poll_seconds),
            "EVALUATION_POLL_INTERVAL_SECONDS": str(evaluation_poll_seconds),
            "MIN_EVALUATION_POLL_INTERVAL_SECONDS": "1",
            "MIN_SERVING_POLL_INTERVAL_SECONDS": "1",
            "MAX_PROVISIONED_THROUGHPUT_SECONDS": str(max_provisioned_throughput_seconds),
        }
        self._execution_timeout_seconds = execution_timeout_seconds
        self._emulator = emulator
        self._emulator_seconds_per_tick = emulator_seconds_per_tick
        self._out_of_band_cleanup = out_of_band_cleanup
        self.pump: EventPump | None = None
        self.enforcer: Enforcer | None = None
        self.deployed: DeployedTemplate | None = None
        self.state_machine_arn = ""
        self.topic_arn = ""
        self.settings: PipelineSettings | None = None
        self._saved_environment: dict[str, str | None] = {}

    def deploy(self) -> LocalPipeline:
        region = boto3.session.Session().region_name or "us-west-2"
        account = boto3.client("sts").get_caller_identity()["Account"]
        deployed = DeployedTemplate(
            self.template, prefix=self.names.prefix, account=Account(region, account), stack_name=STACK_ID
        )
        self.deployed = deployed
        self._create_roles(deployed)
        self._create_buckets(deployed, region)
        self._create_tables(deployed)
        topic = deployed.find("AWS::SNS::Topic", "Pipeline", "Outcomes")
        self.topic_arn = boto3.client("sns").create_topic(Name=deployed.physical_name(topic))["TopicArn"]
        function_arns = self._create_functions(deployed)
        environment = self._environment(deployed)
        self.settings = PipelineSettings.from_environment(environment)
        self._check_names(self.settings)
        # In-process handlers share this process's environment, as each function's would be set.
        self._saved_environment = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        common.settings.cache_clear()
        invocation_logging._manager.cache_clear()  # it reads its parameter's name from the environment once
        state_machine = deployed.find("AWS::StepFunctions::StateMachine", "Pipeline", "StateMachine")
        definition = render_definition(substitutions(function_arns, self._timing, self._execution_timeout_seconds))
        self.state_machine_arn = boto3.client("stepfunctions").create_state_machine(
            name=deployed.physical_name(state_machine),
            definition=json.dumps(definition),
            roleArn=deployed.arn(deployed.role_of(state_machine)),
        )["stateMachineArn"]
        assert self.state_machine_arn == self.settings.state_machine_arn, self.state_machine_arn
        self._enforce_iam(deployed, region, account)
        activate(self.lambdas)
        aws_semantics.activate()
        self.pump = self._event_pump(region)
        return self

    def _create_roles(self, deployed: DeployedTemplate) -> None:
        iam = boto3.client("iam")
        for logical_id in deployed.of_type("AWS::IAM::Role"):
            iam.create_role(
                RoleName=deployed.physical_name(logical_id),
                AssumeRolePolicyDocument=json.dumps(deployed.trust_policy(logical_id)),
            )

    def _create_buckets(self, deployed: DeployedTemplate, region: str) -> None:
        s3 = boto3.client("s3")
        for logical_id, bucket in deployed.of_type("AWS::S3::Bucket").items():
            name = deployed.physical_name(logical_id)
            location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=name, **location)
            properties = bucket["Properties"]
            if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            if properties.get("NotificationConfiguration", {}).get("EventBridgeConfiguration"):
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )

    def _create_tables(self, deployed: DeployedTemplate) -> None:
        for logical_id, table in deployed.of_type("AWS::DynamoDB::Table").items():
            properties = table["Properties"]
            boto3.client("dynamodb").create_table(
                TableName=deployed.physical_name(logical_id),
                KeySchema=properties["KeySchema"],
                AttributeDefinitions=properties["AttributeDefinitions"],
                BillingMode="PAY_PER_REQUEST",
            )

    def _create_functions(self, deployed: DeployedTemplate) -> dict[str, str]:
        """Creates every Python function of the template in moto and registers its handler and role here;
        returns the workflow's function ARNs by the names the definition's substitutions use."""
        lambda_client = boto3.client("lambda")
        arns_by_name: dict[str, str] = {}
        for logical_id, function in deployed.of_type("AWS::Lambda::Function").items():
            properties = function["Properties"]
            if not str(properties.get("Runtime", "")).startswith("python"):
                continue  # CDK's custom-resource framework relay: CloudFormation's side, not ours
            name = deployed.physical_name(logical_id)
            role = deployed.role_of(logical_id)
            arn = lambda_client.create_function(
                FunctionName=name,
                Runtime=properties["Runtime"],
                Role=deployed.arn(role),
                Handler=properties["Handler"],
                Code={"ZipFile": _placeholder_zip()},
                Timeout=properties.get("Timeout", 3),
                MemorySize=properties.get("MemorySize", 128),
            )["FunctionArn"]
            principal = Principal(deployed.arn(role), name, tuple(deployed.role_policies(role)))
            self.lambdas.register(name, properties["Handler"], principal)
            arns_by_name[name.removeprefix(f"{self.names.prefix}-")] = arn
        missing = set(all_functions()) - set(arns_by_name)
        if missing:
            raise AssertionError(f"the template has no function for {sorted(missing)}")
        return arns_by_name

    def _environment(self, deployed: DeployedTemplate) -> dict[str, str]:
        """The union of the functions' environments as synthesized; functions may leave a variable empty that
        another sets, never set it differently. Then the offline timings."""
        environment: dict[str, str] = {}
        for function in deployed.of_type("AWS::Lambda::Function").values():
            variables = deployed.resolve(function["Properties"].get("Environment", {}).get("Variables", {}))
            for key, value in variables.items():
                if key.startswith(_HOST_VARIABLE_PREFIXES) or value in ("", None):
                    continue
                if environment.setdefault(key, str(value)) != str(value):
                    raise AssertionError(f"functions set {key} differently: {environment[key]!r} and {value!r}")
        return environment | self.offline_timings

    def _check_names(self, settings: PipelineSettings) -> None:
        """The names tests and the demo use are the template's, as deployed here."""
        assert settings.output_bucket == self.names.output_bucket, settings.output_bucket
        assert settings.job_waiter_table == self.names.job_waiter_table, settings.job_waiter_table
        assert settings.invocation_log_source == (
            f"s3://{self.names.invocation_log_bucket}/{self.names.invocation_log_prefix}/AWSLogs"
        ), settings.invocation_log_source

    def _enforce_iam(self, deployed: DeployedTemplate, region: str, account: str) -> None:
        def key_of(logical_id: str, *path: str) -> str | None:
            value: Any = deployed.resources[logical_id]["Properties"]
            for step in path:
                value = value[step] if isinstance(value, dict) and step in value else None
            return str(deployed.resolve(value)) if value else None

        emulator = self._emulator
        world = World(
            region=region,
            account_id=account,
            bucket_keys={
                deployed.physical_name(b): key
                for b in deployed.of_type("AWS::S3::Bucket")
                if (key := _bucket_key(deployed, b))
            },
            topic_keys={
                deployed.arn(t): key
                for t in deployed.of_type("AWS::SNS::Topic")
                if (key := key_of(t, "KmsMasterKeyId"))
            },
            table_keys={
                deployed.physical_name(t): key
                for t in deployed.of_type("AWS::DynamoDB::Table")
                if (key := key_of(t, "SSESpecification", "KMSMasterKeyId"))
            },
            state_machine_arn=self.state_machine_arn,
            bedrock_lookup=emulator.resource_arn if emulator is not None else World.bedrock_lookup,
            resource_tags=emulator.tags_of if emulator is not None else World.resource_tags,
            profile_regions=_profile_regions(region),
        )
        self.enforcer = Enforcer(world)
        iam_enforcer.activate(self.enforcer)
        if emulator is not None:
            roles = {
                deployed.arn(role): ServiceRole(
                    deployed.arn(role), tuple(deployed.role_policies(role)), deployed.trust_policy(role)
                )
                for role in deployed.of_type("AWS::IAM::Role")
            }
            emulator.service_role_authority = TemplateServiceRoles(self.enforcer, roles)

    def _event_pump(self, region: str) -> EventPump:
        emulator = self._emulator
        on_tick = None
        if emulator is not None:
            from offline.bedrock_emulator.events import eventbridge_sink  # noqa: PLC0415 - only with an emulator

            emulator.subscribe(eventbridge_sink(region))
            if self._emulator_seconds_per_tick:
                seconds = self._emulator_seconds_per_tick

                def on_tick() -> None:
                    emulator.advance(seconds)

        pump = EventPump(self.lambdas, self.state_machine_arn, on_tick=on_tick)
        prefix = self.names.prefix
        pump.add_rule(
            LocalRule("uploads", f"{prefix}-StartFromUpload", upload_pattern(self.names.input_bucket)),
            prefix,
        )
        pump.add_rule(LocalRule("job-events", f"{prefix}-RelayJobEvent", job_end_pattern()), prefix)
        if self._out_of_band_cleanup:
            pump.add_rule(
                LocalRule(
                    "execution-ends", f"{prefix}-CleanUpExecution", execution_end_pattern(self.state_machine_arn)
                ),
                prefix,
            )
            pump.add_rule(LocalRule("sweep", f"{prefix}-SweepProvisionedThroughputs", schedule=SWEEP_SCHEDULE), prefix)
        return pump.start()

    def teardown(self) -> None:
        if self.pump is not None:
            self.pump.stop()
        iam_enforcer.deactivate()
        if self._emulator is not None:
            self._emulator.service_role_authority = None
        aws_semantics.deactivate()
        deactivate()
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        common.settings.cache_clear()
        invocation_logging._manager.cache_clear()

    def __enter__(self) -> LocalPipeline:
        return self.deploy()

    def __exit__(self, *_: object) -> None:
        self.teardown()

    def invocation_logging(self, request_type: str = "Create") -> dict[str, Any]:
        """What CloudFormation does with the stack's invocation-logging custom resource on Create, Update or
        Delete: its handler invoked, as its role, with the resource's properties as synthesized."""
        assert self.deployed is not None, "deploy() first"
        deployed = self.deployed
        (resource,) = deployed.of_type("Custom::BedrockInvocationLogging")
        properties = deployed.resolve(deployed.resources[resource]["Properties"])
        handler = deployed.find("AWS::Lambda::Function", "InvocationLogging", "Handler", "Function")
        account = deployed.account
        event = {
            "RequestType": request_type,
            "ServiceToken": properties["ServiceToken"],
            "ResponseURL": "https://cloudformation-custom-resource-response.invalid/",
            "StackId": f"arn:aws:cloudformation:{account.region}:{account.account_id}:stack/{STACK_ID}/offline",
            "RequestId": f"offline-{request_type.lower()}",
            "LogicalResourceId": resource,
            "ResourceType": "Custom::BedrockInvocationLogging",
            "ResourceProperties": properties,
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = "bedrock-model-invocation-logging"
        response = self.lambdas.invoke(deployed.physical_name(handler), json.dumps(event).encode())
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        if "FunctionError" in response:
            raise RuntimeError(f"the invocation-logging custom resource failed: {payload}")
        return payload

    def start_execution(self, execution_input: dict[str, Any], name: str) -> str:
        response = boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        return str(response["executionArn"])

    def wait(self, execution_arn: str, timeout_seconds: float = 120.0, poll_seconds: float = 0.1) -> dict[str, Any]:
        """The execution's description once it has ended and the pipeline has settled (`settle`): what its end
        set off outside the workflow (the execution-end rule, its message) has happened by the time this returns."""
        client = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout_seconds
        while True:
            description: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
            if description["status"] in TERMINAL_STATUSES:
                self.settle(timeout_seconds=max(deadline - time.monotonic(), 10.0))
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {description['status']} after {timeout_seconds} s")
            time.sleep(poll_seconds)

    def settle(self, timeout_seconds: float = 120.0) -> None:
        """Waits until no execution runs and the event pump has delivered everything there is to deliver
        (`EventPump.settle`), so nothing out of band happens after an assertion that follows."""
        assert self.pump is not None, "deploy() first"
        self.pump.settle(timeout_seconds)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        client = boto3.client("stepfunctions")
        events: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while True:
            page = client.get_execution_history(executionArn=execution_arn, maxResults=1000, **token)
            events += page["events"]
            if "nextToken" not in page:
                return events
            token = {"nextToken": page["nextToken"]}


def _bucket_key(deployed: DeployedTemplate, logical_id: str) -> str | None:
    """The KMS key ARN of the bucket's default SSE-KMS encryption, if any."""
    encryption = deployed.resources[logical_id]["Properties"].get("BucketEncryption", {})
    for rule in encryption.get("ServerSideEncryptionConfiguration", []):
        default = rule.get("ServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "aws:kms" and "KMSMasterKeyID" in default:
            return str(deployed.resolve(default["KMSMasterKeyID"]))
    return None


def _profile_regions(region: str) -> Callable[[str], list[str]]:
    """The Regions a cross-Region inference profile called from `region` routes to, from the catalog."""

    def regions(profile_id: str) -> list[str]:
        if profile_id not in catalog.PROFILE_DESTINATIONS:
            return []
        return list(catalog.teacher_route(profile_id, region).regions)

    return regions


def _placeholder_zip() -> bytes:
    """moto's CreateFunction wants code; ours runs in-process from the checkout instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "bedrock-distill runs this function in-process (offline/lambda_runtime.py)")
    return buffer.getvalue()
