"""What a run produced, as the demo reports it: job, custom model, training data, training-loss curve (PNG and
sparkline), validation, estimated cost, how the student was served, the judge's scorecard and decision (text and
bar-chart PNG, as `distill report` prints and draws them), and how the job wait ended and what it cost in state
transitions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console

from bedrock_distill.workflow.metrics import JobMetrics
from bedrock_distill.workflow.scorecard import Scorecard
from distill_cli.report import plot_scorecard, plot_training_loss
from distill_cli.scorecard import parse_scorecard, scorecard_lines
from offline.demo.follow import Snapshot
from offline.demo.render import duration, figure, sparkline
from offline.demo.world import JOB_FALLBACK_POLL_SECONDS, PRICES_DISCLAIMER, World

# A demo assumption, not a price: no-commitment Provisioned Throughput rates differ by model and Region.
DEFAULT_HOURLY_RATE_USD = 20.0
RATE_DISCLAIMER = "assumed rate; see the Bedrock pricing page"
# What the job wait costs: the states one round of waiting for the job passes through.
JOB_WAIT_STATES = ("WaitForJobEvent", "GetJobStatus", "JobCompleted?")


def read_json(uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    document: dict[str, Any] = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


def print_summary(
    console: Console,
    *,
    description: dict[str, Any],
    final: Snapshot,
    filter_text: str,
    output_dir: Path,
    plot_title: str,
    hourly_rate: float,
    png_name: str = "training-loss.png",
) -> None:
    """What the run produced; the training-loss curve goes to `output_dir`/`png_name`."""
    output = json.loads(description.get("output") or "{}")
    outcome = (output.get("notification") or {}).get("outcome", {})
    job = output.get("job", {})
    say = console.print
    console.rule(f"Summary: {description['name']}")
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
                f"match the filter {filter_text}, {scan['used']} used"
            )

    metrics_uri = (output.get("metrics") or {}).get("reportUri")
    metrics = read_json(metrics_uri) if metrics_uri else {"training_steps": []}
    losses = [step["training_loss"] for step in metrics["training_steps"]]
    if losses:
        png = output_dir / png_name
        plot_training_loss(JobMetrics.model_validate(metrics), png, plot_title)
        say(f"Training loss: {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} steps")
        say(f"  {sparkline(losses)}")
        say(f"Training-loss curve: {png.resolve()}")

    validation_uri = ((output.get("serving") or {}).get("validation") or {}).get("reportUri")
    if validation_uri:
        validation = read_json(validation_uri)["summary"]
        say(
            f"Validation: {validation['succeeded']}/{validation['prompts']} prompts succeeded, "
            f"latency p50 {figure(validation['latency_p50_ms'], '.0f')} ms, "
            f"p95 {figure(validation['latency_p95_ms'], '.0f')} ms, "
            f"mean similarity {figure(validation['mean_similarity'], '.1f')} ({validation['similarity_metric']}) "
            "against the teacher's answers"
        )

    if outcome.get("estimated_provisioned_throughput_cost_usd") is not None:
        units = (output.get("deletion") or {}).get("modelUnits")
        say(
            f"Estimated Provisioned Throughput cost: ${outcome['estimated_provisioned_throughput_cost_usd']:.2f} "
            f"({outcome['provisioned_throughput_hours']} h alive, billed per started hour, x {units} model unit(s) "
            f"x ${hourly_rate:.2f}/h: {RATE_DISCLAIMER})"
        )


def print_scorecard(console: Console, description: dict[str, Any], png: Path, title: str) -> Scorecard | None:
    """How the student was served, and the judge's scorecard as `distill report` prints it; its bar chart to
    `png` and the file itself beside it (same name, .json), as `distill report` would fetch it. None when the run
    wrote no scorecard."""
    output = json.loads(description.get("output") or "{}")
    run = output.get("run", {})
    say = console.print
    if run.get("servingMode"):
        say(f"Serving: {run['servingMode']}: {run.get('servingReason', '')}")
    uri = (output.get("scorecard") or {}).get("scorecardUri")
    if not uri:
        say("Scorecard: none (the run was not judged)", style="bold red")
        return None
    document = read_json(uri)
    scorecard = parse_scorecard(document, uri)
    for line in scorecard_lines(scorecard):
        say(line)
    say(f"  (prices: {PRICES_DISCLAIMER})")
    plot_scorecard(scorecard, png, title)
    copy = png.with_suffix(".json")
    copy.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    say(f"Scorecard: {uri} (copied to {copy.resolve()}); chart {png.resolve()}")
    return scorecard


def print_job_wait(console: Console, world: World, execution_arn: str) -> None:
    """How the job wait ended, and what it cost in state transitions: the callback at work."""
    say = console.print
    job = world.job_of(execution_arn)
    if job is None:
        say("Job wait: no job was created")
        return
    history = world.pipeline.history(execution_arn)
    releases = [
        delivery
        for delivery in world.pump.deliveries_to("job-events")
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
    trained = (job.end_time or world.bedrock.clock.now()) - job.created_at
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
