"""The deployment settings unit tests plan runs against: a us-west-2 stack with the Llama 3.1 default pair."""

from __future__ import annotations

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
}


def pipeline_settings(**overrides: object) -> PipelineSettings:
    return PipelineSettings.model_validate(_DEFAULTS | overrides)
