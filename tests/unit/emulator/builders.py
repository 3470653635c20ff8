"""Requests and data the emulator tests share."""

from __future__ import annotations

import gzip
import json
from functools import cache
from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
BUCKET = "distill-data"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/bedrock-distillation"
TEACHER = "us.amazon.nova-premier-v1:0"
STUDENT = "amazon.nova-lite-v1:0:300k"
JOB_SECONDS = 10 * 3600
PROVISIONING_SECONDS = 600


def conversation_line(prompt: str) -> str:
    return json.dumps(
        {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
        }
    )


def upload_prompts(s3: Any, count: int, key: str = "train/prompts.jsonl") -> str:
    lines = [conversation_line(f"Question number {index} about distillation") for index in range(count)]
    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode())
    return f"s3://{BUCKET}/{key}"


def distillation_request(training_data_config: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "jobName": "distill-job-1",
        "customModelName": "distilled-model-1",
        "roleArn": ROLE_ARN,
        "baseModelIdentifier": STUDENT,
        "customizationType": "DISTILLATION",
        "trainingDataConfig": training_data_config,
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/output/"},
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {"teacherModelIdentifier": TEACHER, "maxResponseLengthForInference": 1000}
            }
        },
        "clientRequestToken": "execution-1-create-job",
    }
    return request | overrides


def invocation_logs_source(filters: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"invocationLogSource": {"s3Uri": f"s3://{BUCKET}/logs/AWSLogs"}}
    if filters is not None:
        config["requestMetadataFilters"] = filters
    return {"invocationLogsConfig": config}


def read_gzip_json_lines(s3: Any, key: str) -> list[dict[str, Any]]:
    body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def keys_under(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@cache
def _session() -> boto3.session.Session:
    # Shared by all tests: a fresh session per test reloads botocore's models and triples the suite's time.
    return boto3.session.Session(region_name=REGION)


def client(service_name: str) -> Any:
    return _session().client(service_name)


def distilled_model(s3: Any, advance: Any, region: str = REGION, **overrides: Any) -> str:
    """The ARN of a custom model distilled in `region` from `distillation_request(**overrides)`; `advance` moves the
    emulator's clock past the job."""
    bedrock = boto3.session.Session(region_name=region).client("bedrock") if region != REGION else client("bedrock")
    request = distillation_request({"s3Uri": upload_prompts(s3, 10)}, **overrides)
    job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    advance(JOB_SECONDS)
    arn: str = bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
    return arn
