"""The worlds the scenes play in: the stack synthesized for a Region and deployed into moto, beside the Bedrock
emulator, with an inbox on the outcome topic, and the lookups every scene makes in it. The demo plays in two, one
after the other: us-west-2 (Llama 3.1 70B -> 8B, served on Provisioned Throughput) and us-east-1 (Amazon Nova
Pro -> Lite, served on demand), each its own moto account and emulator, as two deployments of the stack would be.

Emulated durations are in logical seconds. Bedrock's clock moves only when the demo moves it: while an
execution waits for its job's event, each refresh of the view advances it by a step (the job's progress
shows step by step), until the job ends and its Completed event releases the execution. Provisioned
Throughput, custom model deployments and evaluation jobs send no such event, so their waits poll: each status
read moves the clock by STATUS_READ_SECONDS, and a PT or deployment is ready at the first read after a one-second
Wait, an evaluation job at the first read too.
"""

from __future__ import annotations

import json
import os
import sys
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
from offline.bedrock_emulator.deployments import ModelDeployment
from offline.bedrock_emulator.evaluations import EvaluationJob
from offline.bedrock_emulator.service import DEFAULT_ACCOUNT_ID
from offline.events import Delivery, EventPump
from offline.pipeline import LocalPipeline
from offline.synth import synthesize

JOB_SECONDS = 8 * 3600
PROVISIONING_SECONDS = 10 * 60
# AWS gives no figure for either: a deployment in minutes; an evaluation job of a few dozen prompts in minutes
# to an hour (public reports: 5-15 minutes for 30-50 rows).
DEPLOYMENT_SECONDS = 10 * 60
EVALUATION_SECONDS = 10 * 60
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
# The Regions of the two pairs cdk.json leaves to the Region (catalog REGION_DEFAULTS): Llama 3.1 70B -> 8B in
# us-west-2, which AWS serves on Provisioned Throughput only; Amazon Nova Pro -> Lite in us-east-1, which AWS
# deploys for on-demand inference (user guide, "Deploy a custom model for on-demand inference").
PROVISIONED_REGION = "us-west-2"
ON_DEMAND_REGION = "us-east-1"
# The demo's own per-token prices for the scorecard's cost lines, in its deploy context (modelPricesUsd): round
# figures for illustration, not AWS's prices, which differ by Region and change (see the Bedrock pricing page).
ILLUSTRATIVE_PRICES_USD: dict[str, dict[str, float]] = {
    "meta.llama3-1-70b-instruct-v1:0": {"inputPerMillionTokens": 0.75, "outputPerMillionTokens": 0.75},
    "amazon.nova-pro-v1:0": {"inputPerMillionTokens": 0.8, "outputPerMillionTokens": 3.2},
    "amazon.nova-lite-v1:0:300k": {"inputPerMillionTokens": 0.06, "outputPerMillionTokens": 0.24},
}
PRICES_DISCLAIMER = (
    "illustrative prices set in the demo's deploy context (modelPricesUsd), not AWS's: see the Bedrock pricing page"
)


def deploy_context(region: str, hourly_rate: float, extra_student_model_id: str | None = None) -> dict[str, Any]:
    """The demo's `cdk deploy -c ...` in `region`: a PT price for the cost estimate, the illustrative per-token
    prices of the Region's pair, one more student allowed beside the configured pair's when given (IAM grants
    exactly these; Preflight refuses any other), and PTs of up to 2 model units (the upload scene asks for 2;
    Preflight refuses more than maxProvisionedModelUnits)."""
    # cdk.json leaves the pair to the Region.
    configured = region_default(region)
    assert configured is not None, f"{region} offers no distillation pair"
    pairs = [{"teacher": configured.teacher, "student": extra_student_model_id}] if extra_student_model_id else []
    priced = {configured.teacher, configured.student}
    context: dict[str, Any] = {
        "provisionedThroughputHourlyRateUsd": hourly_rate,
        "maxProvisionedModelUnits": 2,
        "modelPricesUsd": {model: price for model, price in ILLUSTRATIVE_PRICES_USD.items() if model in priced},
    }
    if pairs:
        context["allowedModelPairs"] = pairs
    return context


