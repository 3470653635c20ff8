"""What a distillation job reads and writes in S3: its training records and its metrics files."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from botocore.exceptions import ClientError

from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.invocation_logs import matches_filters, read_records, split_s3_uri

MAX_TRAINING_RECORDS = 15_000
_SCHEMA_VERSION = "bedrock-conversation-2024"


def count_training_records(s3: Any, training_data_config: dict[str, Any]) -> int:
    """Usable records, as Bedrock counts them after silently dropping invalid lines; a source that
    cannot be read or holds no usable record raises a BedrockError whose message becomes the job's
    failureMessage."""
    if "s3Uri" in training_data_config:
        count = _count_prompt_records(s3, training_data_config["s3Uri"])
        source = training_data_config["s3Uri"]
    else:
        logs = training_data_config["invocationLogsConfig"]
        source = logs["invocationLogSource"]["s3Uri"]
        count = sum(
            1
            for record in read_records(s3, source)
            if matches_filters(logs.get("requestMetadataFilters"), record.get("requestMetadata") or {})
            and (not logs.get("usePromptResponse") or record.get("output"))
        )
    if count == 0:
        raise BedrockError("ValidationException", f"No valid training records found in {source}")
    if count > MAX_TRAINING_RECORDS:
        raise BedrockError(
            "ValidationException",
            f"{source} holds {count} records; distillation accepts at most {MAX_TRAINING_RECORDS}",
        )
    return count


def _count_prompt_records(s3: Any, uri: str) -> int:
    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except ClientError as error:
        raise BedrockError("ValidationException", f"Unable to read training data at {uri}: {error}") from error
    return sum(1 for line in body.splitlines() if _is_conversation_record(line))


def _is_conversation_record(line: str) -> bool:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return False
    return (
        isinstance(record, dict)
        and record.get("schemaVersion") == _SCHEMA_VERSION
        and isinstance(record.get("messages"), list)
        and bool(record["messages"])
    )


def write_metrics(
    s3: Any, output_uri: str, job_id: str, records: int, hyper_parameters: dict[str, str]
) -> tuple[float, float]:
    """Writes the training and validation metrics CSVs; returns the final (training, validation) loss."""
    epochs = int(hyper_parameters.get("epochCount", "2"))
    steps_per_epoch = math.ceil(records / int(hyper_parameters.get("batchSize", "8")))
    total_steps = epochs * steps_per_epoch
    training_rows = ["step_number,epoch_number,training_loss,perplexity"]
    validation_rows = ["step_number,epoch_number,validation_loss,perplexity"]
    training_loss = validation_loss = 0.0
    for step in range(1, total_steps + 1):
        epoch = (step - 1) // steps_per_epoch + 1
        training_loss = _loss(job_id, step, total_steps, floor=0.35)
        training_rows.append(f"{step},{epoch},{training_loss:.6f},{math.exp(training_loss):.6f}")
        if step % steps_per_epoch == 0:
            validation_loss = _loss(job_id, step, total_steps, floor=0.45)
            validation_rows.append(f"{step},{epoch},{validation_loss:.6f},{math.exp(validation_loss):.6f}")
    bucket, prefix = split_s3_uri(output_uri)
    job_prefix = f"{prefix.strip('/')}/model-customization-job-{job_id}".lstrip("/")
    for key, rows in (
        ("training_artifacts/step_wise_training_metrics.csv", training_rows),
        ("validation_artifacts/post_fine_tuning_validation/validation_metrics.csv", validation_rows),
    ):
        s3.put_object(Bucket=bucket, Key=f"{job_prefix}/{key}", Body="\n".join(rows).encode() + b"\n")
    return training_loss, validation_loss


def _loss(job_id: str, step: int, total_steps: int, floor: float) -> float:
    """A decaying loss with a little deterministic noise, so every job has its own plausible curve."""
    noise = hashlib.sha256(f"{job_id}:{step}".encode()).digest()[0] / 255 - 0.5
    return floor + 2.2 * math.exp(-3 * step / total_steps) + 0.05 * noise
