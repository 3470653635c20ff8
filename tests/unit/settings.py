"""The deployment settings unit tests plan runs against: a us-west-2 stack with the Llama 3.1 default pair."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.handlers import common
from bedrock_distill.workflow.settings import PipelineSettings

_DEFAULTS: dict[str, object] = {
    "output_bucket": "outputs",
    "output_prefix": "jobs",
    "service_role_arn": "arn:aws:iam::123456789012:role/distillation",
    "default_teacher_model_id": "meta.llama3-1-70b-instruct-v1:0",
    "default_student_model_id": "meta.llama3-1-8b-instruct-v1:0:128k",
    "invocation_log_source": "s3://logs/bedrock-invocation-logs/AWSLogs",
    "default_model_units": 1,
    "default_job_poll_seconds": 43_200,
    "default_provisioned_throughput_poll_seconds": 60,
    "deploy_region": "us-west-2",
}


def pipeline_settings(**overrides: object) -> PipelineSettings:
    return PipelineSettings.model_validate(_DEFAULTS | overrides)


@contextmanager
def deployed_functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The functions' environment from `pipeline_settings()`, and its two buckets in moto: yields the S3 client."""
    for name, value in pipeline_settings().to_environment().items():
        monkeypatch.setenv(name, value)
    common.settings.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("inputs", "outputs"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
        yield s3
    common.settings.cache_clear()