def synthesize_template(region: str, context: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The stack's template for `region`, and the seconds its synthesis took (jsii's share is most of it)."""
    started = time.monotonic()
    template = synthesize(region, DEFAULT_ACCOUNT_ID, context)
    return template, time.monotonic() - started


def print_synthesized(console: Console, region: str, template: dict[str, Any], seconds: float, how: str = "") -> None:
    roles = sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role")
    console.print(
        f"Synthesized the stack for {region} ({len(template['Resources'])} resources, {roles} IAM roles, cdk-nag "
        f"clean) in {seconds:.1f} s{how}: every AWS call below is authorized against these roles"
    )


@contextmanager
def in_region(region: str) -> Iterator[None]:
    """boto3's default Region (and so moto's, the emulator's and the deployed functions') is `region` inside."""
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


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
    region: str

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

    def model_deployment_of(self, job: Job | None) -> ModelDeployment | None:
        """The on-demand deployment made for a job's custom model (found by its model, as for a PT)."""
        if job is None or job.output_model_arn is None:
            return None
        model_arn = job.output_model_arn
        deployments = [d for d in self.bedrock.model_deployments.values() if d.model_arn == model_arn]
        return max(deployments, key=lambda d: d.created_at) if deployments else None

    def evaluation_jobs_of(self, execution_arn: str) -> list[EvaluationJob]:
        """The judge's jobs an execution created, by the execution tag the workflow puts on them, oldest first."""
        tags_of = self.bedrock.tags_of
        jobs = [
            j for j in self.bedrock.evaluation_jobs.values() if tags_of(j.arn).get(EXECUTION_TAG_KEY) == execution_arn
        ]
        return sorted(jobs, key=lambda job: job.created_at)

    def delivery_for(self, rule: str, matches: Callable[[dict[str, Any]], bool]) -> Delivery:
        """The first delivery of an event matching `matches` to `rule`'s function, once the pump has made it."""
        pump = self.pump
        found: Delivery = wait_for(
            lambda: next((d for d in pump.deliveries_to(rule) if matches(d.event)), None), f"an event on {rule}"
        )
        return found


HANDLERS_PACKAGE = "bedrock_distill.handlers"


@contextmanager
def cold_functions() -> Iterator[None]:
    """The functions' handler modules imported afresh inside, as a Region's Lambda execution environments start
    cold: a handler module makes its boto3 clients once, in the Region of its first call (a warm Lambda reuses
    them), so a world in another Region needs modules of its own. The modules this process had are put back on
    exit, for whoever imported them (tests that patch a handler module's gateway)."""
    package = sys.modules.get(HANDLERS_PACKAGE)

    def handler_modules() -> dict[str, Any]:
        return {name: module for name, module in sys.modules.items() if name.startswith(f"{HANDLERS_PACKAGE}.")}

    saved = handler_modules()
    for name in saved:
        del sys.modules[name]
        if package is not None and hasattr(package, name.rsplit(".", 1)[1]):
            delattr(package, name.rsplit(".", 1)[1])
    try:
        yield
    finally:
        package = sys.modules.get(HANDLERS_PACKAGE)
        for name in handler_modules():
            del sys.modules[name]
            if package is not None and hasattr(package, name.rsplit(".", 1)[1]):
                delattr(package, name.rsplit(".", 1)[1])
        sys.modules.update(saved)
        for name, module in saved.items():
            setattr(package, name.rsplit(".", 1)[1], module)


@contextmanager
def deployed_world(template: dict[str, Any], student_fidelity: float) -> Iterator[World]:
    """moto executing state machines, the emulator, and the stack deployed from `template`; torn down on exit.
    `student_fidelity`: the share of prompts the emulator's distilled students answer as their teacher would."""
    with (
        cold_functions(),
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        bedrock_emulator(
            job_seconds=JOB_SECONDS,
            seconds_per_status_read=STATUS_READ_SECONDS,
            provisioning_seconds=PROVISIONING_SECONDS,
            deployment_seconds=DEPLOYMENT_SECONDS,
            evaluation_seconds=EVALUATION_SECONDS,
            converse_latency_seconds=CONVERSE_LATENCY_SECONDS,
            no_commitment_model_units=NO_COMMITMENT_MODEL_UNITS,
        ) as bedrock,
        LocalPipeline(
            template,
            job_poll_seconds=JOB_FALLBACK_POLL_SECONDS,
            provisioned_throughput_poll_seconds=1,
            model_deployment_poll_seconds=1,
            evaluation_poll_seconds=1,
            # Bedrock's job events go to moto's EventBridge, where the stack's rules route them.
            emulator=bedrock,
        ) as pipeline,
    ):
        bedrock.faults.degrade_student(student_fidelity)
        yield World(pipeline, bedrock, OutcomeInbox.subscribe(pipeline.topic_arn), os.environ["AWS_DEFAULT_REGION"])
