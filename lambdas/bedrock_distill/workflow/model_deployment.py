"""On-demand serving of the distilled model: a custom model deployment, billed per token, nothing per hour.

User guide, "Deploy a custom model for on-demand inference" (deploy-custom-model-on-demand): a deployment is
created from an Active custom model, goes Creating -> Active (or Failed), and its ARN is the `modelId` for
Converse. API reference / botocore `bedrock` model: CreateCustomModelDeployment (modelDeploymentName
`([0-9a-zA-Z][_-]?){1,63}`, modelArn, tags, clientRequestToken; errors include ServiceQuotaExceededException),
GetCustomModelDeployment (status `Creating | Active | Failed`, failureMessage, createdAt),
DeleteCustomModelDeployment (by ARN or name; errors ResourceNotFoundException, ConflictException, ...).

Every deployment carries the run's tags (project + execution ARN), so the execution-end cleanup and the sweeper
find it (workflow/cleanup.py) and IAM can condition its deletion on `aws:ResourceTag/project` (Service
Authorization Reference: the custom-model-deployment resource takes `aws:ResourceTag/${TagKey}`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock import NOT_FOUND, BedrockGateway
from bedrock_distill.gateways.calls import QUOTA_EXCEEDED
from bedrock_distill.workflow.errors import (
    BedrockRequestRejected,
    ConflictException,
    ModelDeploymentFailed,
    ModelDeploymentQuotaExceeded,
)
from bedrock_distill.workflow.run import Run

# CreateCustomModelDeployment answers 202 with the ARN only (botocore: CreateCustomModelDeploymentResponse);
# a deployment starts Creating. A repeated request with the same clientRequestToken is ignored by Bedrock and
# answers the same ARN (API reference, clientRequestToken), whatever the deployment's status by then: the
# state machine's next step reads the real status.
CREATING: Final = "Creating"
ACTIVE: Final = "Active"
FAILED: Final = "Failed"


class ModelDeployment(BaseModel):
    custom_model_deployment_arn: str
    status: str


class ModelDeploymentDeletion(BaseModel):
    """`deleted` is False when there was nothing to delete (never created, or already gone)."""

    deleted: bool
    alive_seconds: float | None = None


def create_model_deployment(run: Run, custom_model_arn: str, bedrock: BedrockGateway) -> ModelDeployment:
    """Deploy the distilled model for on-demand inference, once per execution.

    The name and the client token come from the execution (boto3 would fill a random token, so a retried
    Lambda would deploy twice); the tags make every cleanup layer see it, and a run asked to keep its deployment
    adds the keep-on-success tag (Run.model_deployment_tags).
    """
    try:
        arn = bedrock.create_custom_model_deployment(
            modelDeploymentName=run.model_deployment_name,
            modelArn=custom_model_arn,
            description=f"Distilled model served on demand by execution {run.execution_arn}",
            clientRequestToken=run.model_deployment_client_request_token,
            tags=run.model_deployment_tags(),
        )
    except BedrockRequestRejected as rejected:
        # botocore models ServiceQuotaExceededException for this operation; neither the user guide's page nor the
        # API reference names the quota or its default (checked 2026-11-28), so the message names no quota code.
        if rejected.code == QUOTA_EXCEEDED:
            raise ModelDeploymentQuotaExceeded(
                f"Bedrock refused another custom model deployment in this account and Region: {rejected}. Delete "
                "the deployments you no longer use (aws bedrock list-custom-model-deployments), or request an "
                "increase of the Amazon Bedrock custom model deployment quota in Service Quotas, or start the "
                "run with servingMode 'provisioned'; then start a new execution. The distilled model "
                f"{custom_model_arn} is kept."
            ) from rejected
        raise
    return ModelDeployment(custom_model_deployment_arn=arn, status=CREATING)


def model_deployment_status(deployment_identifier: str, bedrock: BedrockGateway) -> ModelDeployment:
    """Creating or Active; Failed raises ModelDeploymentFailed with Bedrock's failure message."""
    deployment = bedrock.get_custom_model_deployment(deployment_identifier)
    status = str(deployment["status"])
    if status == FAILED:
        raise ModelDeploymentFailed(
            f"{deployment_identifier}: {deployment.get('failureMessage') or 'no failure message from Bedrock'}"
        )
    return ModelDeployment(custom_model_deployment_arn=str(deployment["customModelDeploymentArn"]), status=status)


def delete_model_deployment(deployment_identifier: str, bedrock: BedrockGateway) -> ModelDeploymentDeletion:
    """Delete by ARN or name; a deployment never created or already gone is done (`deleted` False).

    Reads it first for how long it lived. ResourceNotFoundException (API reference: "The specified resource ...
    was not found") means nothing to do. ConflictException is modeled for DeleteCustomModelDeployment; AWS does
    not say when it is raised (a deployment still Creating is the likely case, as for a PT), so it leaves as the
    named transient error for the state machine, Lambda or the next sweep to retry. A Failed deployment is
    deleted like any other.
    """
    try:
        deployment = bedrock.get_custom_model_deployment(deployment_identifier)
        deleted_at = bedrock.delete_custom_model_deployment(deployment_identifier) or datetime.now(UTC)
    except BedrockRequestRejected as rejected:
        if rejected.code == NOT_FOUND:
            return ModelDeploymentDeletion(deleted=False)
        if rejected.code == "ConflictException":
            raise ConflictException(str(rejected), code=rejected.code, reason=rejected.reason) from rejected
        raise
    created: datetime | None = deployment.get("createdAt")
    # Both ends on Bedrock's clock (createdAt, the deletion's Date header), so a skewed function clock cannot
    # distort how long it lived.
    alive = max(0.0, (deleted_at - created).total_seconds()) if created else None
    return ModelDeploymentDeletion(deleted=True, alive_seconds=alive)
