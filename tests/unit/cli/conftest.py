"""A deployed pipeline as the operator commands see it: a CloudFormation stack whose outputs point at a
state machine and buckets in moto, and the Bedrock emulator for Bedrock."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws
from moto.stepfunctions.models import stepfunctions_backends

from bedrock_distill.workflow.run import resource_names
from distill_cli import commands
from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator

REGION = "us-west-2"
ACCOUNT = "123456789012"
STACK = "BedrockDistill"
TEACHER = "meta.llama3-1-70b-instruct-v1:0"
STUDENT = "meta.llama3-1-8b-instruct-v1:0:128k"
INPUT_BUCKET = "distill-inputs"
OUTPUT_BUCKET = "distill-outputs"
LOG_BUCKET = "distill-invocation-logs"
LOG_SOURCE = f"s3://{LOG_BUCKET}/bedrock/AWSLogs"


@dataclass(frozen=True)
class Deployment:
    stack_name: str
    state_machine_arn: str
    outputs: dict[str, str]


class FakeClock:
    """Wall-clock time that moves only when the code under test sleeps; each sleep can run a callback."""

    def __init__(self, start: datetime) -> None:
        self.moment = start
        self.sleeps: list[float] = []
        self.on_sleep: list[Callable[[], object]] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.moment += timedelta(seconds=seconds)
        if self.on_sleep:
            self.on_sleep.pop(0)()


@cache
def _session() -> boto3.session.Session:
    # One for every test: moto resets boto3's default session in each mock, and a new session parses
    # botocore's service models again (a third of a second a test).
    return boto3.session.Session(region_name=REGION)


def aws_client(service_name: str) -> Any:
    """The tests' own client of a service (the code under test makes its own, from its options)."""
    return _session().client(service_name)


def user_environment(tmp_path: Path) -> dict[str, str]:
    """The AWS environment of a user who followed the AWS CLI's setup: keys and a Region in the variables the
    AWS CLI documents (AWS_REGION; boto3 itself, which moto and the tests' own clients use, reads only
    AWS_DEFAULT_REGION, so a user of both has both), and shared config files of their own (empty here)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
    }


@pytest.fixture(autouse=True)
def hermetic_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test starts from the user environment above and nothing of the machine running it: an
    AWS_PROFILE, AWS_ENDPOINT_URL_<SERVICE> or AWS_ROLE_ARN of the developer's shell would send the
    commands somewhere else. Tests of one variable set or drop it themselves."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in user_environment(tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def emulator() -> Iterator[BedrockEmulator]:
    with mock_aws(), bedrock_emulator(job_seconds=3 * 3600, provisioning_seconds=600) as bedrock:
        yield bedrock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(datetime.now(UTC))
    monkeypatch.setattr(commands, "CLOCK", fake)
    return fake


def stack_template(outputs: dict[str, str]) -> str:
    return json.dumps(
        {
            "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


def create_stack(name: str, outputs: dict[str, str]) -> None:
    with warnings.catch_warnings():
        # moto creates the stack and its outputs but says it cannot model the placeholder resource.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
        aws_client("cloudformation").create_stack(StackName=name, TemplateBody=stack_template(outputs))


@pytest.fixture
def deployment(emulator: BedrockEmulator) -> Deployment:
    s3 = aws_client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET, LOG_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    role = aws_client("iam").create_role(
        RoleName="distill-states", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    definition = {"StartAt": "Preflight", "States": {"Preflight": {"Type": "Pass", "End": True}}}
    state_machine_arn = aws_client("stepfunctions").create_state_machine(
        name="distillation", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    outputs = {
        "StateMachineArn": state_machine_arn,
        "InputLocation": f"s3://{INPUT_BUCKET}/datasets/",
        "OutputLocation": f"s3://{OUTPUT_BUCKET}/jobs/",
        "OutcomeTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:outcomes",
        "InvocationLogSource": LOG_SOURCE,
        "TeacherModelId": TEACHER,
        "StudentModelId": STUDENT,
        "DistillationServiceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/distillation",
    }
    create_stack(STACK, outputs)
    return Deployment(stack_name=STACK, state_machine_arn=state_machine_arn, outputs=outputs)


# Data -------------------------------------------------------------------------------------------------------


def conversation(index: int, *, answer: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"text": f"Summarise support ticket {index}: the printer jams on page {index}."}]}
    ]
    if answer:
        messages.append({"role": "assistant", "content": [{"text": f"Ticket {index}: printer jam."}]})
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You summarise support tickets in one line."}],
        "messages": messages,
    }


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def write_prompts(path: Path, count: int) -> Path:
    return write_records(path, [conversation(index) for index in range(count)])


def s3_keys(bucket: str) -> list[str]:
    return [item["Key"] for item in aws_client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def s3_json(uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(aws_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


# Executions -------------------------------------------------------------------------------------------------


def start_execution(deployment: Deployment, name: str, execution_input: dict[str, Any] | None = None) -> str:
    document = execution_input or {"trainingData": {"prompts": f"s3://{INPUT_BUCKET}/datasets/{name}.jsonl"}}
    return str(
        aws_client("stepfunctions").start_execution(
            stateMachineArn=deployment.state_machine_arn, name=name, input=json.dumps(document)
        )["executionArn"]
    )


def finish_execution(
    arn: str,
    status: str,
    *,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    cause: str | None = None,
    after: timedelta = timedelta(hours=3),
) -> None:
    """Ends an execution in moto's backend, as the real state machine would have (moto cannot run it here)."""
    execution = stepfunctions_backends[ACCOUNT][REGION].describe_execution(arn)
    execution.status = status
    execution.stop_date = execution.start_date + after
    execution.output = json.dumps(output) if output is not None else None
    execution.error = error
    execution.cause = cause


