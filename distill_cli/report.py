"""`distill report`: what a run produced, gathered from its execution, Bedrock and its S3 prefix."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.gateways.stepfunctions import UNSUCCESSFUL_STATUSES, Execution, StepFunctionsGateway
from bedrock_distill.workflow.metrics import JobMetrics, collect_metrics
from bedrock_distill.workflow.preflight import PREFLIGHT_REPORT
from bedrock_distill.workflow.reports import VALIDATION_REPORT
from bedrock_distill.workflow.run import resource_names
from distill_cli.executions import failure
from distill_cli.stack import Stack

TRAINING_LOSS_PNG: Final = "training-loss.png"
REPORT_JSON: Final = "report.json"
MATPLOTLIB_MISSING: Final = (
    "matplotlib is not installed, so no loss-curve PNG was drawn: `pip install matplotlib` "
    "(it is in requirements-dev.txt) and run the report again"
)


class PlotUnavailableError(Exception):
    """The loss curve cannot be drawn here (matplotlib is missing)."""


@dataclass
class RunReport:
    execution: Execution
    run_prefix: str
    job: dict[str, Any]
    metrics: JobMetrics | None
    validation: dict[str, Any] | None
    preflight: dict[str, Any] | None
    outcome: dict[str, Any]
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
        error=error,
        cause=cause,
    )


def write_report(report: RunReport, out_dir: Path) -> None:
    """Writes report.json and, when there are training steps, the loss curve; notes what was skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    document = out_dir / REPORT_JSON
    document.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    report.files.append(document)
    if report.metrics is None or not report.metrics.training_steps:
        report.notes.append("no training metrics yet: no loss curve")
        return
    try:
        png = out_dir / TRAINING_LOSS_PNG
        plot_training_loss(report.metrics, png, f"{report.execution.name}: training loss")
        report.files.append(png)
    except PlotUnavailableError as missing:
        report.notes.append(str(missing))


def plot_training_loss(metrics: JobMetrics, path: Path, title: str) -> None:
    """The training loss by step, and the validation loss at each epoch's last step, as a PNG."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - optional, heavy
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as error:
        raise PlotUnavailableError(MATPLOTLIB_MISSING) from error

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


def _json(s3: S3Gateway, location: S3Location, present: set[str]) -> dict[str, Any] | None:
    if location.key not in present:
        return None
    document = json.loads(s3.read_text(location))
    return document if isinstance(document, dict) else None
