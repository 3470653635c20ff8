"""The offline pipeline for workflow tests: moto (executing state machines) plus the Bedrock emulator."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator
from offline.bedrock_emulator.service import DEFAULT_ACCOUNT_ID
from offline.pipeline import LocalPipeline
from offline.synth import synthesize

TEACHER = "meta.llama3-1-70b-instruct-v1:0"


# The account's no-commitment model units here: one run's PT at a time (the upload tests buy two units), as after a
# first quota increase. The emulator's own default is a new account's 0 (tests/workflow/test_quotas.py runs with that).
NO_COMMITMENT_MODEL_UNITS = 2


@contextmanager
def offline_bedrock(**options: Any) -> Iterator[BedrockEmulator]:
    """moto executing state machines plus the emulator, with the account's Bedrock quotas and any other of the
    emulator's keyword arguments in `options`; on exit, checks that nothing is left billing."""
    # Each status read moves logical time an hour: a 3-hour job completes after three polls, a PT or deployment is
    # ready at its first read, and both evaluation jobs complete at the first status read (two reads, two hours).
    settings = {
        "seconds_per_status_read": 3600,
        "job_seconds": 3 * 3600,
        "provisioning_seconds": 600,
        "deployment_seconds": 600,
        "evaluation_seconds": 2 * 3600,
    }
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        bedrock_emulator(**(settings | options)) as bedrock,
    ):
        yield bedrock
        # Every run, whatever its outcome, must end with nothing billing and nothing serving (a test that keeps a
        # deployment on purpose deletes it itself, as its user would).
        assert bedrock.live_provisioned_throughputs() == []
        assert bedrock.live_model_deployments() == []


@pytest.fixture
def emulator() -> Iterator[BedrockEmulator]:
    with offline_bedrock(no_commitment_model_units=NO_COMMITMENT_MODEL_UNITS) as bedrock:
        yield bedrock


# The pair the tests' us-west-2 deployment serves on demand: AWS deploys a custom Llama 3.3 70B Instruct for
# on-demand inference there (user guide, "Deploy a custom model for on-demand inference", Supported base models; a
# custom Nova is deployed on demand in us-east-1 only, which `make demo` runs). Its teacher is one the catalog
# distils it from in us-west-2.
ON_DEMAND_TEACHER = "meta.llama3-1-405b-instruct-v1:0"
ON_DEMAND_STUDENT = "meta.llama3-3-70b-instruct-v1:0:128k"

# The deployment the workflow tests run: cdk.json's configuration, with a PT price so outcomes carry a cost and
# token prices so scorecards carry one. Also allowed: the smaller student the upload tests' settings pick, and the
# on-demand pair.
WORKFLOW_CONTEXT = {
    "provisionedThroughputHourlyRateUsd": 20,
    "modelPricesUsd": {
        TEACHER: {"inputPerMillionTokens": 0.72, "outputPerMillionTokens": 0.72},
        "meta.llama3-1-8b-instruct-v1:0:128k": {"inputPerMillionTokens": 0.22, "outputPerMillionTokens": 0.22},
    },
    "allowedModelPairs": [
        {"teacher": TEACHER, "student": "meta.llama3-2-1b-instruct-v1:0:128k"},
        {"teacher": ON_DEMAND_TEACHER, "student": ON_DEMAND_STUDENT},
    ],
    # The upload tests ask for 2 units (tests/workflow/test_uploads.py); the default limit is 1.
    "maxProvisionedModelUnits": 2,
}


@pytest.fixture(scope="session")
def pipeline_template() -> dict[str, Any]:
    """The stack as `cdk deploy` would upload it to the tests' Region, synthesized once per session."""
    return synthesize(os.environ["AWS_DEFAULT_REGION"], DEFAULT_ACCOUNT_ID, WORKFLOW_CONTEXT)


@dataclass
class GrantAudit:
    """Every grant of the session's template that some call of the workflow tests needed: the only grant that
    allowed it, so taking it away would have denied that call (`offline.iam.policy.explain`)."""

    template: dict[str, Any]
    needed: set[tuple[str, int, str]] = field(default_factory=set)  # (role ARN, statement index, action)

    def record(self, pipeline: LocalPipeline) -> None:
        if pipeline.template is not self.template or pipeline.enforcer is None:
            return  # a test that changed the template first: its calls say nothing about the template
        for authorization in pipeline.enforcer.authorizations:
            if len(authorization.grants) == 1:
                (grant,) = authorization.grants
                self.needed.add((authorization.principal.role_arn, grant.statement, grant.action))


