"""How the operator commands look on a terminal (rich), and as plain lines in logs and pipes.

Facts a script may grep for (ARNs, statuses, file paths) are printed one per line and never wrapped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from distill_cli.generate import GenerateResult, GenerateSettings
from distill_cli.listing import Listed
from distill_cli.report import RunReport
from distill_cli.scorecard import scorecard_lines
from distill_cli.start import Started, StartPlan
from distill_cli.status import RunStatus

STATUS_STYLES: Final = {
    "RUNNING": "cyan",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "PENDING_REDRIVE": "yellow",
}
VALIDATION_SAMPLES: Final = 3
_SAMPLE_CHARACTERS: Final = 100


def say(console: Console, text: str, style: str | None = None) -> None:
    console.print(text, style=style, soft_wrap=True, highlight=False, markup=False)


def duration(elapsed: timedelta) -> str:
    seconds = int(elapsed.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def timestamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def print_json(console: Console, document: Any) -> None:
    console.out(json.dumps(document, default=str, ensure_ascii=False), highlight=False)


# start ----------------------------------------------------------------------------------------------------


def print_plan(console: Console, plan: StartPlan) -> None:
    """What a dry run would do: each upload, then the execution and its input as JSON (the last line)."""
    for upload in plan.uploads:
        say(console, f"would upload {upload.path} -> {plan.destination(upload)}")
    if not plan.input_location_known:
        say(console, "(--teacher and --student given: the stack was not looked up; <InputLocation> is its output)")
    say(console, f"valid; would start {plan.name} with this input (--dry-run: nothing uploaded):")
    print_json(console, plan.input_document())


def print_started(console: Console, started: Started) -> None:
    for upload in started.uploads:
        say(console, f"uploaded {upload.path} -> {upload.destination.uri}")
    say(console, f"started execution {started.name}", "green")
    say(console, f"execution ARN: {started.arn}")
    say(console, f"console: {started.console_url}")
    say(console, f"follow it with: distill status {started.name} --watch")


# status ---------------------------------------------------------------------------------------------------


def status_lines(status: RunStatus) -> list[tuple[str, str, str | None]]:
    """(label, value, style) rows, shared by the plain and the live view."""
    execution = status.execution
    job = status.job
    throughput = status.provisioned_throughput
    job_text = job.status + (f" ({job.phase})" if job.phase else "")
    if job.failure_message:
        job_text += f": {job.failure_message}"
    pt_text = throughput.status + (f", {throughput.model_units} model unit(s)" if throughput.model_units else "")
    if throughput.failure_message:
        pt_text += f": {throughput.failure_message}"
    rows: list[tuple[str, str, str | None]] = [
        ("execution", f"{execution.name} {execution.status}", STATUS_STYLES.get(execution.status)),
        ("arn", execution.arn, None),
        ("state", status.current_state or "-", None),
        ("started", timestamp(execution.start), None),
        ("elapsed", duration(status.elapsed) + ("" if status.finished else " (running)"), None),
        ("job", f"{job.name}: {job_text}", None),
        ("provisioned throughput", f"{throughput.name}: {pt_text}", "bold red" if _billing(status) else None),
    ]
    if status.error:
        rows.append(("error", f"{status.error}: {status.cause or ''}".rstrip(": "), "red"))
    return rows


def _billing(status: RunStatus) -> bool:
    """A PT that exists after its execution ended is billing with nothing to clean it up."""
    return status.finished and status.provisioned_throughput.status in {"Creating", "InService", "Updating", "Failed"}


def print_status(console: Console, status: RunStatus) -> None:
    for label, value, style in status_lines(status):
        say(console, f"{label}: {value}", style)
    if _billing(status):
        say(console, "the execution has ended but its Provisioned Throughput still exists: delete it", "bold red")


def status_panel(status: RunStatus) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, value, style in status_lines(status):
        table.add_row(label, Text(value, style=style or ""))
    return Panel(table, title="distill status", expand=False)


def status_line(status: RunStatus) -> str:
    """One line per change, for logs: the milestone fields and the elapsed time."""
    execution = status.execution
    return (
        f"{timestamp(execution.start)} +{duration(status.elapsed)}: execution {execution.status}, "
        f"state {status.current_state or '-'}, job {status.job.status}"
        + (f" ({status.job.phase})" if status.job.phase else "")
        + f", PT {status.provisioned_throughput.status}"
    )


class StatusView:
    """--watch: a live panel on a terminal, else a line whenever something other than time changes."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live: Live | None = None
        self._last: tuple[str | None, ...] = ()
        self.final: RunStatus | None = None

    def __enter__(self) -> StatusView:
        if self._console.is_terminal:
            self._live = Live(console=self._console, auto_refresh=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, trace)

    def show(self, status: RunStatus) -> None:
        self.final = status
        if self._live is not None:
            self._live.update(status_panel(status), refresh=True)
        elif status.milestone() != self._last:
            say(self._console, status_line(status), STATUS_STYLES.get(status.execution.status))
            self._last = status.milestone()


