"""`make demo`: the whole pipeline offline, event-driven, from a teacher's invocation logs to a torn-down PT.

Runs on moto and the project's Bedrock emulator, in this process, with no network and no AWS account:

1. deploys the pipeline into moto from the stack's own definitions (`offline.pipeline.LocalPipeline`), its
   EventBridge rules included, with the emulator's job state-change events going to moto's EventBridge;
2. installs the account's invocation logging with the stack's own custom-resource handler;
3. sends generated customer-support tickets to the teacher through Converse with `requestMetadata`, so
   they land in the invocation logs, and writes a held-out validation set to the input bucket;
4. starts an execution that distils from those logs through a metadata filter, and follows it live: the
   job is waited for by a callback, released by the job's Completed event (the fallback poll is an hour);
5. summarises the run: job, custom model, how the job wait ended and what it cost in state transitions,
   training-loss curve (PNG and sparkline), validation and estimated cost;
6. uploads a dataset and its settings file under the upload trigger prefix: the upload starts a run by
   itself, with the settings applied;
7. stops a run that has bought its Provisioned Throughput, as a person would: the execution-end rule
   deletes the PT and reports it, and one firing of the sweep schedule finds nothing left;
8. checks that no Provisioned Throughput is left.

Exit code 0 when every run ended as shown (the two runs succeeded; the stopped one was cleaned up by the
execution-end rule and the sweep found nothing) and no Provisioned Throughput is left, 1 otherwise.
"""

from __future__ import annotations

import os

# Set before boto3, moto or Powertools is imported: the demo must never reach a real account, whatever
# the shell holds, and the handlers' JSON logs and metrics would drown the live view.
_FORCED_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
_DEFAULT_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-west-2",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "bedrock-distill-demo",
    "POWERTOOLS_METRICS_NAMESPACE": "bedrock-distill-demo",
}
os.environ.update(_FORCED_ENVIRONMENT)
for _name, _value in _DEFAULT_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
    os.environ.pop(_name, None)

# ruff: noqa: E402 - the imports below must see the environment set above.
import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bedrock_distill.catalog import region_default
from bedrock_distill.gateways.stepfunctions import TERMINAL_STATUSES
from bedrock_distill.workflow.metrics import JobMetrics
from bedrock_distill.workflow.run import EXECUTION_TAG_KEY
from distill_cli.report import plot_training_loss
from offline.bedrock_emulator import BedrockEmulator, Job, ProvisionedThroughput, bedrock_emulator
from offline.bedrock_emulator.service import DEFAULT_ACCOUNT_ID
from offline.events import Delivery, EventPump
from offline.pipeline import LocalPipeline
from offline.synth import synthesize

# Emulated durations, in logical seconds. Bedrock's clock moves only when the demo moves it: while an
# execution waits for its job's event, each refresh of the view advances it by a step (the job's progress
# shows step by step), until the job ends and its Completed event releases the execution. Provisioned
# Throughput has no such event, so its wait still polls: each status read moves the clock by
# STATUS_READ_SECONDS, and the PT is InService at the first read after a one-second Wait.
JOB_SECONDS = 8 * 3600
PROVISIONING_SECONDS = 10 * 60
STATUS_READ_SECONDS = PROVISIONING_SECONDS
MAIN_RUN_JOB_STEPS = 12  # 40-minute steps: the job's progress in a dozen refreshes
SHORT_RUN_JOB_STEPS = 4  # the later runs' jobs, in 2-hour steps
# The job wait's fallback poll (pollIntervals.jobSeconds; a Task timeout, real seconds in moto): far longer
# than the demo lasts, so only the job's state-change event can release an execution in time.
JOB_FALLBACK_POLL_SECONDS = 3600
# A small real delay per Converse call, so the bounded concurrency of the teacher calls is visible.
CONVERSE_LATENCY_SECONDS = 0.02

# A demo assumption, not a price: no-commitment Provisioned Throughput rates differ by model and Region.
DEFAULT_HOURLY_RATE_USD = 20.0
RATE_DISCLAIMER = "assumed rate; see the Bedrock pricing page"

# The use case: one-line summaries of customer-support tickets, tagged by project and split. The filter
# selects the training split; the validation split and another team's traffic share the logs and must
# be left out of training.
PROJECT = "support-summaries"
TRAINING_TICKETS = 120
VALIDATION_TICKETS = 15
OTHER_PROJECT = "marketing-copy"
OTHER_PROJECT_PROMPTS = 15
METADATA_FILTER: dict[str, Any] = {"andAll": [{"equals": {"project": PROJECT}}, {"equals": {"split": "train"}}]}
TEACHER_CONCURRENCY = 8
SYSTEM_PROMPT = "You summarise customer-support tickets in one line for the on-call engineer."
VALIDATION_KEY = f"datasets/{PROJECT}/validation.jsonl"
EXECUTION_NAME = f"{PROJECT}-demo"
# What the job wait costs: the states one round of waiting for the job passes through.
JOB_WAIT_STATES = ("WaitForJobEvent", "GetJobStatus", "JobCompleted?")

