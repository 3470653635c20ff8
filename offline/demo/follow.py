"""Following an execution: a live panel on a terminal, one plain line per change otherwise (CI logs), while
Bedrock's logical clock is moved on for a job whose execution waits for its event."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import boto3
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from bedrock_distill.gateways.stepfunctions import TERMINAL_STATUSES
from offline.demo.render import duration
from offline.demo.world import JOB_SECONDS, World

REFRESHES_PER_SECOND = 4
MAIN_RUN_JOB_STEPS = 12  # 40-minute steps: the job's progress in a dozen refreshes
SHORT_RUN_JOB_STEPS = 4  # the later runs' jobs, in 2-hour steps
EXECUTION_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Snapshot:
    execution_status: str
    state: str
    job_status: str
    provisioned_throughput_status: str
    model_deployment_status: str
    judge_status: str
    logical_seconds: float
    wall_seconds: float
    # Logical seconds until the job ends while the execution waits for its event; 0 otherwise.
    job_wait_seconds_left: float = 0.0

    @property
    def milestone(self) -> tuple[str, ...]:
        """What a line-by-line log reports a change of; the clocks alone are no news."""
        return (
            self.execution_status,
            self.state,
            self.job_status,
            self.provisioned_throughput_status,
            self.model_deployment_status,
            self.judge_status,
        )


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


def snapshot(world: World, execution_arn: str, started: float) -> Snapshot:
    """The execution as of now. Bedrock is read through the emulator's inspection API, not boto3: a status
    read through boto3 would move the logical clock and change the run it is watching."""
    bedrock = world.bedrock
    status = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
    history = world.pipeline.history(execution_arn)
    entered = [event["stateEnteredEventDetails"]["name"] for event in history if event["type"].endswith("StateEntered")]
    job = world.job_of(execution_arn)
    job_status = "not created"
    seconds_left = 0.0
    if job is not None:
        now = bedrock.clock.now()
        done = (now - job.created_at) / job.duration
        job_status = job.status if job.status != "InProgress" else f"InProgress ({min(done, 1.0):.0%})"
        if job.status == "InProgress" and status == "RUNNING" and waiting_for_job_event(history):
            seconds_left = max((job.ends_at - now).total_seconds(), 0.0)
    throughput = world.provisioned_throughput_of(job)
    pt_status = "not created"
    if throughput is not None:
        pt_status = "Deleted" if throughput.deleted else throughput.status
    deployment = world.model_deployment_of(job)
    deployment_status = "not created"
    if deployment is not None:
        deployment_status = "Deleted" if deployment.deleted else deployment.status
    judges = world.evaluation_jobs_of(execution_arn)
    judge_status = ", ".join(sorted({j.status for j in judges})) if judges else "not created"
    return Snapshot(
        execution_status=status,
        state=entered[-1] if entered else "starting",
        job_status=job_status,
        provisioned_throughput_status=pt_status,
        model_deployment_status=deployment_status,
        judge_status=judge_status,
        logical_seconds=bedrock.clock.elapsed_seconds,
        wall_seconds=time.monotonic() - started,
        job_wait_seconds_left=seconds_left,
    )


def progress_table(current: Snapshot, title: str) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    # Wide enough for the longest state names: the panel keeps its width as the run moves on.
    table.add_column(min_width=30)
    table.add_row("Execution", current.execution_status)
    table.add_row("State", current.state)
    table.add_row("Distillation job", current.job_status)
    table.add_row("Provisioned Throughput", current.provisioned_throughput_status)
    table.add_row("Model deployment", current.model_deployment_status)
    table.add_row("Evaluation jobs (judge)", current.judge_status)
    table.add_row("Logical time (Bedrock)", duration(current.logical_seconds))
    table.add_row("Wall time", f"{current.wall_seconds:.1f} s")
    return Panel(table, title=title, expand=False)


def progress_line(current: Snapshot) -> str:
    return (
        f"[{current.wall_seconds:5.1f} s | logical {duration(current.logical_seconds)}] "
        f"execution {current.execution_status}, state {current.state}, job {current.job_status}, "
        f"PT {current.provisioned_throughput_status}, deployment {current.model_deployment_status}, "
        f"judge {current.judge_status}"
    )


def follow(
    world: World,
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
            current = snapshot(world, execution_arn, started)
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
                world.bedrock.advance(min(step, current.job_wait_seconds_left))
            time.sleep(1 / REFRESHES_PER_SECOND)
    description: dict[str, Any] = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)
    return description, current
