"""`distill report`: what a run produced, gathered from its execution, Bedrock and its S3 prefix."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.gateways.stepfunctions import UNSUCCESSFUL_STATUSES, Execution, StepFunctionsGateway
from bedrock_distill.workflow.metrics import JobMetrics, collect_metrics
from bedrock_distill.workflow.preflight import PREFLIGHT_REPORT
from bedrock_distill.workflow.reports import VALIDATION_REPORT
from bedrock_distill.workflow.run import SCORECARD_FILE, resource_names
from bedrock_distill.workflow.scorecard import Scorecard, scorecard_document
from distill_cli.executions import failure
from distill_cli.scorecard import ScorecardUnreadableError, formatted, headline, metric_label, parse_scorecard
from distill_cli.stack import Stack

TRAINING_LOSS_PNG: Final = "training-loss.png"
SCORECARD_PNG: Final = "scorecard.png"
REPORT_JSON: Final = "report.json"
MATPLOTLIB_MISSING: Final = (
    "matplotlib is not installed, so no {what} PNG was drawn: `pip install 'bedrock-distill[plot]'` "
    "(or `pip install matplotlib`; it is in requirements-dev.txt) and run the report again"
)
NO_SCORECARD_YET: Final = (
    "no scorecard yet: the run has not been judged (its Score step writes report/scorecard.json), so no scorecard chart"
)
TEACHER_COLOUR: Final = "#7f7f7f"
STUDENT_COLOUR: Final = "#1f77b4"


class PlotUnavailableError(Exception):
    """A chart cannot be drawn here (matplotlib is missing)."""


@dataclass
class RunReport:
    execution: Execution
    run_prefix: str
    job: dict[str, Any]
    metrics: JobMetrics | None
    validation: dict[str, Any] | None
    preflight: dict[str, Any] | None
    outcome: dict[str, Any]
    scorecard: Scorecard | None = None
    # Why the scorecard file could not be read, when it exists but does not hold what its schema promises.
    scorecard_problem: str | None = None
    error: str | None = None
    cause: str | None = None
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.execution.status == "SUCCEEDED"

    def to_dict(self) -> dict[str, Any]:
        execution = self.execution
        return {
            "execution": {
                "arn": execution.arn,
                "name": execution.name,
                "status": execution.status,
                "startDate": execution.start.isoformat(),
                "stopDate": execution.stop.isoformat() if execution.stop else None,
                "error": self.error,
                "cause": self.cause,
            },
            "runPrefix": self.run_prefix,
            "job": self.job,
            "metrics": self.metrics.model_dump() if self.metrics else None,
            "validation": self.validation,
            "preflight": self.preflight,
            "outcome": self.outcome,
            "scorecard": scorecard_document(self.scorecard) if self.scorecard else None,
        }


def gather_report(
    execution: Execution,
    stack: Stack,
    executions: StepFunctionsGateway,
    bedrock: BedrockGateway,
    s3: S3Gateway,
) -> RunReport:
    run = execution.section("run")
    run_prefix = run.get("outputS3Uri") or stack.run_prefix(execution.name)
    report_prefix = S3Location.parse(run.get("reportS3Uri") or f"{run_prefix}report/")
    job = execution.section("job")
    if not job.get("jobArn"):
        # The run failed before its output was written, or is still going: ask Bedrock by the job's name.
        job = bedrock.find_model_customization_job(resource_names(execution.name, execution.arn).job_name) or {}
    metrics = collect_metrics(run_prefix, job["jobArn"], s3) if job.get("jobArn") else None
    reports = set(s3.list_keys(report_prefix))
    validation = _json(s3, report_prefix.child(VALIDATION_REPORT), reports)
    preflight = _json(s3, report_prefix.child(PREFLIGHT_REPORT), reports)
    scorecard, scorecard_problem = _scorecard(s3, run.get("scorecardUri") or f"{run_prefix}{SCORECARD_FILE}")
    error, cause = execution.error, execution.cause
    if execution.status in UNSUCCESSFUL_STATUSES and error is None:
        error, cause = failure(executions, execution.arn)
    return RunReport(
        execution=execution,
        run_prefix=run_prefix,
        job={key: value for key, value in job.items() if key != "ResponseMetadata"},
        metrics=metrics,
        validation=validation,
        preflight=preflight,
        outcome=execution.section("notification", "outcome"),
        scorecard=scorecard,
        scorecard_problem=scorecard_problem,
        error=error,
        cause=cause,
    )


def write_report(report: RunReport, out_dir: Path) -> None:
    """Writes report.json and, when there are training steps, the loss curve, and, when the run was judged, the
    scorecard chart beside it; notes what was skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    document = out_dir / REPORT_JSON
    document.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    report.files.append(document)
    if report.metrics is None or not report.metrics.training_steps:
        report.notes.append("no training metrics yet: no loss curve")
    else:
        try:
            png = out_dir / TRAINING_LOSS_PNG
            plot_training_loss(report.metrics, png, f"{report.execution.name}: training loss")
            report.files.append(png)
        except PlotUnavailableError as missing:
            report.notes.append(str(missing))
    if report.scorecard_problem:
        report.notes.append(f"scorecard unreadable, no scorecard chart: {report.scorecard_problem}")
    elif report.scorecard is None:
        report.notes.append(NO_SCORECARD_YET)
    else:
        try:
            png = out_dir / SCORECARD_PNG
            plot_scorecard(
                report.scorecard, png, f"{report.execution.name}: judged by {report.scorecard.judge_model_id}"
            )
            report.files.append(png)
        except PlotUnavailableError as missing:
            report.notes.append(str(missing))


