"""Creating the distillation job and reading its status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.calls import QUOTA_EXCEEDED
from bedrock_distill.workflow.errors import (
    BedrockRequestRejected,
    CustomizationJobQuotaExceeded,
    DistillationJobFailed,
    DistillationJobStopped,
)
from bedrock_distill.workflow.quotas import CUSTOMIZATION_JOBS
from bedrock_distill.workflow.run import Run
from bedrock_distill.workflow.settings import PipelineSettings

CUSTOMIZATION_TYPE = "DISTILLATION"


class JobStatus(BaseModel):
    job_arn: str
    status: str
    output_model_arn: str | None = None
    output_model_name: str | None = None
    status_details: dict[str, Any] = Field(default_factory=dict)


def job_request(run: Run, settings: PipelineSettings) -> dict[str, Any]:
    """The CreateModelCustomizationJob request for this run: the same on every retry."""
    return {
        "jobName": run.job_name,
        "customModelName": run.custom_model_name,
        "roleArn": settings.service_role_arn,
        "clientRequestToken": run.job_client_request_token,
        "baseModelIdentifier": run.student_model_id,
        "customizationType": CUSTOMIZATION_TYPE,
        "trainingDataConfig": run.training_data_config,
        "outputDataConfig": {"s3Uri": run.output_s3_uri},
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": run.teacher_model_id,
                    "maxResponseLengthForInference": run.max_response_length_for_inference,
                }
            }
        },
        "jobTags": run.tags(),
        # The model the job trains carries the project's tag too (botocore: CreateModelCustomizationJobRequest
        # .customModelTags): IAM lets a PT be bought only on a custom model with that tag (stacks/components/grants.py).
        "customModelTags": run.tags(),
    }


def create_job(run: Run, settings: PipelineSettings, bedrock: BedrockGateway) -> str:
    """The job's ARN. Past the account's customization-jobs quota, CustomizationJobQuotaExceeded: nothing was
    created, and the run ends before anything that costs money."""
    try:
        # The token is derived from the execution, so a retried invocation gets the first job back.
        return bedrock.create_model_customization_job(**job_request(run, settings))
    except BedrockRequestRejected as rejected:
        if rejected.code == QUOTA_EXCEEDED:
            raise CustomizationJobQuotaExceeded(
                f"Bedrock refused the distillation job {run.job_name}: {rejected}. "
                f"{CUSTOMIZATION_JOBS.request_increase('the number of jobs you run at once')}, or wait for a "
                "running customization job to end; then start a new execution."
            ) from rejected
        raise


def job_status(job_arn: str, bedrock: BedrockGateway) -> JobStatus:
    """The job's status; a failed or stopped job raises the named error with Bedrock's message."""
    job = bedrock.get_model_customization_job(job_arn)
    status = str(job["status"])
    if status == "Failed":
        raise DistillationJobFailed(f"{job_arn}: {job.get('failureMessage') or 'no failure message from Bedrock'}")
    if status in {"Stopping", "Stopped"}:
        raise DistillationJobStopped(f"{job_arn}: {status}: {job.get('failureMessage') or 'the job was stopped'}")
    return JobStatus(
        job_arn=job_arn,
        status=status,
        output_model_arn=job.get("outputModelArn"),
        output_model_name=job.get("outputModelName"),
        status_details=_plain(job.get("statusDetails", {})),
    )


def _plain(value: Any) -> Any:
    """botocore returns datetimes; the state machine carries JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