# The upload scene: the training tickets with the teacher's answers, uploaded as a dataset, with a settings
# file beside it that picks a smaller student and two model units.
UPLOAD_STEM = f"{PROJECT}-curated"
UPLOAD_SETTINGS: dict[str, Any] = {"studentModelId": "meta.llama3-2-1b-instruct-v1:0:128k", "provisionedModelUnits": 2}
# The forgotten-PT scene: a run that looks at its PT only once a minute, so it is stopped with a PT alive.
FORGOTTEN_EXECUTION_NAME = f"{PROJECT}-forgotten-pt"
FORGOTTEN_PT_POLL_SECONDS = 60
STOP_CAUSE = "Stopped by a person: the workflow's own cleanup never runs after StopExecution"

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARKLINE_WIDTH = 60
REFRESHES_PER_SECOND = 4
EXECUTION_TIMEOUT_SECONDS = 300.0
EVENT_TIMEOUT_SECONDS = 30.0
# The stack's EventBridge rules, as `offline.pipeline.LocalPipeline` creates them in moto.
EVENT_RULES = ("uploads", "job-events", "execution-ends", "sweep")


# Generated use-case data --------------------------------------------------------------------------------

_PRODUCTS = ("LaserJet Pro 400", "Router AX3000", "Smart Thermostat S2", "Billing portal", "Mobile app", "NAS DS220")
_SYMPTOMS = (
    "stops responding after the latest firmware update",
    "shows error code E{code} on start-up",
    "charges the customer twice for one order",
    "drops the connection every {minutes} minutes",
    "loses its settings after a power cut",
    "rejects a valid password since yesterday",
    "runs very slowly when more than {count} users are signed in",
)
_CONTEXTS = (
    "The customer already restarted the device twice.",
    "This is the third ticket from this customer this month.",
    "The customer has a business plan with a four-hour response commitment.",
    "Logs were attached to the ticket.",
    "The customer is travelling and can only reply by email.",
)
_TONES = ("Polite but frustrated.", "Very angry, threatens to cancel.", "Calm, asks for a workaround.")
_MARKETING_ASKS = (
    "Write a tagline for the spring sale on {product}.",
    "Draft a two-sentence product blurb for {product}.",
    "Suggest a subject line for the {product} newsletter.",
)


@dataclass(frozen=True)
class TeacherRequest:
    user_text: str
    system_text: str
    metadata: dict[str, str]


def ticket_text(rng: random.Random, number: int) -> str:
    product = rng.choice(_PRODUCTS)
    symptom = rng.choice(_SYMPTOMS).format(
        code=rng.randint(100, 999), minutes=rng.choice((5, 10, 30)), count=rng.choice((5, 20, 50))
    )
    return (
        f"Summarise support ticket #{number} in one line.\n\n"
        f"Product: {product}\nIssue: the {product} {symptom}.\n"
        f"{rng.choice(_CONTEXTS)} Customer mood: {rng.choice(_TONES)}"
    )


def teacher_requests(seed: int) -> list[TeacherRequest]:
    """The demo's Converse traffic, in a seeded and so reproducible order of interleaved teams and splits."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    requests = [
        TeacherRequest(ticket_text(rng, 1000 + i), SYSTEM_PROMPT, {"project": PROJECT, "split": "train"})
        for i in range(TRAINING_TICKETS)
    ]
    requests += [
        TeacherRequest(ticket_text(rng, 5000 + i), SYSTEM_PROMPT, {"project": PROJECT, "split": "validation"})
        for i in range(VALIDATION_TICKETS)
    ]
    requests += [
        TeacherRequest(
            rng.choice(_MARKETING_ASKS).format(product=rng.choice(_PRODUCTS)),
            "You write short, upbeat marketing copy.",
            {"project": OTHER_PROJECT, "split": "train"},
        )
        for _ in range(OTHER_PROJECT_PROMPTS)
    ]
    rng.shuffle(requests)
    return requests


# Set-up --------------------------------------------------------------------------------------------------


def ask_teacher(
    requests: Sequence[TeacherRequest], teacher_model_id: str, console: Console
) -> list[tuple[TeacherRequest, str]]:
    """Each request through Converse with its metadata, at most TEACHER_CONCURRENCY at a time."""
    runtime = boto3.client("bedrock-runtime")

    def converse(request: TeacherRequest) -> tuple[TeacherRequest, str]:
        response = runtime.converse(
            modelId=teacher_model_id,
            system=[{"text": request.system_text}],
            messages=[{"role": "user", "content": [{"text": request.user_text}]}],
            inferenceConfig={"maxTokens": 200, "temperature": 0.0},
            requestMetadata=request.metadata,
        )
        return request, "".join(block.get("text", "") for block in response["output"]["message"]["content"])

    with (
        Progress(
            TextColumn("Teacher answers"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        ) as progress,
        ThreadPoolExecutor(max_workers=TEACHER_CONCURRENCY) as pool,
    ):
        task = progress.add_task("teacher", total=len(requests))
        answered = []
        for result in pool.map(converse, requests):
            answered.append(result)
            progress.advance(task)
    return answered


def upload_validation_set(pipeline: LocalPipeline, answered: Sequence[tuple[TeacherRequest, str]]) -> str:
    """The held-out split as bedrock-conversation-2024 records, the teacher's answers as references."""
    lines = [json.dumps(record) for record in conversation_records(answered, "validation")]
    bucket = pipeline.names.input_bucket
    boto3.client("s3").put_object(Bucket=bucket, Key=VALIDATION_KEY, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{VALIDATION_KEY}"


def conversation_records(answered: Sequence[tuple[TeacherRequest, str]], split: str) -> list[dict[str, Any]]:
    """One split of the tickets as bedrock-conversation-2024 records, the teacher's answers as the targets."""
    return [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": request.system_text}],
            "messages": [
                {"role": "user", "content": [{"text": request.user_text}]},
                {"role": "assistant", "content": [{"text": answer}]},
            ],
        }
        for request, answer in answered
        if request.metadata == {"project": PROJECT, "split": split}
    ]