def _matplotlib(what: str) -> tuple[type[Any], type[Any]]:
    """matplotlib's Agg canvas and Figure, or PlotUnavailableError saying how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - optional, heavy
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as error:
        raise PlotUnavailableError(MATPLOTLIB_MISSING.format(what=what)) from error
    return FigureCanvasAgg, Figure


def plot_training_loss(metrics: JobMetrics, path: Path, title: str) -> None:
    """The training loss by step, and the validation loss at each epoch's last step, as a PNG."""
    FigureCanvasAgg, Figure = _matplotlib("loss-curve")  # noqa: N806 - classes

    steps = metrics.training_steps
    # A Figure with an Agg canvas, not pyplot: no global state, no display needed (CI machines, SSH).
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.plot([s.step_number for s in steps], [s.training_loss for s in steps], label="training loss")
    # Bedrock writes one validation loss per epoch: place each at its epoch's last step.
    last_step_of_epoch = {step.epoch_number: step.step_number for step in steps}
    epoch_ends = [last_step_of_epoch[epoch] for epoch in sorted(last_step_of_epoch)]
    if metrics.validation_losses and len(metrics.validation_losses) == len(epoch_ends):
        axes.plot(epoch_ends, metrics.validation_losses, "o", label="validation loss (per epoch)")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(title)
    axes.grid(visible=True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")


def plot_scorecard(scorecard: Scorecard, path: Path, title: str) -> None:
    """Per metric, the teacher's and the student's mean judge score side by side, the decision in the title."""
    FigureCanvasAgg, Figure = _matplotlib("scorecard")  # noqa: N806 - classes

    metrics = scorecard.metrics
    positions = range(len(metrics))
    width = 0.38
    chart = Figure(figsize=(max(6.0, 1.6 * len(metrics) + 2), 4.5), dpi=100)
    FigureCanvasAgg(chart)
    axes = chart.subplots()
    for offset, side, means, colour in (
        (-width / 2, f"teacher ({scorecard.teacher.model_id})", [m.teacher_mean for m in metrics], TEACHER_COLOUR),
        (width / 2, f"student ({scorecard.student.model_id})", [m.student_mean for m in metrics], STUDENT_COLOUR),
    ):
        # A mean the judge could not give (no prompt judged) is no bar, not a zero bar: NaN draws nothing.
        heights = [math.nan if mean is None else mean for mean in means]
        bars = axes.bar([p + offset for p in positions], heights, width, label=side, color=colour)
        axes.bar_label(bars, labels=[formatted(mean, ".2f") for mean in means], padding=2, fontsize=8)
    axes.set_xticks(list(positions), [metric_label(metric) for metric in metrics])
    axes.set_ylabel("mean judge score")
    scores = [m for metric in metrics for m in (metric.teacher_mean, metric.student_mean) if m is not None]
    axes.set_ylim(0, max([1.0, *scores]) * 1.15)  # room for the value labels above the bars
    axes.set_title(f"{title}\n{headline(scorecard)}", fontsize=10)
    axes.grid(visible=True, axis="y", alpha=0.3)
    # Below the axes: a legend inside would cover bars of any height.
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    chart.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    chart.savefig(path, format="png")


def _scorecard(s3: S3Gateway, uri: str) -> tuple[Scorecard | None, str | None]:
    """The run's scorecard, or None when there is none yet; or why the file there cannot be read."""
    location = S3Location.parse(uri)
    if location.key not in set(s3.list_keys(location)):
        return None, None
    try:
        return parse_scorecard(json.loads(s3.read_text(location)), location.uri), None
    except (ValueError, ScorecardUnreadableError) as unreadable:
        return None, str(unreadable)


def _json(s3: S3Gateway, location: S3Location, present: set[str]) -> dict[str, Any] | None:
    if location.key not in present:
        return None
    document = json.loads(s3.read_text(location))
    return document if isinstance(document, dict) else None
