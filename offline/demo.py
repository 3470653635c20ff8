"""`make demo`: the whole pipeline offline, from a teacher's invocation logs to a torn-down Provisioned Throughput.

Runs on moto and the project's Bedrock emulator, in this process, with no network and no AWS account:

1. deploys the pipeline into moto from the stack's own definitions (`offline.pipeline.LocalPipeline`);
2. installs the account's invocation logging with the stack's own custom-resource handler;
3. sends generated customer-support tickets to the teacher through Converse with `requestMetadata`, so
   they land in the invocation logs, and writes a held-out validation set to the input bucket;
4. starts an execution that distils from those logs through a metadata filter, and follows it live;
5. summarises the run: job, custom model, training-loss curve (PNG and sparkline), validation, estimated
   cost, and a check that no Provisioned Throughput is left.

Exit code 0 when the execution succeeded and no Provisioned Throughput is left, 1 otherwise.
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
    "AWS_DEFAULT_REGION": "us-east-1",
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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import matplotlib
from moto import mock_aws
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bedrock_distill.handlers import invocation_logging
from bedrock_emulator import BedrockEmulator, bedrock_emulator
from offline.lambda_runtime import LocalLambdaContext
from offline.pipeline import TERMINAL_STATUSES, LocalPipeline

matplotlib.use("Agg")  # files only: no display on CI machines or over SSH
from matplotlib import pyplot

# Emulated durations, in logical seconds. Every status read of a job or Provisioned Throughput moves the
# emulator's clock on by STATUS_READ_SECONDS, and moto's Wait states sleep one real second per poll, so
# an 8-hour job takes about JOB_SECONDS / STATUS_READ_SECONDS polls: a dozen seconds of wall time.
JOB_SECONDS = 8 * 3600
STATUS_READ_SECONDS = 40 * 60
PROVISIONING_SECONDS = 10 * 60
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
# Stands in for the stack's `/<project>/<stack name>/previous-invocation-logging-configuration` parameter.
PREVIOUS_LOGGING_PARAMETER = "/bedrock-distill/offline-demo/previous-invocation-logging-configuration"

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARKLINE_WIDTH = 60
REFRESHES_PER_SECOND = 4
EXECUTION_TIMEOUT_SECONDS = 300.0


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


def install_invocation_logging(pipeline: LocalPipeline) -> dict[str, Any]:
    """What the stack's custom resource does on Create, by the same handler, so logs land where the
    pipeline's settings say the execution reads them."""
    os.environ["PREVIOUS_CONFIGURATION_PARAMETER"] = PREVIOUS_LOGGING_PARAMETER
    invocation_logging._manager.cache_clear()  # it reads the parameter name once
    event = {
        "RequestType": "Create",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:offline-demo-provider",
        "ResponseURL": "https://cloudformation-custom-resource-response.invalid/",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/BedrockDistill/offline-demo",
        "RequestId": "offline-demo",
        "LogicalResourceId": "InvocationLoggingConfiguration",
        "ResourceType": "Custom::BedrockInvocationLogging",
        "ResourceProperties": {
            "ServiceToken": "offline-demo",
            "BucketName": pipeline.names.invocation_log_bucket,
            "KeyPrefix": pipeline.names.invocation_log_prefix,
        },
    }
    response: dict[str, Any] = invocation_logging.handler(event, LocalLambdaContext())
    return response


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
    lines = [
        json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": request.system_text}],
                "messages": [
                    {"role": "user", "content": [{"text": request.user_text}]},
                    {"role": "assistant", "content": [{"text": answer}]},
                ],
            }
        )
        for request, answer in answered
        if request.metadata == {"project": PROJECT, "split": "validation"}
    ]
    bucket = pipeline.names.input_bucket
    boto3.client("s3").put_object(Bucket=bucket, Key=VALIDATION_KEY, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{VALIDATION_KEY}"


# Following the execution -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    execution_status: str
    state: str
    job_status: str
    provisioned_throughput_status: str
    logical_seconds: float
    wall_seconds: float

    @property
    def milestone(self) -> tuple[str, str, str, str]:
        """What a line-by-line log reports a change of; the clocks alone are no news."""
        return self.execution_status, self.state, self.job_status, self.provisioned_throughput_status


def snapshot(pipeline: LocalPipeline, bedrock: BedrockEmulator, execution_arn: str, started: float) -> Snapshot:
    """The execution as of now. Bedrock is read through the emulator's inspection API, not boto3: a status
    read through boto3 would move the logical clock and change the run it is watching."""
    status = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
    entered = [
        event["stateEnteredEventDetails"]["name"]
        for event in pipeline.history(execution_arn)
        if event["type"].endswith("StateEntered")
    ]
    jobs = sorted(bedrock.jobs.values(), key=lambda job: job.created_at)
    job_status = "not created"
    if jobs:
        job = jobs[-1]
        done = (bedrock.clock.now() - job.created_at) / job.duration
        job_status = job.status if job.status != "InProgress" else f"InProgress ({min(done, 1.0):.0%})"
    throughputs = sorted(bedrock.provisioned_throughputs.values(), key=lambda pt: pt.created_at)
    pt_status = "not created"
    if throughputs:
        pt_status = "Deleted" if throughputs[-1].deleted else throughputs[-1].status
    return Snapshot(
        execution_status=status,
        state=entered[-1] if entered else "starting",
        job_status=job_status,
        provisioned_throughput_status=pt_status,
        logical_seconds=bedrock.clock.elapsed_seconds,
        wall_seconds=time.monotonic() - started,
    )


def duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def progress_table(current: Snapshot) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Execution", current.execution_status)
    table.add_row("State", current.state)
    table.add_row("Distillation job", current.job_status)
    table.add_row("Provisioned Throughput", current.provisioned_throughput_status)
    table.add_row("Logical time (Bedrock)", duration(current.logical_seconds))
    table.add_row("Wall time", f"{current.wall_seconds:.1f} s")
    return Panel(table, title=EXECUTION_NAME, expand=False)


def progress_line(current: Snapshot) -> str:
    return (
        f"[{current.wall_seconds:5.1f} s | logical {duration(current.logical_seconds)}] "
        f"execution {current.execution_status}, state {current.state}, job {current.job_status}, "
        f"PT {current.provisioned_throughput_status}"
    )


def follow(
    pipeline: LocalPipeline, bedrock: BedrockEmulator, execution_arn: str, console: Console
) -> tuple[dict[str, Any], Snapshot]:
    """Until the execution ends: a live panel on a terminal, one line per change otherwise (CI logs)."""
    started = time.monotonic()
    deadline = started + EXECUTION_TIMEOUT_SECONDS
    live = Live(console=console, auto_refresh=console.is_terminal, refresh_per_second=REFRESHES_PER_SECOND)
    last_milestone: tuple[str, ...] = ()
    with live if console.is_terminal else ExitStack():
        while True:
            current = snapshot(pipeline, bedrock, execution_arn, started)
            if console.is_terminal:
                live.update(progress_table(current))
            elif current.milestone != last_milestone:
                console.print(progress_line(current))
                last_milestone = current.milestone
            if current.execution_status in TERMINAL_STATUSES:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {current.execution_status} after {deadline - started} s")
            time.sleep(1 / REFRESHES_PER_SECOND)
    description: dict[str, Any] = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)
    return description, current


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