# Following an execution -----------------------------------------------------------------------------------


def job_of(bedrock: BedrockEmulator, execution_arn: str) -> Job | None:
    """The job an execution created, found by the execution tag the workflow puts on it."""
    jobs = [job for job in bedrock.jobs.values() if bedrock.tags_of(job.arn).get(EXECUTION_TAG_KEY) == execution_arn]
    return max(jobs, key=lambda job: job.created_at) if jobs else None


def provisioned_throughput_of(bedrock: BedrockEmulator, job: Job | None) -> ProvisionedThroughput | None:
    """The PT bought for a job's custom model (a deleted PT has lost its tags, not its model)."""
    if job is None or job.output_model_arn is None:
        return None
    throughputs = [pt for pt in bedrock.provisioned_throughputs.values() if pt.model_arn == job.output_model_arn]
    return max(throughputs, key=lambda pt: pt.created_at) if throughputs else None


def waiting_for_job_event(history: Sequence[dict[str, Any]]) -> bool:
    """True while WaitForJobEvent holds a filed task token: its registration has returned (TaskSubmitted)
    and the task has not ended."""
    waiting = False
    in_job_wait = False
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            in_job_wait = event["stateEnteredEventDetails"]["name"] == "WaitForJobEvent"
            waiting = False
        elif kind == "TaskSubmitted":
            waiting = in_job_wait
        elif kind in {"TaskSucceeded", "TaskFailed", "TaskTimedOut"} or kind.endswith("StateExited"):
            waiting = False
    return waiting


@dataclass(frozen=True)
class Snapshot:
    execution_status: str
    state: str
    job_status: str
    provisioned_throughput_status: str
    logical_seconds: float
    wall_seconds: float
    # Logical seconds until the job ends while the execution waits for its event; 0 otherwise.
    job_wait_seconds_left: float = 0.0

    @property
    def milestone(self) -> tuple[str, str, str, str]:
        """What a line-by-line log reports a change of; the clocks alone are no news."""
        return self.execution_status, self.state, self.job_status, self.provisioned_throughput_status


def snapshot(pipeline: LocalPipeline, bedrock: BedrockEmulator, execution_arn: str, started: float) -> Snapshot:
    """The execution as of now. Bedrock is read through the emulator's inspection API, not boto3: a status
    read through boto3 would move the logical clock and change the run it is watching."""
    status = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
    history = pipeline.history(execution_arn)
    entered = [event["stateEnteredEventDetails"]["name"] for event in history if event["type"].endswith("StateEntered")]
    job = job_of(bedrock, execution_arn)
    job_status = "not created"
    seconds_left = 0.0
    if job is not None:
        now = bedrock.clock.now()
        done = (now - job.created_at) / job.duration
        job_status = job.status if job.status != "InProgress" else f"InProgress ({min(done, 1.0):.0%})"
        if job.status == "InProgress" and status == "RUNNING" and waiting_for_job_event(history):
            seconds_left = max((job.ends_at - now).total_seconds(), 0.0)
    throughput = provisioned_throughput_of(bedrock, job)
    pt_status = "not created"
    if throughput is not None:
        pt_status = "Deleted" if throughput.deleted else throughput.status
    return Snapshot(
        execution_status=status,
        state=entered[-1] if entered else "starting",
        job_status=job_status,
        provisioned_throughput_status=pt_status,
        logical_seconds=bedrock.clock.elapsed_seconds,
        wall_seconds=time.monotonic() - started,
        job_wait_seconds_left=seconds_left,
    )


def duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def progress_table(current: Snapshot, title: str) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    # Wide enough for the longest state names: the panel keeps its width as the run moves on.
    table.add_column(min_width=30)
    table.add_row("Execution", current.execution_status)
    table.add_row("State", current.state)
    table.add_row("Distillation job", current.job_status)
    table.add_row("Provisioned Throughput", current.provisioned_throughput_status)
    table.add_row("Logical time (Bedrock)", duration(current.logical_seconds))
    table.add_row("Wall time", f"{current.wall_seconds:.1f} s")
    return Panel(table, title=title, expand=False)


