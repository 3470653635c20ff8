"""The files a run writes under its report prefix (`Run.report_s3_uri`), and the steps that write them.

The workflow writes them and `distill report` reads them, by these names. Preflight's own report is
`PREFLIGHT_REPORT` in workflow/preflight.py, which writes it.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.workflow.errors import TeacherInferenceFailed
from bedrock_distill.workflow.metrics import collect_metrics
from bedrock_distill.workflow.responses import ResponsesSummary, record_responses, validation_prompts
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.validation import ValidationPromptsOrigin, ValidationSummary, run_validation

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


class StudentValidationSummary(ValidationSummary, ResponsesSummary):
    """ValidateModel's output: the chrF validation summary and the student's responses summary, in one."""


def record_validation(
    run: Run, model_id: str, runtime: BedrockRuntimeGateway, s3: S3Gateway
) -> StudentValidationSummary:
    """The run's validation prompts through the student (`model_id`: its deployment or PT), every answer into the
    run's student response lines, their chrF scores into the run's validation report."""
    answers, responses = record_responses(
        model_id,
        validation_prompts(run, s3),
        max_tokens=run.max_response_length_for_inference,
        location=S3Location.parse(run.student_responses_uri),
        runtime=runtime,
        s3=s3,
    )
    validation = run_validation(
        model_id=model_id,
        answers=answers,
        responses=responses,
        origin=ValidationPromptsOrigin.of(run),
        report_location=S3Location.parse(run.report_s3_uri).child(VALIDATION_REPORT),
        s3=s3,
    )
    return StudentValidationSummary.model_validate(responses.model_dump() | validation.model_dump())


def record_teacher_responses(run: Run, runtime: BedrockRuntimeGateway, s3: S3Gateway) -> ResponsesSummary:
    """The run's validation prompts through the teacher (its model ID or inference profile, on demand), every answer
    into the run's teacher response lines. TeacherInferenceFailed when there is no prompt or no answer."""
    origin = ValidationPromptsOrigin.of(run)
    prompts = validation_prompts(run, s3)
    if not prompts:
        raise TeacherInferenceFailed(f"no validation prompts in {origin.uri} ({origin.description})")
    answers, responses = record_responses(
        run.teacher_model_id,
        prompts,
        max_tokens=run.max_response_length_for_inference,
        location=S3Location.parse(run.teacher_responses_uri),
        runtime=runtime,
        s3=s3,
    )
    if not responses.succeeded:
        raise TeacherInferenceFailed(
            f"every prompt failed on the teacher {run.teacher_model_id}; first error: {answers[0].error} "
            f"(all answers: {responses.responses_uri})"
        )
    return responses
