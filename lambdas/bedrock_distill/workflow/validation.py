"""Validation: the student's answers to the held-out prompts, scored against their reference answers.

The answers come from workflow/responses.py (the same held-out prompts the teacher answers). Similarity to
reference answers is chrF (character n-gram F-score, Popović 2015) as computed by sacrebleu, the reference
implementation used by WMT.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel
from sacrebleu.metrics.chrf import CHRF

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.workflow.errors import ValidationInferenceFailed
from bedrock_distill.workflow.responses import ResponseLine, ResponsesSummary
from bedrock_distill.workflow.run import Run, ValidationPromptsSource

SIMILARITY_METRIC = "chrF (sacrebleu)"


class PromptResult(BaseModel):
    index: int
    prompt: str
    output: str | None
    reference: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    similarity: float | None
    error: str | None = None


class ValidationPromptsOrigin(BaseModel):
    """Where the validation prompts came from, said in validation.json, the state output and the outcome."""

    source: ValidationPromptsSource
    uri: str
    description: str

    @classmethod
    def of(cls, run: Run) -> ValidationPromptsOrigin:
        split = run.held_out
        if run.validation_prompts_source == "held-out" and split is not None:
            description = (
                f"held out: {split.held_out_records:,} of the {split.dataset_records:,} records of "
                f"{split.dataset_uri}, chosen before the job and not trained on (the job trained on the other "
                f"{split.training_records:,})"
            )
        elif run.validation_prompts_source == "held-out":
            description = f"held out of {run.training_source_uri} before the job and not trained on"
        else:
            description = f"given: {run.validation_prompts}"
        return cls(source=run.validation_prompts_source, uri=run.validation_prompts, description=description)


class ValidationSummary(BaseModel):
    prompts: int
    succeeded: int
    failed: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    mean_similarity: float | None
    similarity_metric: str
    validation_prompts_source: ValidationPromptsSource
    validation_prompts: str
    report_uri: str


def run_validation(
    *,
    model_id: str,
    answers: list[ResponseLine],
    responses: ResponsesSummary,
    origin: ValidationPromptsOrigin,
    report_location: S3Location,
    s3: S3Gateway,
) -> ValidationSummary:
    """The student's answers (`answers`, summarized in `responses`) scored by chrF, into validation.json."""
    if not answers:
        raise ValidationInferenceFailed(f"no validation prompts in {origin.uri} ({origin.description})")
    chrf = CHRF()
    results = [
        PromptResult(
            index=answer.index,
            prompt=answer.prompt,
            output=answer.response,
            reference=answer.reference,
            latency_ms=answer.latency_ms,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            similarity=(
                chrf.sentence_score(answer.response, [answer.reference]).score
                if answer.succeeded and answer.response is not None and answer.reference
                else None
            ),
            error=answer.error,
        )
        for answer in answers
    ]
    if not responses.succeeded:
        raise ValidationInferenceFailed(
            f"every validation prompt failed; first error: {results[0].error} (all answers: {responses.responses_uri})"
        )
    similarities = [r.similarity for r in results if r.similarity is not None]
    summary = ValidationSummary(
        prompts=responses.prompts,
        succeeded=responses.succeeded,
        failed=responses.failed,
        latency_p50_ms=responses.latency_p50_ms,
        latency_p95_ms=responses.latency_p95_ms,
        mean_similarity=statistics.fmean(similarities) if similarities else None,
        similarity_metric=SIMILARITY_METRIC,
        validation_prompts_source=origin.source,
        validation_prompts=origin.description,
        report_uri=report_location.uri,
    )
    s3.put_json(
        report_location,
        {
            "modelId": model_id,
            "validationPrompts": origin.model_dump(),
            "summary": summary.model_dump(),
            "results": [r.model_dump() for r in results],
        },
    )
    return summary
