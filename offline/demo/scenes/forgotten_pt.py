"""Scene 3, a forgotten Provisioned Throughput: a run that has bought its PT is stopped, as a person would stop it;
no Catch runs, so the workflow's own cleanup never does. The execution-end rule deletes the PT and reports it,
and one firing of the sweep schedule finds nothing left."""

from __future__ import annotations

import json

import boto3
from rich.console import Console

from offline.demo.follow import SHORT_RUN_JOB_STEPS, follow
from offline.demo.tickets import PROJECT
from offline.demo.world import EVENT_TIMEOUT_SECONDS, JOB_FALLBACK_POLL_SECONDS, World, wait_for

FORGOTTEN_EXECUTION_NAME = f"{PROJECT}-forgotten-pt"
# The run looks at its PT only once a minute, so it is stopped with a PT alive.
FORGOTTEN_PT_POLL_SECONDS = 60
STOP_CAUSE = "Stopped by a person: the workflow's own cleanup never runs after StopExecution"


def play(world: World, prompts_uri: str, console: Console) -> bool:
    """Stops a run that holds a PT, as a person would; shows the execution-end rule deleting the PT and
    reporting it, then one sweep finding nothing left. Returns whether all of that happened."""
    pipeline = world.pipeline
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
        world,
        execution_arn,
        console,
        job_steps=SHORT_RUN_JOB_STEPS,
        until=lambda current: current.provisioned_throughput_status != "not created",
    )
    throughput = world.provisioned_throughput_of(world.job_of(execution_arn))
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

    cleanup = world.delivery_for("execution-ends", lambda event: event["detail"].get("executionArn") == execution_arn)
    deleted = list(cleanup.result.get("deletedProvisionedThroughputs", [])) if cleanup.succeeded else []
    stopped = list(cleanup.result.get("stoppedJobs", [])) if cleanup.succeeded else []
    pt_status = "Deleted" if throughput.deleted else throughput.status
    say(
        f"execution-ends rule (its {status} status change) -> CleanUpExecution: deleted {len(deleted)} "
        f"Provisioned Throughput(s) {json.dumps(deleted)}, stopped {len(stopped)} job(s); the PT is now {pt_status}"
    )
    outcomes = wait_for(lambda: world.inbox.about(execution_arn), f"the outcome message of {FORGOTTEN_EXECUTION_NAME}")
    outcome = outcomes[0]
    reported = (outcome.get("cleanup") or {}).get("deleted_provisioned_throughputs", [])
    say(
        f"Outcome message (SNS): {outcome['status']}, cleanup deleted_provisioned_throughputs "
        f"{json.dumps(reported)}; next step: {outcome.get('next_step', '')}"
    )

    sweep = world.pump.fire("sweep")
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