@pytest.fixture(scope="session")
def grant_audit(pipeline_template: dict[str, Any]) -> GrantAudit:
    return GrantAudit(pipeline_template)


@contextmanager
def deployed_pipeline(
    template: dict[str, Any], emulator: BedrockEmulator, audit: GrantAudit, **options: Any
) -> Iterator[LocalPipeline]:
    # The emulator's job events reach the pipeline's rules, as Bedrock's reach EventBridge.
    with LocalPipeline(template, emulator=emulator, **options) as deployed:
        yield deployed
    audit.record(deployed)


@pytest.fixture
def pipeline(
    emulator: BedrockEmulator, pipeline_template: dict[str, Any], grant_audit: GrantAudit
) -> Iterator[LocalPipeline]:
    with deployed_pipeline(pipeline_template, emulator, grant_audit) as deployed:
        yield deployed


@pytest.fixture
def outcomes(pipeline: LocalPipeline) -> str:
    """An SQS queue subscribed to the outcome topic, as an operator's e-mail would be."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=pipeline.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return str(queue_url)


def published_outcomes(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


def conversation_record(index: int, *, answer: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [{"text": f"Summarise support ticket {index}: the printer jams on page {index % 7}."}],
        }
    ]
    if answer:
        messages.append({"role": "assistant", "content": [{"text": f"Ticket {index}: printer jam, page {index % 7}."}]})
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You summarise support tickets in one line."}],
        "messages": messages,
    }


def upload_prompts(bucket: str, key: str, records: list[dict[str, Any]]) -> str:
    body = "".join(json.dumps(record) + "\n" for record in records)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
    return f"s3://{bucket}/{key}"


def prompts_input(pipeline: LocalPipeline, records: int = 120) -> dict[str, Any]:
    uri = upload_prompts(
        pipeline.names.input_bucket, "datasets/tickets.jsonl", [conversation_record(i) for i in range(records)]
    )
    return {"trainingData": {"prompts": uri}, "validationSampleSize": 5}


def on_demand_input(pipeline: LocalPipeline, **fields: Any) -> dict[str, Any]:
    """A run of the pair AWS deploys on demand in the tests' Region, servingMode left to "auto"."""
    return {
        **prompts_input(pipeline),
        "teacherModelId": ON_DEMAND_TEACHER,
        "studentModelId": ON_DEMAND_STUDENT,
        **fields,
    }


def run_to_end(pipeline: LocalPipeline, execution_input: dict[str, Any], name: str) -> dict[str, Any]:
    return pipeline.wait(pipeline.start_execution(execution_input, name=name))


def wait_until(condition: Callable[[], bool], what: str, timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what} after {timeout_seconds} s")
        time.sleep(0.05)


def filed_waiters(pipeline: LocalPipeline) -> list[dict[str, Any]]:
    """The task tokens executions have filed, waiting for their job's state-change event."""
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=pipeline.names.job_waiter_table)["Items"]
    return items


def history_types(pipeline: LocalPipeline, execution_arn: str) -> list[str]:
    return [str(event["type"]) for event in pipeline.history(execution_arn)]


def entered_states(pipeline: LocalPipeline, execution_arn: str) -> list[str]:
    return [
        str(event["stateEnteredEventDetails"]["name"])
        for event in pipeline.history(execution_arn)
        if str(event["type"]).endswith("StateEntered")
    ]


def task_results(pipeline: LocalPipeline, execution_arn: str, state: str) -> list[dict[str, Any]]:
    """What the function of Task state `state` returned, each time it succeeded there, read from the execution's
    history (between the state's StateEntered and StateExited events): the workflow's own record of its work."""
    results: list[dict[str, Any]] = []
    current: str | None = None
    for event in pipeline.history(execution_arn):
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            current = str(event["stateEnteredEventDetails"]["name"])
        elif kind.endswith("StateExited"):
            current = None
        elif current == state and kind in ("LambdaFunctionSucceeded", "TaskSucceeded"):
            details = event.get("lambdaFunctionSucceededEventDetails") or event["taskSucceededEventDetails"]
            results.append(json.loads(details["output"]))
    return results