def progress_line(current: Snapshot) -> str:
    return (
        f"[{current.wall_seconds:5.1f} s | logical {duration(current.logical_seconds)}] "
        f"execution {current.execution_status}, state {current.state}, job {current.job_status}, "
        f"PT {current.provisioned_throughput_status}"
    )


def follow(
    pipeline: LocalPipeline,
    bedrock: BedrockEmulator,
    execution_arn: str,
    console: Console,
    *,
    job_steps: int,
    until: Callable[[Snapshot], bool] | None = None,
) -> tuple[dict[str, Any], Snapshot]:
    """Until the execution ends (or `until` holds): a live panel on a terminal, one line per change otherwise
    (CI logs). While the execution waits for its job's event, each refresh moves Bedrock's clock on by
    1/`job_steps` of the job's duration, so the job progresses and ends, and its event releases the run."""
    started = time.monotonic()
    deadline = started + EXECUTION_TIMEOUT_SECONDS
    title = execution_arn.rsplit(":", 1)[-1]
    step = JOB_SECONDS / job_steps
    live = Live(console=console, auto_refresh=console.is_terminal, refresh_per_second=REFRESHES_PER_SECOND)
    last_milestone: tuple[str, ...] = ()
    with live if console.is_terminal else ExitStack():
        while True:
            current = snapshot(pipeline, bedrock, execution_arn, started)
            if console.is_terminal:
                live.update(progress_table(current, title))
            elif current.milestone != last_milestone:
                console.print(progress_line(current))
                last_milestone = current.milestone
            if current.execution_status in TERMINAL_STATUSES or (until is not None and until(current)):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {current.execution_status} after {deadline - started} s")
            if current.job_wait_seconds_left > 0:
                # Never past the job's end: its Completed event then carries the job's own end time.
                bedrock.advance(min(step, current.job_wait_seconds_left))
            time.sleep(1 / REFRESHES_PER_SECOND)
    description: dict[str, Any] = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)
    return description, current


def wait_for(condition: Callable[[], Any], what: str, timeout_seconds: float = EVENT_TIMEOUT_SECONDS) -> Any:
    """`condition()`'s first truthy value, polled; TimeoutError naming `what` if none comes in time."""
    deadline = time.monotonic() + timeout_seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what} after {timeout_seconds} s")
        time.sleep(0.05)
    return value


def pump_of(pipeline: LocalPipeline) -> EventPump:
    assert pipeline.pump is not None  # started by deploy()
    return pipeline.pump


def delivery_for(pipeline: LocalPipeline, rule: str, matches: Callable[[dict[str, Any]], bool]) -> Delivery:
    """The first delivery of an event matching `matches` to `rule`'s function, once the pump has made it."""
    pump = pump_of(pipeline)
    found: Delivery = wait_for(
        lambda: next((d for d in pump.deliveries_to(rule) if matches(d.event)), None), f"an event on {rule}"
    )
    return found


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


# Summary --------------------------------------------------------------------------------------------------


