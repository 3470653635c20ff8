"""The job's training and validation metrics, from the CSVs Bedrock writes under the output URI."""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel

from bedrock_distill.gateways.s3 import S3Gateway, S3Location

TRAINING_METRICS = "training_artifacts/step_wise_training_metrics.csv"
VALIDATION_METRICS = "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"


class TrainingStep(BaseModel):
    step_number: int
    epoch_number: int
    training_loss: float
    perplexity: float | None = None


class JobMetrics(BaseModel):
    job_output_prefix: str
    training_steps: list[TrainingStep]
    final_training_loss: float | None
    validation_losses: list[float]
    artifacts: list[str]


def job_output_prefix(output_s3_uri: str, job_arn: str) -> S3Location:
    job_id = job_arn.rsplit("/", 1)[-1]
    return S3Location.parse(output_s3_uri).child(f"model-customization-job-{job_id}/")


def collect_metrics(output_s3_uri: str, job_arn: str, s3: S3Gateway) -> JobMetrics:
    prefix = job_output_prefix(output_s3_uri, job_arn)
    artifacts = list(s3.list_keys(prefix))
    steps = [
        TrainingStep.model_validate({key.strip(): _number(value) for key, value in row.items()})
        for row in _rows(s3, prefix.child(TRAINING_METRICS), artifacts)
    ]
    validation_losses = [
        float(row["validation_loss"])
        for row in _rows(s3, prefix.child(VALIDATION_METRICS), artifacts)
        if row.get("validation_loss")
    ]
    return JobMetrics(
        job_output_prefix=prefix.uri,
        training_steps=steps,
        final_training_loss=steps[-1].training_loss if steps else None,
        validation_losses=validation_losses,
        artifacts=artifacts,
    )


def _rows(s3: S3Gateway, location: S3Location, artifacts: list[str]) -> list[dict[str, str]]:
    # Names beyond these two CSVs are undocumented; a missing CSV is reported as no rows, not an error.
    if location.key not in artifacts:
        return []
    reader = csv.DictReader(io.StringIO(s3.read_text(location)), skipinitialspace=True)
    return [{(key or "").strip(): value for key, value in row.items()} for row in reader]


def _number(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None
