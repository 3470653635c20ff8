"""The pipeline, deployed into moto from the stack's own definitions, and run by moto's Step Functions.

Same definition file, same substitution names, same handler modules and the same environment
(`PipelineSettings.to_environment`) as the CDK pipeline construct; only names and ARNs are moto's.
Bedrock is the project's emulator, which must be active, inside `mock_aws()`, before `deploy()`.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3

from bedrock_distill.handlers import common
from bedrock_distill.operator.executions import TERMINAL_STATUSES
from bedrock_distill.workflow.settings import PipelineSettings
from offline import aws_semantics
from offline.events import EventPump, LocalRule
from offline.lambda_runtime import LocalLambdas, activate, deactivate
from stacks.pipeline_spec import (
    EXECUTION_TIMEOUT_SECONDS,
    SWEEP_SCHEDULE,
    UPLOAD_TRIGGER_PREFIX,
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


@dataclass(frozen=True)
class LocalNames:
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
        *,
        teacher_model_id: str = "meta.llama3-1-70b-instruct-v1:0",
        student_model_id: str = "meta.llama3-1-8b-instruct-v1:0:128k",
        names: LocalNames = LocalNames(),
        timing: RetryTiming = FAST_RETRIES,
        job_poll_seconds: int = 1,
        provisioned_throughput_poll_seconds: int = 1,
        hourly_rate_usd: float = 0.0,
        execution_timeout_seconds: int = EXECUTION_TIMEOUT_SECONDS,
        max_provisioned_throughput_seconds: int = 12 * 3600,
        emulator: Any | None = None,
        emulator_seconds_per_tick: float = 0.0,
    ) -> None:
        """`emulator`: the Bedrock emulator, whose job events then reach the pipeline's rules; with
        `emulator_seconds_per_tick`, the event pump also moves its clock, so jobs finish without polling."""
        self.names = names
        self.lambdas = LocalLambdas()
        self._timing = timing
        self._teacher = teacher_model_id
        self._student = student_model_id
        self._job_poll_seconds = job_poll_seconds
        self._pt_poll_seconds = provisioned_throughput_poll_seconds
        self._hourly_rate = hourly_rate_usd
        self._execution_timeout_seconds = execution_timeout_seconds
        self._max_pt_seconds = max_provisioned_throughput_seconds
        self._emulator = emulator
        self._emulator_seconds_per_tick = emulator_seconds_per_tick
        self.pump: EventPump | None = None
        self.state_machine_arn = ""
        self.topic_arn = ""
        self.settings: PipelineSettings | None = None
        self._saved_environment: dict[str, str | None] = {}

    def deploy(self) -> LocalPipeline:
        region = boto3.session.Session().region_name or "us-east-1"
        s3 = boto3.client("s3")
        for bucket in (self.names.input_bucket, self.names.output_bucket, self.names.invocation_log_bucket):
            if region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        # As the stack's inputs bucket: uploads reach EventBridge.
        s3.put_bucket_notification_configuration(
            Bucket=self.names.input_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        for table, key in ((self.names.job_waiter_table, "jobArn"), (self.names.idempotency_table, "id")):
            boto3.client("dynamodb").create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        self.topic_arn = boto3.client("sns").create_topic(Name=f"{self.names.prefix}-outcomes")["TopicArn"]
        iam = boto3.client("iam")
        role_arn = iam.create_role(
            RoleName=f"{self.names.prefix}-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        account = role_arn.split(":")[4]
        state_machine_name = f"{self.names.prefix}-distillation"
        # Known before the state machine exists, as in the stack (which names it for the same reason).
        state_machine_arn = f"arn:aws:states:{region}:{account}:stateMachine:{state_machine_name}"
        self.settings = PipelineSettings(
            output_bucket=self.names.output_bucket,
            output_prefix="jobs",
            service_role_arn=f"arn:aws:iam::{account}:role/{self.names.prefix}-distillation",
            default_teacher_model_id=self._teacher,
            default_student_model_id=self._student,
            invocation_log_source=(
                f"s3://{self.names.invocation_log_bucket}/{self.names.invocation_log_prefix}/AWSLogs"
            ),
            default_model_units=1,
            default_job_poll_seconds=self._job_poll_seconds,
            default_provisioned_throughput_poll_seconds=self._pt_poll_seconds,
            notification_topic_arn=self.topic_arn,
            provisioned_throughput_hourly_rate_usd=self._hourly_rate,
            state_machine_arn=state_machine_arn,
            job_waiter_table=self.names.job_waiter_table,
            idempotency_table=self.names.idempotency_table,
            # moto really sleeps: the offline pipeline's fallback reads may be seconds apart.
            min_job_poll_seconds=1,
            upload_trigger_prefix=UPLOAD_TRIGGER_PREFIX,
            max_provisioned_throughput_seconds=self._max_pt_seconds,
        )
        environment = self.settings.to_environment()
        function_arns = {}
        lambda_client = boto3.client("lambda")
        for name, spec in all_functions().items():
            function_name = f"{self.names.prefix}-{name}"
            function_arns[name] = lambda_client.create_function(
                FunctionName=function_name,
                Runtime="python3.12",
                Role=role_arn,
                Handler=spec.handler,
                Code={"ZipFile": _placeholder_zip()},
                Timeout=spec.timeout_seconds,
                MemorySize=spec.memory_mb,
                Environment={"Variables": environment},
            )["FunctionArn"]
            self.lambdas.register(function_name, spec.handler)
        # In-process handlers share this process's environment, as each function's would be set.
        self._saved_environment = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        common.settings.cache_clear()
        definition = render_definition(substitutions(function_arns, self._timing, self._execution_timeout_seconds))
        self.state_machine_arn = boto3.client("stepfunctions").create_state_machine(
            name=state_machine_name, definition=json.dumps(definition), roleArn=role_arn
        )["stateMachineArn"]
        assert self.state_machine_arn == state_machine_arn, self.state_machine_arn
        activate(self.lambdas)
        aws_semantics.activate()
        self.pump = self._event_pump(region)
        return self

    def _event_pump(self, region: str) -> EventPump:
        emulator = self._emulator
        on_tick = None
        if emulator is not None:
            from bedrock_emulator.events import eventbridge_sink  # noqa: PLC0415 - only with an emulator

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
        pump.add_rule(
            LocalRule("execution-ends", f"{prefix}-CleanUpExecution", execution_end_pattern(self.state_machine_arn)),
            prefix,
        )
        pump.add_rule(
            LocalRule(
                "sweep",
                f"{prefix}-SweepProvisionedThroughputs",
                schedule=SWEEP_SCHEDULE,
            ),
            prefix,
        )
        return pump.start()

    def teardown(self) -> None:
        if self.pump is not None:
            self.pump.stop()
        aws_semantics.deactivate()
        deactivate()
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        common.settings.cache_clear()

    def __enter__(self) -> LocalPipeline:
        return self.deploy()

    def __exit__(self, *_: object) -> None:
        self.teardown()

    def start_execution(self, execution_input: dict[str, Any], name: str) -> str:
        response = boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        return str(response["executionArn"])

    def wait(self, execution_arn: str, timeout_seconds: float = 120.0, poll_seconds: float = 0.1) -> dict[str, Any]:
        client = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout_seconds
        while True:
            description: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
            if description["status"] in TERMINAL_STATUSES:
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {description['status']} after {timeout_seconds} s")
            time.sleep(poll_seconds)

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


def _placeholder_zip() -> bytes:
    """moto's CreateFunction wants code; ours runs in-process from the checkout instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "bedrock-distill runs this function in-process (offline/lambda_runtime.py)")
    return buffer.getvalue()
