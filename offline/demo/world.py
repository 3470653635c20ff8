"""The world the scenes play in: the stack synthesized and deployed into moto, beside the Bedrock emulator,
with an inbox on the outcome topic, and the lookups every scene makes in it.

Emulated durations are in logical seconds. Bedrock's clock moves only when the demo moves it: while an
execution waits for its job's event, each refresh of the view advances it by a step (the job's progress
shows step by step), until the job ends and its Completed event releases the execution. Provisioned
Throughput has no such event, so its wait still polls: each status read moves the clock by
STATUS_READ_SECONDS, and the PT is InService at the first read after a one-second Wait.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws
from rich.console import Console

from bedrock_distill.catalog import region_default
from bedrock_distill.workflow.run import EXECUTION_TAG_KEY
from offline.bedrock_emulator import BedrockEmulator, Job, ProvisionedThroughput, bedrock_emulator
from offline.bedrock_emulator.service import DEFAULT_ACCOUNT_ID
from offline.events import Delivery, EventPump
from offline.pipeline import LocalPipeline
from offline.synth import synthesize

JOB_SECONDS = 8 * 3600
PROVISIONING_SECONDS = 10 * 60
STATUS_READ_SECONDS = PROVISIONING_SECONDS
# The job wait's fallback poll (pollIntervals.jobSeconds; a Task timeout, real seconds in moto): far longer
# than the demo lasts, so only the job's state-change event can release an execution in time.
JOB_FALLBACK_POLL_SECONDS = 3600
# A small real delay per Converse call, so the bounded concurrency of the teacher calls is visible.
CONVERSE_LATENCY_SECONDS = 0.02
# The account's granted quota (0 in a new account): one scene's PT at a time, the upload scene's 2 units.
NO_COMMITMENT_MODEL_UNITS = 2
EVENT_TIMEOUT_SECONDS = 30.0
# The stack's EventBridge rules, as `offline.pipeline.LocalPipeline` creates them in moto.
EVENT_RULES = ("uploads", "job-events", "execution-ends", "sweep")


def deploy_context(hourly_rate: float, extra_student_model_id: str) -> dict[str, Any]:
    """The demo's `cdk deploy -c ...`: a PT price for the cost estimate, one more student allowed beside the
    configured pair's (IAM grants exactly these; Preflight refuses any other), and PTs of up to 2 model units (the
    upload scene asks for 2; Preflight refuses more than maxProvisionedModelUnits)."""
    # cdk.json leaves the pair to the Region: in us-west-2, Llama 3.1 70B -> Llama 3.1 8B.
    configured = region_default(os.environ["AWS_DEFAULT_REGION"])
    assert configured is not None, "the demo's Region offers no distillation pair"
    return {
        "provisionedThroughputHourlyRateUsd": hourly_rate,
        "allowedModelPairs": [{"teacher": configured.teacher, "student": extra_student_model_id}],
        "maxProvisionedModelUnits": 2,
    }


def synthesize_stack(context: dict[str, Any], console: Console) -> dict[str, Any]:
    started = time.monotonic()
    region = os.environ["AWS_DEFAULT_REGION"]
    template = synthesize(region, DEFAULT_ACCOUNT_ID, context)
    roles = sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role")
    console.print(
        f"Synthesized the stack for {region} ({len(template['Resources'])} resources, {roles} IAM roles, cdk-nag "
        f"clean) in {time.monotonic() - started:.1f} s: every AWS call below is authorized against these roles"
    )
    return template


def wait_for(condition: Callable[[], Any], what: str, timeout_seconds: float = EVENT_TIMEOUT_SECONDS) -> Any:
    """`condition()`'s first truthy value, polled; TimeoutError naming `what` if none comes in time."""
    deadline = time.monotonic() + timeout_seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what} after {timeout_seconds} s")
        time.sleep(0.05)
    return value


@dataclass
class OutcomeInbox:
    """An SQS queue subscribed to the outcome topic, as an operator's e-mail would be."""

    queue_url: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def subscribe(cls, topic_arn: str) -> OutcomeInbox:
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="offline-demo-outcomes")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=attributes["QueueArn"])
        return cls(queue_url)

    def receive(self) -> list[dict[str, Any]]:
        """Every message delivered so far, in arrival order."""
        sqs = boto3.client("sqs")
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                self.messages.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return self.messages

    def about(self, execution_arn: str) -> list[dict[str, Any]]:
        return [message for message in self.receive() if message.get("execution_arn") == execution_arn]


@dataclass
class World:
    """The deployed pipeline, the emulator it calls, and the operator's inbox."""

    pipeline: LocalPipeline
    bedrock: BedrockEmulator
    inbox: OutcomeInbox

    @property
    def pump(self) -> EventPump:
        assert self.pipeline.pump is not None  # started by deploy()
        return self.pipeline.pump

    def job_of(self, execution_arn: str) -> Job | None:
        """The job an execution created, found by the execution tag the workflow puts on it."""
        tags_of = self.bedrock.tags_of
        jobs = [job for job in self.bedrock.jobs.values() if tags_of(job.arn).get(EXECUTION_TAG_KEY) == execution_arn]
        return max(jobs, key=lambda job: job.created_at) if jobs else None

    def provisioned_throughput_of(self, job: Job | None) -> ProvisionedThroughput | None:
        """The PT bought for a job's custom model (a deleted PT has lost its tags, not its model)."""
        if job is None or job.output_model_arn is None:
            return None
        model_arn = job.output_model_arn
        throughputs = [pt for pt in self.bedrock.provisioned_throughputs.values() if pt.model_arn == model_arn]
        return max(throughputs, key=lambda pt: pt.created_at) if throughputs else None

    def delivery_for(self, rule: str, matches: Callable[[dict[str, Any]], bool]) -> Delivery:
        """The first delivery of an event matching `matches` to `rule`'s function, once the pump has made it."""
        pump = self.pump
        found: Delivery = wait_for(
            lambda: next((d for d in pump.deliveries_to(rule) if matches(d.event)), None), f"an event on {rule}"
        )
        return found


@contextmanager
def deployed_world(template: dict[str, Any]) -> Iterator[World]:
    """moto executing state machines, the emulator, and the stack deployed from `template`; torn down on exit."""
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        bedrock_emulator(
            job_seconds=JOB_SECONDS,
            seconds_per_status_read=STATUS_READ_SECONDS,
            provisioning_seconds=PROVISIONING_SECONDS,
            converse_latency_seconds=CONVERSE_LATENCY_SECONDS,
            no_commitment_model_units=NO_COMMITMENT_MODEL_UNITS,
        ) as bedrock,
        LocalPipeline(
            template,
            job_poll_seconds=JOB_FALLBACK_POLL_SECONDS,
            provisioned_throughput_poll_seconds=1,
            # Bedrock's job events go to moto's EventBridge, where the stack's rules route them.
            emulator=bedrock,
        ) as pipeline,
    ):
        yield World(pipeline, bedrock, OutcomeInbox.subscribe(pipeline.topic_arn))