# list -----------------------------------------------------------------------------------------------------


def print_runs(console: Console, runs: Sequence[Listed], now: datetime) -> None:
    """A table on a terminal; aligned lines that never wrap elsewhere, so each run stays one greppable line."""
    if not runs:
        say(console, "no executions yet: start one with `distill start`")
        return
    header = ("name", "status", "started", "duration", "outcome")
    rows = [
        (run.execution.name, run.execution.status, timestamp(run.execution.start),
         duration(run.execution.elapsed(now)), run.outcome)
        for run in runs
    ]  # fmt: skip
    if console.is_terminal:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for column in header:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row[:1], Text(row[1], style=STATUS_STYLES.get(row[1], "")), *row[2:])
        console.print(table)
        return
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header) - 1)]
    for row in [header, *rows]:
        say(console, "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


# report ---------------------------------------------------------------------------------------------------


def print_report(console: Console, report: RunReport) -> None:
    execution = report.execution
    console.rule(f"distill report: {execution.name}")
    say(console, f"execution: {execution.status} ({execution.arn})", STATUS_STYLES.get(execution.status))
    say(console, f"ran: {timestamp(execution.start)} to {timestamp(execution.stop)}")
    if report.error:
        say(console, f"error: {report.error}: {report.cause or ''}".rstrip(": "), "red")
        if report.outcome.get("next_step"):
            say(console, f"next step: {report.outcome['next_step']}")
    job = report.job
    if job:
        say(console, f"job: {job.get('jobArn', '-')} ({job.get('status', '-')})")
        if job.get("outputModelArn"):
            say(console, f"custom model: {job['outputModelArn']}")
        if job.get("failureMessage"):
            say(console, f"job failure: {job['failureMessage']}", "red")
    else:
        say(console, "job: not created")
    _print_preflight(console, report.preflight)
    _print_metrics(console, report)
    _print_validation(console, report.validation)
    cost = report.outcome.get("estimated_provisioned_throughput_cost_usd")
    if cost is not None:
        hours = report.outcome.get("provisioned_throughput_hours")
        say(console, f"estimated Provisioned Throughput cost: ${cost:.2f} ({hours} h billed)")
    for line in scorecard_lines(report.scorecard) if report.scorecard else ():
        say(console, line)
    for note in report.notes:
        say(console, f"note: {note}", "yellow")
    for path in report.files:
        say(console, f"wrote {path}")


def _print_preflight(console: Console, preflight: Mapping[str, Any] | None) -> None:
    if preflight is None:
        return
    problems = preflight.get("problems") or []
    training = preflight.get("trainingData") or preflight.get("invocationLogs") or {}
    used = training.get("used", training.get("valid"))
    held_out = preflight.get("heldOut")
    if held_out:
        say(
            console,
            f"preflight: {held_out['trainingRecords']:,} training records, {held_out['heldOutRecords']:,} held out "
            f"for validation (of {held_out['datasetRecords']:,}), {len(problems)} problems",
        )
    elif used is not None:
        say(console, f"preflight: {used:,} training records, {len(problems)} problems")
    for problem in problems[:10]:
        say(console, f"  {problem}", "red")


def _print_metrics(console: Console, report: RunReport) -> None:
    metrics = report.metrics
    if metrics is None or not metrics.training_steps:
        say(console, "training metrics: none yet")
        return
    losses = [step.training_loss for step in metrics.training_steps]
    epochs = len({step.epoch_number for step in metrics.training_steps})
    say(
        console,
        f"training: {len(losses)} steps over {epochs} epoch(s), loss {losses[0]:.4f} -> {losses[-1]:.4f} "
        f"(min {min(losses):.4f})",
    )
    if metrics.validation_losses:
        values = ", ".join(f"{loss:.4f}" for loss in metrics.validation_losses)
        say(console, f"validation loss per epoch: {values}")


def _print_validation(console: Console, validation: Mapping[str, Any] | None) -> None:
    if not validation:
        say(console, "validation: none (the run did not reach its Provisioned Throughput)")
        return
    summary = validation.get("summary", {})
    say(
        console,
        f"validation on {validation.get('modelId', 'the PT')}: {summary.get('succeeded')}/{summary.get('prompts')} "
        f"prompts succeeded, latency p50 {_figure(summary.get('latency_p50_ms'), '.0f')} ms, "
        f"p95 {_figure(summary.get('latency_p95_ms'), '.0f')} ms, mean similarity "
        f"{_figure(summary.get('mean_similarity'), '.1f')} ({summary.get('similarity_metric', '-')})",
    )
    origin = validation.get("validationPrompts")
    if origin:
        say(console, f"validation prompts: {origin.get('description', origin.get('uri'))}")
    results = validation.get("results") or []
    if not results:
        return
    table = Table(title="validation samples", show_lines=False, header_style="bold", expand=False)
    for column in ("prompt", "output", "similarity"):
        table.add_column(column, overflow="fold")
    for result in results[:VALIDATION_SAMPLES]:
        table.add_row(
            _short(result.get("prompt")),
            _short(result.get("output") or result.get("error")),
            _figure(result.get("similarity"), ".1f"),
        )
    console.print(table)


def _figure(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _SAMPLE_CHARACTERS else text[: _SAMPLE_CHARACTERS - 3] + "..."


# generate-logs --------------------------------------------------------------------------------------------


class GenerateProgress:
    """A rich progress bar on stderr: prompts done of the file, rate, time left, window and throttles."""

    def __init__(self, console: Console, total: int, already_done: int, *, enabled: bool) -> None:
        self._already_done = already_done
        self._progress = Progress(
            TextColumn("[bold]converse"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task("converse", total=total, completed=already_done, detail="")

    def __enter__(self) -> GenerateProgress:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def advanced(self, result: GenerateResult, window: int) -> None:
        self._progress.update(
            self._task,
            completed=self._already_done + result.succeeded,
            detail=f"{window} in flight max, {result.throttled} throttled",
        )


def filter_for(metadata: Mapping[str, str]) -> dict[str, Any]:
    """The requestMetadataFilters that select exactly the logs these pairs produce."""
    entries = [{"equals": {key: value}} for key, value in sorted(metadata.items())]
    return entries[0] if len(entries) == 1 else {"andAll": entries}


def generate_document(result: GenerateResult, settings: GenerateSettings, progress_path: str) -> dict[str, Any]:
    """generate-logs' result for a script: what print_generate_result says, as one JSON object."""
    return {
        "teacherModelId": settings.teacher_model_id,
        "requestMetadata": dict(settings.request_metadata),
        "prompts": result.prompts,
        "sent": result.succeeded,
        "alreadySent": result.already_done,
        "remaining": result.remaining,
        "complete": result.complete,
        "elapsedSeconds": round(result.elapsed_seconds, 3),
        "promptsPerSecond": round(result.prompts_per_second, 3),
        "concurrency": settings.concurrency,
        "throttled": result.throttled,
        "retried": result.retried,
        "smallestWindow": result.smallest_window,
        "failure": result.failure,
        "interrupted": result.interrupted,
        "progressFile": progress_path,
        # The filter that selects exactly these logs, for `distill start --logs --filter`.
        "filter": filter_for(settings.request_metadata),
    }


def print_generate_result(
    console: Console, result: GenerateResult, settings: GenerateSettings, progress_path: str
) -> None:
    say(
        console,
        f"sent {result.succeeded:,} prompts to {settings.teacher_model_id} in {result.elapsed_seconds:.1f} s "
        f"({result.prompts_per_second:.1f} prompts/s, concurrency {settings.concurrency}); "
        f"{result.already_done:,} were already sent, {result.remaining:,} remain of {result.prompts:,}",
    )
    if result.throttled or result.retried:
        say(
            console,
            f"throttled {result.throttled:,} times (in-flight limit went down to {result.smallest_window}), "
            f"retried {result.retried:,} transient errors",
        )
    say(console, f"progress file: {progress_path}")
    if result.failure:
        say(console, f"stopped: {result.failure}", "red")
    if result.interrupted:
        say(console, "interrupted: the calls in flight were recorded; rerun the same command to resume", "yellow")
    if result.failure or result.interrupted:
        say(console, "rerun the same command to send the rest: prompts already sent are skipped")
    elif result.complete:
        selection = json.dumps(filter_for(settings.request_metadata))
        say(
            console,
            f"select these logs with: distill start --logs --filter '{selection}' --validation-prompts FILE",
        )