def plot_training_loss(metrics: dict[str, Any], path: Path, title: str) -> None:
    steps = metrics["training_steps"]
    figure, axes = pyplot.subplots(figsize=(8, 4.5), dpi=100)
    axes.plot([s["step_number"] for s in steps], [s["training_loss"] for s in steps], label="training loss")
    # Bedrock writes one validation loss per epoch: place each at its epoch's last step.
    last_step_of_epoch = {step["epoch_number"]: step["step_number"] for step in steps}
    epoch_ends = [last_step_of_epoch[epoch] for epoch in sorted(last_step_of_epoch)]
    validation = metrics.get("validation_losses", [])
    if validation and len(validation) == len(epoch_ends):
        axes.plot(epoch_ends, validation, "o", label="validation loss (per epoch)")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(title)
    axes.grid(visible=True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    pyplot.close(figure)


def _figure(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_summary(
    console: Console,
    *,
    description: dict[str, Any],
    final: Snapshot,
    bedrock: BedrockEmulator,
    output_dir: Path,
    hourly_rate: float,
) -> bool:
    """Prints what the run produced; True when nothing is left billing."""
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
        plot_training_loss(metrics, png, f"{EXECUTION_NAME}: training loss")
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

    left = bedrock.live_provisioned_throughputs()
    if left:
        for pt in left:
            say(f"Provisioned Throughput LEFT RUNNING: {pt.arn} ({pt.status})", style="bold red")
        return False
    created = len(bedrock.provisioned_throughputs)
    say(f"Checked: no Provisioned Throughput left ({created} created, {created} deleted)", style="green")
    return True


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


def run_demo(arguments: argparse.Namespace, console: Console) -> int:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        bedrock_emulator(
            job_seconds=JOB_SECONDS,
            seconds_per_status_read=STATUS_READ_SECONDS,
            provisioning_seconds=PROVISIONING_SECONDS,
            converse_latency_seconds=CONVERSE_LATENCY_SECONDS,
        ) as bedrock,
        LocalPipeline(
            job_poll_seconds=1, provisioned_throughput_poll_seconds=1, hourly_rate_usd=arguments.hourly_rate
        ) as pipeline,
    ):
        settings = pipeline.settings
        assert settings is not None  # set by deploy()
        names = pipeline.names
        console.print(f"Deployed {pipeline.state_machine_arn} from the stack's definition")
        console.print(
            f"  {len(pipeline.lambdas.handlers)} functions; buckets {names.input_bucket}, {names.output_bucket}, "
            f"{names.invocation_log_bucket}; topic {pipeline.topic_arn}"
        )

        install_invocation_logging(pipeline)
        console.print(
            f"Invocation logging installed: s3://{names.invocation_log_bucket}/{names.invocation_log_prefix}/"
        )

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
        }
        console.print(f"Starting {EXECUTION_NAME}: training data from the invocation logs matching {_filter_text()}")
        execution_arn = pipeline.start_execution(execution_input, name=EXECUTION_NAME)
        description, final = follow(pipeline, bedrock, execution_arn, console)

        nothing_left = print_summary(
            console,
            description=description,
            final=final,
            bedrock=bedrock,
            output_dir=arguments.output_dir,
            hourly_rate=arguments.hourly_rate,
        )
    return 0 if description["status"] == "SUCCEEDED" and nothing_left else 1


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
