"""Provisioned Throughput for validation: bought without commitment, always deleted."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock import NOT_FOUND, BedrockGateway
from bedrock_distill.gateways.calls import QUOTA_EXCEEDED
from bedrock_distill.workflow.errors import (
    BedrockRequestRejected,
    ConflictException,
    ProvisionedThroughputFailed,
    ProvisionedThroughputQuotaExceeded,
)
from bedrock_distill.workflow.quotas import NO_COMMITMENT_MODEL_UNITS
from bedrock_distill.workflow.run import Run


class ProvisionedThroughput(BaseModel):
    provisioned_model_arn: str
    status: str


def create_provisioned_throughput(run: Run, custom_model_arn: str, bedrock: BedrockGateway) -> str:
    """No commitmentDuration: hourly billing, and deletable at any time."""
    try:
        return bedrock.create_provisioned_model_throughput(
            modelUnits=run.provisioned_model_units,
            provisionedModelName=run.provisioned_model_name,
            modelId=custom_model_arn,
            clientRequestToken=run.provisioned_throughput_client_request_token,
            tags=run.tags(),
        )
    except BedrockRequestRejected as rejected:
        if rejected.code == QUOTA_EXCEEDED:
            units = run.provisioned_model_units
            raise ProvisionedThroughputQuotaExceeded(
                f"Bedrock refused {units} no-commitment model unit(s) for the distilled model: {rejected}. "
                f"{NO_COMMITMENT_MODEL_UNITS.request_increase(f'at least {units} more than in use')} (a new account "
                f"has 0); then start a new execution. The distilled model {custom_model_arn} is kept."
            ) from rejected
        raise


def provisioned_throughput_status(provisioned_model_id: str, bedrock: BedrockGateway) -> ProvisionedThroughput:
    throughput = bedrock.get_provisioned_model_throughput(provisioned_model_id)
    status = str(throughput["status"])
    if status == "Failed":
        raise ProvisionedThroughputFailed(
            f"{provisioned_model_id}: {throughput.get('failureMessage') or 'no failure message from Bedrock'}"
        )
    return ProvisionedThroughput(provisioned_model_arn=str(throughput["provisionedModelArn"]), status=status)


class Deletion(BaseModel):
    deleted: bool
    model_units: int | None = None
    alive_seconds: float | None = None


def delete_provisioned_throughput(provisioned_model_id: str, bedrock: BedrockGateway) -> Deletion:
    """Delete by ARN or name; `deleted` is False when it was already gone.

    Reads it first to report how long it lived (what it cost), measured on Bedrock's clock so a skewed
    client clock cannot distort it. ConflictException (still creating or updating) is raised for the
    state machine to retry.
    """
    try:
        throughput = bedrock.get_provisioned_model_throughput(provisioned_model_id)
        deleted_at = bedrock.delete_provisioned_model_throughput(provisioned_model_id) or datetime.now(UTC)
    except BedrockRequestRejected as rejected:
        code = rejected.code
        if code == NOT_FOUND:
            return Deletion(deleted=False)
        if code == "ConflictException":
            raise ConflictException(str(rejected)) from rejected
        raise
    created: datetime | None = throughput.get("creationTime")
    return Deletion(
        deleted=True,
        model_units=throughput.get("modelUnits"),
        alive_seconds=max(0.0, (deleted_at - created).total_seconds()) if created else None,
    )