def execution_input_of(arn: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(aws_client("stepfunctions").describe_execution(executionArn=arn)["input"])
    return document


# Invocation logs --------------------------------------------------------------------------------------------


def enable_invocation_logging() -> None:
    aws_client("bedrock").put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": LOG_BUCKET, "keyPrefix": "bedrock"}, "textDataDeliveryEnabled": True}
    )


def log_invocations(count: int, metadata: dict[str, str], *, model_id: str = TEACHER) -> None:
    """`count` Converse calls to the teacher with this requestMetadata, logged by the emulator."""
    runtime = aws_client("bedrock-runtime")
    for index in range(count):
        runtime.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": f"Classify ticket {index} {metadata}."}]}],
            requestMetadata=metadata,
        )


# The run's Bedrock resources, by the names the pipeline derives from the execution ------------------------


def create_run_job(arn: str, name: str) -> str:
    """The distillation job the pipeline's CreateJob state would have created for this execution."""
    names = resource_names(name, arn)
    body = b"".join(orjson.dumps(conversation(index, answer=False)) + b"\n" for index in range(100))
    aws_client("s3").put_object(Bucket=INPUT_BUCKET, Key=f"datasets/{name}.jsonl", Body=body)
    response = aws_client("bedrock").create_model_customization_job(
        jobName=names.job_name,
        customModelName=names.custom_model_name,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/distillation",
        baseModelIdentifier=STUDENT,
        customizationType="DISTILLATION",
        trainingDataConfig={"s3Uri": f"s3://{INPUT_BUCKET}/datasets/{name}.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{OUTPUT_BUCKET}/jobs/{name}/"},
        customizationConfig={
            "distillationConfig": {
                "teacherModelConfig": {"teacherModelIdentifier": TEACHER, "maxResponseLengthForInference": 1000}
            }
        },
    )
    return str(response["jobArn"])


def create_run_throughput(arn: str, name: str, model_id: str = STUDENT) -> str:
    response = aws_client("bedrock").create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName=resource_names(name, arn).provisioned_model_name, modelId=model_id
    )
    return str(response["provisionedModelArn"])


def start_date(arn: str) -> datetime:
    moment: datetime = aws_client("stepfunctions").describe_execution(executionArn=arn)["startDate"]
    return moment