def read_json(uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    document: dict[str, Any] = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


def sparkline(values: Sequence[float], width: int = SPARKLINE_WIDTH) -> str:
    """The values as block characters, averaged into at most `width` columns."""
    if not values:
        return ""
    columns = min(width, len(values))
    buckets = [values[i * len(values) // columns : (i + 1) * len(values) // columns] for i in range(columns)]
    means = [statistics.fmean(bucket) for bucket in buckets]
    low, high = min(means), max(means)
    span = (high - low) or 1.0
    return "".join(SPARK_LEVELS[round((mean - low) / span * (len(SPARK_LEVELS) - 1))] for mean in means)


def _figure(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_summary(
    console: Console,
    *,
    description: dict[str, Any],
    final: Snapshot,
    output_dir: Path,
    hourly_rate: float,
) -> None:
    """What the run produced."""
    output = json.loads(description.get("output") or "{}")
    outcome = (output.get("notification") or {}).get("outcome", {})
    job = output.get("job", {})
    say = console.print
    console.rule("Summary")
    say(f"Execution: {description['status']} ({description['executionArn']})")
    if outcome.get("error"):
        say(f"Error: {outcome['error']}: {outcome.get('cause', '')}", style="red")
        say(f"Next step: {outcome.get('next_step', '')}")
    say(f"Job: {outcome.get('job_arn') or job.get('jobArn', 'none')} ({job.get('status', 'not created')})")
    say(f"Custom model: {outcome.get('custom_model_arn') or job.get('outputModelArn', 'none')}")
    say(f"Logical time: {duration(final.logical_seconds)}; wall time {final.wall_seconds:.1f} s")

    run = output.get("run", {})
    if run.get("preflightReportUri"):
        scan = read_json(run["preflightReportUri"]).get("invocationLogs", {})
        if "records_matching_filter" in scan:
            say(
                f"Training data: {scan['records']} logged invocations, {scan['records_matching_filter']} "
                f"match the filter {_filter_text()}, {scan['used']} used"
            )

    metrics_uri = (output.get("metrics") or {}).get("reportUri")
    metrics = read_json(metrics_uri) if metrics_uri else {"training_steps": []}
    losses = [step["training_loss"] for step in metrics["training_steps"]]
    if losses:
        png = output_dir / "training-loss.png"
        plot_training_loss(JobMetrics.model_validate(metrics), png, f"{EXECUTION_NAME}: training loss")
        say(f"Training loss: {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} steps")
        say(f"  {sparkline(losses)}")
        say(f"Training-loss curve: {png.resolve()}")

    validation_uri = ((output.get("serving") or {}).get("validation") or {}).get("reportUri")
    if validation_uri:
        validation = read_json(validation_uri)["summary"]
        say(
            f"Validation: {validation['succeeded']}/{validation['prompts']} prompts succeeded, "
            f"latency p50 {_figure(validation['latency_p50_ms'], '.0f')} ms, "
            f"p95 {_figure(validation['latency_p95_ms'], '.0f')} ms, "
            f"mean similarity {_figure(validation['mean_similarity'], '.1f')} ({validation['similarity_metric']}) "
            "against the teacher's answers"
        )

    if outcome.get("estimated_provisioned_throughput_cost_usd") is not None:
        units = (output.get("deletion") or {}).get("modelUnits")
        say(
            f"Estimated Provisioned Throughput cost: ${outcome['estimated_provisioned_throughput_cost_usd']:.2f} "
            f"({outcome['provisioned_throughput_hours']} h alive, billed per started hour, x {units} model unit(s) "
            f"x ${hourly_rate:.2f}/h: {RATE_DISCLAIMER})"
        )


def print_job_wait(console: Console, pipeline: LocalPipeline, bedrock: BedrockEmulator, execution_arn: str) -> None:
    """How the job wait ended, and what it cost in state transitions: the callback at work."""
    say = console.print
    job = job_of(bedrock, execution_arn)
    if job is None:
        say("Job wait: no job was created")
        return
    history = pipeline.history(execution_arn)
    releases = [
        delivery
        for delivery in pump_of(pipeline).deliveries_to("job-events")
        if delivery.event["detail"].get("jobArn") == job.arn and delivery.succeeded
    ]
    released = [delivery for delivery in releases if delivery.result.get("released") is True]
    if released:
        status = released[0].result.get("jobStatus")
        say(f"Job wait: released by the job's {status} event (job-events rule -> RelayJobEvent, released: True)")
    else:
        how = (
            "registration (the job had ended before its token was filed)"
            if "registration" in _released_by(history)
            else "polling"
        )
        say(f"Job wait: not released by the job's event but by {how}", style="yellow")
    entered = Counter(
        event["stateEnteredEventDetails"]["name"] for event in history if event["type"].endswith("StateEntered")
    )
    counts = [entered[state] for state in JOB_WAIT_STATES]
    timeouts = sum(1 for event in history if event["type"] == "TaskTimedOut")
    trained = (job.end_time or bedrock.clock.now()) - job.created_at
    say(
        f"Job wait cost {sum(counts)} state transitions "
        f"({', '.join(f'{state} {count}' for state, count in zip(JOB_WAIT_STATES, counts, strict=True))}) "
        f"for {duration(trained.total_seconds())} of training; the fallback poll "
        f"(every {JOB_FALLBACK_POLL_SECONDS} s) fired {timeouts} times"
    )


def _released_by(history: Sequence[dict[str, Any]]) -> list[str]:
    """Who returned the job wait's task tokens: "event" or "registration" (RegisterJobWaiter's own read)."""
    outputs = [
        json.loads(e["taskSucceededEventDetails"].get("output") or "null")
        for e in history
        if e["type"] == "TaskSucceeded"
    ]
    return [str(output["releasedBy"]) for output in outputs if isinstance(output, dict) and "releasedBy" in output]


# The upload trigger ---------------------------------------------------------------------------------------


def run_started_by_upload(
    pipeline: LocalPipeline,
    bedrock: BedrockEmulator,
    answered: Sequence[tuple[TeacherRequest, str]],
    console: Console,
) -> tuple[bool, str]:
    """Uploads a dataset and its settings under the trigger prefix; follows the run the upload starts.
    Returns whether it succeeded with the settings applied, and the dataset's URI."""
    settings = pipeline.settings
    assert settings is not None  # set by deploy()
    say = console.print
    console.rule("An upload starts a run")
    bucket, prefix = pipeline.names.input_bucket, settings.upload_trigger_prefix
    s3 = boto3.client("s3")
    # The settings first: the run started by the dataset's upload reads them in its Preflight.
    settings_key, dataset_key = f"{prefix}/{UPLOAD_STEM}.json", f"{prefix}/{UPLOAD_STEM}.jsonl"
    s3.put_object(Bucket=bucket, Key=settings_key, Body=json.dumps(UPLOAD_SETTINGS, indent=2).encode())
    say(f"Uploaded s3://{bucket}/{settings_key}: {json.dumps(UPLOAD_SETTINGS)}")
    records = conversation_records(answered, "train")
    body = "".join(json.dumps(record) + "\n" for record in records)
    s3.put_object(Bucket=bucket, Key=dataset_key, Body=body.encode())
    dataset_uri = f"s3://{bucket}/{dataset_key}"
    say(f"Uploaded {dataset_uri}: {len(records)} records (the training tickets with the teacher's answers)")

    delivery = delivery_for(pipeline, "uploads", lambda event: event["detail"]["object"]["key"] == dataset_key)
    if not (delivery.succeeded and delivery.result.get("action") == "started"):
        say(f"The upload started no run: {json.dumps(delivery.result)}", style="bold red")
        return False, dataset_uri
    execution_arn = str(delivery.result["executionArn"])
    name = execution_arn.rsplit(":", 1)[-1]
    say(f"Upload trigger started {name} (uploads rule -> StartFromUpload)")
    description, final = follow(pipeline, bedrock, execution_arn, console, job_steps=SHORT_RUN_JOB_STEPS)

    job = job_of(bedrock, execution_arn)
    throughput = provisioned_throughput_of(bedrock, job)
    student = job.request["baseModelIdentifier"] if job is not None else "none"
    units = throughput.model_units if throughput is not None else 0
    say(
        f"Settings applied from {UPLOAD_STEM}.json: the job trained {student}, "
        f"its Provisioned Throughput had {units} model units"
    )
    say(f"Upload run: {description['status']} ({execution_arn}); wall time {final.wall_seconds:.1f} s")
    applied = (student, units) == (UPLOAD_SETTINGS["studentModelId"], UPLOAD_SETTINGS["provisionedModelUnits"])
    return description["status"] == "SUCCEEDED" and applied, dataset_uri


# A forgotten Provisioned Throughput -----------------------------------------------------------------------


def forgotten_provisioned_throughput(
    pipeline: LocalPipeline, bedrock: BedrockEmulator, inbox: OutcomeInbox, prompts_uri: str, console: Console
) -> bool:
    """Stops a run that holds a PT, as a person would; shows the execution-end rule deleting the PT and
    reporting it, then one sweep finding nothing left. Returns whether all of that happened."""
    say = console.print
    console.rule("A forgotten Provisioned Throughput")
    execution_input = {
        "trainingData": {"prompts": prompts_uri},
        "validationSampleSize": 5,
        "pollIntervals": {
            "jobSeconds": JOB_FALLBACK_POLL_SECONDS,
            "provisionedThroughputSeconds": FORGOTTEN_PT_POLL_SECONDS,
        },
    }
    say(
        f"Starting {FORGOTTEN_EXECUTION_NAME}: it looks at its Provisioned Throughput once a minute, "
        "and is stopped as soon as it has bought one"
    )
    execution_arn = pipeline.start_execution(execution_input, name=FORGOTTEN_EXECUTION_NAME)
    description, _ = follow(
        pipeline,
        bedrock,
        execution_arn,
        console,
        job_steps=SHORT_RUN_JOB_STEPS,
        until=lambda current: current.provisioned_throughput_status != "not created",
    )
    throughput = provisioned_throughput_of(bedrock, job_of(bedrock, execution_arn))
    if description["status"] != "RUNNING" or throughput is None:
        say(f"{FORGOTTEN_EXECUTION_NAME} ended {description['status']} before buying its PT", style="bold red")
        return False
    say(
        f"Provisioned Throughput bought: {throughput.arn} ({throughput.status}, {throughput.model_units} model unit(s))"
    )

    # StopExecution: no Catch runs, so the workflow's own DeleteProvisionedThroughput never will.
    boto3.client("stepfunctions").stop_execution(executionArn=execution_arn, cause=STOP_CAUSE)
    status = pipeline.wait(execution_arn, timeout_seconds=EVENT_TIMEOUT_SECONDS)["status"]
    say(f"Stopped {FORGOTTEN_EXECUTION_NAME} with StopExecution: {status}; no Catch runs, the workflow deletes nothing")

    cleanup = delivery_for(
        pipeline, "execution-ends", lambda event: event["detail"].get("executionArn") == execution_arn
    )
    deleted = list(cleanup.result.get("deletedProvisionedThroughputs", [])) if cleanup.succeeded else []
    stopped = list(cleanup.result.get("stoppedJobs", [])) if cleanup.succeeded else []
    pt_status = "Deleted" if throughput.deleted else throughput.status
    say(
        f"execution-ends rule (its {status} status change) -> CleanUpExecution: deleted {len(deleted)} "
        f"Provisioned Throughput(s) {json.dumps(deleted)}, stopped {len(stopped)} job(s); the PT is now {pt_status}"
    )
    outcomes = wait_for(lambda: inbox.about(execution_arn), f"the outcome message of {FORGOTTEN_EXECUTION_NAME}")
    outcome = outcomes[0]
    reported = (outcome.get("cleanup") or {}).get("deleted_provisioned_throughputs", [])
    say(
        f"Outcome message (SNS): {outcome['status']}, cleanup deleted_provisioned_throughputs "
        f"{json.dumps(reported)}; next step: {outcome.get('next_step', '')}"
    )

    sweep = pump_of(pipeline).fire("sweep")
    swept = list(sweep.result.get("deletedProvisionedThroughputs", [])) if sweep.succeeded else []
    kept = list(sweep.result.get("keptProvisionedThroughputs", [])) if sweep.succeeded else []
    left = "nothing left" if sweep.succeeded and not swept and not kept else "FOUND PTs"
    say(
        f"Sweep (its hourly schedule, fired once now): deleted {len(swept)}, kept {len(kept)}: {left}",
        style=None if left == "nothing left" else "bold red",
    )
    return (
        status == "ABORTED"
        and cleanup.succeeded
        and deleted == [throughput.arn]
        and throughput.deleted
        and len(outcomes) == 1
        and outcome["status"] == "ABORTED"
        and reported == deleted
        and sweep.succeeded
        and not swept
    )


# Entry point ----------------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m offline.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hourly-rate",
        type=float,
        default=DEFAULT_HOURLY_RATE_USD,
        help=f"USD per model unit-hour for the cost estimate; default {DEFAULT_HOURLY_RATE_USD} ({RATE_DISCLAIMER})",
    )
    parser.add_argument("--output-dir", type=Path, default=Path("demo-output"), help="where the PNG goes")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated support tickets")
    return parser.parse_args(argv)


def distil_from_invocation_logs(
    pipeline: LocalPipeline, bedrock: BedrockEmulator, arguments: argparse.Namespace, console: Console
) -> tuple[bool, list[tuple[TeacherRequest, str]]]:
    """The main run; returns whether it succeeded, and the teacher's answers for the later scenes."""
    settings = pipeline.settings
    assert settings is not None  # set by deploy()
    names = pipeline.names
    # What CloudFormation does with the stack's custom resource: its handler, as its role, installs logging.
    pipeline.invocation_logging("Create")
    console.print(f"Invocation logging installed: s3://{names.invocation_log_bucket}/{names.invocation_log_prefix}/")

    requests = teacher_requests(arguments.seed)
    answered = ask_teacher(requests, settings.default_teacher_model_id, console)
    console.print(
        f"Teacher {settings.default_teacher_model_id} answered {len(answered)} prompts through Converse with "
        f"requestMetadata: {TRAINING_TICKETS} {PROJECT}/train, {VALIDATION_TICKETS} {PROJECT}/validation, "
        f"{OTHER_PROJECT_PROMPTS} {OTHER_PROJECT}/train"
    )
    validation_prompts = upload_validation_set(pipeline, answered)
    console.print(f"Held-out validation set: {validation_prompts}")

    execution_input = {
        "trainingData": {
            # The teacher's logged answers are the training targets: no second round of teacher inference.
            "invocationLogs": {"requestMetadataFilters": METADATA_FILTER, "usePromptResponse": True}
        },
        "validationPrompts": validation_prompts,
        "validationSampleSize": VALIDATION_TICKETS,
        # A fallback only: the job's state-change event is what ends the wait.
        "pollIntervals": {"jobSeconds": JOB_FALLBACK_POLL_SECONDS},
    }
    console.rule("Distillation from the invocation logs")
    console.print(f"Starting {EXECUTION_NAME}: training data from the invocation logs matching {_filter_text()}")
    console.print(
        f"The job wait is a callback: released by the job's state-change event (fallback poll every "
        f"{JOB_FALLBACK_POLL_SECONDS} s); Bedrock's clock moves {duration(JOB_SECONDS / MAIN_RUN_JOB_STEPS)} "
        "per refresh while the job runs"
    )
    execution_arn = pipeline.start_execution(execution_input, name=EXECUTION_NAME)
    description, final = follow(pipeline, bedrock, execution_arn, console, job_steps=MAIN_RUN_JOB_STEPS)
    print_summary(
        console,
        description=description,
        final=final,
        output_dir=arguments.output_dir,
        hourly_rate=arguments.hourly_rate,
    )
    print_job_wait(console, pipeline, bedrock, execution_arn)
    return description["status"] == "SUCCEEDED", answered


def check_nothing_left(console: Console, bedrock: BedrockEmulator, inbox: OutcomeInbox) -> bool:
    """True when no Provisioned Throughput is left billing."""
    console.rule("Check")
    messages = Counter(
        f"{message['status']} {message['execution_arn'].rsplit(':', 1)[-1]}" for message in inbox.receive()
    )
    console.print(f"Outcome messages on the topic: {', '.join(f'{key} x{count}' for key, count in messages.items())}")
    left = bedrock.live_provisioned_throughputs()
    if left:
        for pt in left:
            console.print(f"Provisioned Throughput LEFT RUNNING: {pt.arn} ({pt.status})", style="bold red")
        return False
    throughputs = bedrock.provisioned_throughputs.values()
    created, deleted = len(throughputs), sum(pt.deleted for pt in throughputs)
    console.print(f"Checked: no Provisioned Throughput left ({created} created, {deleted} deleted)", style="green")
    return True


def deploy_context(arguments: argparse.Namespace) -> dict[str, Any]:
    """The demo's `cdk deploy -c ...`: a PT price for the cost estimate, and the upload scene's smaller student
    allowed beside the configured pair (IAM grants exactly these; Preflight refuses any other)."""
    # cdk.json leaves the pair to the Region: in us-west-2, Llama 3.1 70B -> Llama 3.1 8B.
    configured = region_default(os.environ["AWS_DEFAULT_REGION"])
    assert configured is not None, "the demo's Region offers no distillation pair"
    return {
        "provisionedThroughputHourlyRateUsd": arguments.hourly_rate,
        "allowedModelPairs": [{"teacher": configured.teacher, "student": UPLOAD_SETTINGS["studentModelId"]}],
    }


def synthesize_stack(arguments: argparse.Namespace, console: Console) -> dict[str, Any]:
    started = time.monotonic()
    region = os.environ["AWS_DEFAULT_REGION"]
    template = synthesize(region, DEFAULT_ACCOUNT_ID, deploy_context(arguments))
    roles = sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role")
    console.print(
        f"Synthesized the stack for {region} ({len(template['Resources'])} resources, {roles} IAM roles, cdk-nag "
        f"clean) in {time.monotonic() - started:.1f} s: every AWS call below is authorized against these roles"
    )
    return template


def print_iam_summary(console: Console, pipeline: LocalPipeline) -> bool:
    enforcer = pipeline.enforcer
    assert enforcer is not None
    callers = {a.principal.session_arn.rsplit("/", 1)[-1] for a in enforcer.authorizations}
    console.print(
        f"IAM: {len(enforcer.authorizations)} requests authorized against the synthesized policies of "
        f"{len(callers)} callers (functions and the distillation service role), {len(enforcer.denials)} denied"
    )
    for denial in enforcer.denials:
        console.print(f"  denied: {denial.message}", style="bold red")
    return not enforcer.denials


def run_demo(arguments: argparse.Namespace, console: Console) -> int:
    template = synthesize_stack(arguments, console)
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        bedrock_emulator(
            job_seconds=JOB_SECONDS,
            seconds_per_status_read=STATUS_READ_SECONDS,
            provisioning_seconds=PROVISIONING_SECONDS,
            converse_latency_seconds=CONVERSE_LATENCY_SECONDS,
            # The account's granted quota (0 in a new account): one scene's PT at a time, the upload scene's 2 units.
            no_commitment_model_units=2,
        ) as bedrock,
        LocalPipeline(
            template,
            job_poll_seconds=JOB_FALLBACK_POLL_SECONDS,
            provisioned_throughput_poll_seconds=1,
            # Bedrock's job events go to moto's EventBridge, where the stack's rules route them.
            emulator=bedrock,
        ) as pipeline,
    ):
        names = pipeline.names
        console.print(f"Deployed {pipeline.state_machine_arn} from the stack's definition")
        console.print(
            f"  {len(pipeline.lambdas.handlers)} functions; buckets {names.input_bucket}, {names.output_bucket}, "
            f"{names.invocation_log_bucket}; topic {pipeline.topic_arn}"
        )
        console.print(f"  EventBridge rules {', '.join(EVENT_RULES)}: SQS stand-in targets drained into the handlers")
        inbox = OutcomeInbox.subscribe(pipeline.topic_arn)

        try:
            distilled, answered = distil_from_invocation_logs(pipeline, bedrock, arguments, console)
            uploaded, dataset_uri = run_started_by_upload(pipeline, bedrock, answered, console)
            cleaned_up = forgotten_provisioned_throughput(pipeline, bedrock, inbox, dataset_uri, console)
        finally:
            # Whatever happened above, the demo ends by looking for Provisioned Throughput left billing.
            nothing_left = check_nothing_left(console, bedrock, inbox)
            nothing_denied = print_iam_summary(console, pipeline)
    return 0 if distilled and uploaded and cleaned_up and nothing_left and nothing_denied else 1


def _filter_text() -> str:
    return json.dumps(METADATA_FILTER)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    # soft_wrap: ARNs and URIs stay on one line, whole, in narrow terminals and in CI logs alike.
    # markup and highlighting off: causes and ARNs are data, printed as they are, without colour noise.
    console = Console(soft_wrap=True, markup=False, highlight=False)
    started = time.monotonic()
    code = run_demo(arguments, console)
    console.print(f"Demo finished in {time.monotonic() - started:.1f} s wall time, exit code {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
