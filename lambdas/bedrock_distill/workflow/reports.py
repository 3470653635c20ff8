"""The files a run writes under its report prefix (`Run.report_s3_uri`), and the steps that write them.

The workflow writes them and `distill report` reads them, by these names. Preflight's own report is
`PREFLIGHT_REPORT` in workflow/preflight.py, which writes it.
"""

from __future__ import annotations

from itertools import islice
from typing import Final

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.workflow.metrics import collect_metrics
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.validation import (
    ValidationPrompt,
    ValidationPromptsOrigin,
    ValidationSummary,
    prompts_from_conversation_records,
    run_validation,
)

METRICS_REPORT: Final = "metrics.json"
VALIDATION_REPORT: Final = "validation.json"


class JobMetricsSummary(BaseModel):
    """What the state carries of the job's metrics; the full curve is in the metrics report."""

    training_steps: int
    final_training_loss: float | None
    validation_loss: float | None
    report_uri: str


def record_job_metrics(run: Run, job_arn: str, s3: S3Gateway) -> JobMetricsSummary:
    """The job's metric CSVs into the run's metrics report. The full curve goes to S3: a long job's steps
    would crowd the 256 KB state payload."""
    metrics = collect_metrics(run.output_s3_uri, job_arn, s3)
    report = S3Location.parse(run.report_s3_uri).child(METRICS_REPORT)
    s3.put_json(report, metrics.model_dump())
    return JobMetricsSummary(
        training_steps=len(metrics.training_steps),
        final_training_loss=metrics.final_training_loss,
        validation_loss=metrics.validation_losses[-1] if metrics.validation_losses else None,
        report_uri=report.uri,
    )


def record_validation(
    run: Run, provisioned_model_arn: str, runtime: BedrockRuntimeGateway, s3: S3Gateway
) -> ValidationSummary:
    """The run's validation prompts through the model, into the run's validation report."""
    return run_validation(
        model_id=provisioned_model_arn,
        prompts=_validation_prompts(run, s3),
        origin=ValidationPromptsOrigin.of(run),
        max_tokens=run.max_response_length_for_inference,
        report_location=S3Location.parse(run.report_s3_uri).child(VALIDATION_REPORT),
        runtime=runtime,
        s3=s3,
    )


def _validation_prompts(run: Run, s3: S3Gateway) -> list[ValidationPrompt]:
    """The run's validation prompts: given, or held out of its training prompts by Preflight. Never
    records the job trained on."""
    lines = s3.iter_lines(S3Location.parse(run.validation_prompts))
    return prompts_from_conversation_records(islice(lines, run.validation_sample_size * 2), run.validation_sample_size)
