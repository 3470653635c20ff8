"""The narrow grants the project's function roles share: S3 by prefix, the key only through a service."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from bedrock_distill.workflow.run import EXECUTION_TAG_KEY, KEEP_ON_SUCCESS_TAG_KEY, PROJECT_TAG_KEY, PROJECT_TAG_VALUE

# The tag keys a run puts on what it creates (Run.tags, and the keep-on-success key on a deployment it was asked to
# keep: Run.model_deployment_tags): a create request may carry these and no others.
RUN_TAG_KEYS = [PROJECT_TAG_KEY, EXECUTION_TAG_KEY, KEEP_ON_SUCCESS_TAG_KEY]


def read_objects(role: iam.IRole, bucket: s3.IBucket, prefix: str, *, tell_missing: bool = True) -> None:
    """GetObject under the prefix; with `tell_missing`, also ListBucket on it, without which S3 answers a missing
    key with 403 AccessDenied instead of 404 (S3 API reference, GetObject: "Permissions")."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}/*")])
    )
    if not tell_missing:
        return
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        )
    )


def write_objects(role: iam.IRole, bucket: s3.IBucket, prefix: str) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{prefix}/*")])
    )


def use_key_through(role: iam.IRole, key: kms.IKey, service: str, actions: list[str] | None = None) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=actions or ["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{Aws.REGION}.amazonaws.com"}},
        )
    )


def use_key_through_dynamodb(role: iam.IRole, key: kms.IKey) -> None:
    """Reading and writing items of a table encrypted with the project key."""
    # What CDK's own Table.grant_read_write_data asks of the key, but only through DynamoDB.
    use_key_through(role, key, "dynamodb", ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"])


def publish_to(role: iam.IRole, topic_arn: str, key: kms.IKey) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="PublishOutcomes", actions=["sns:Publish"], resources=[topic_arn])
    )
    use_key_through(role, key, "sns")


def bedrock_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


# Tag conditions on Bedrock grants, so IAM keeps the functions to this project's resources even if their code is
# wrong. Which action takes which key on which resource type is in the Service Authorization Reference, "Actions,
# resources, and condition keys for Amazon Bedrock": aws:ResourceTag/${TagKey} on provisioned-model* for
# DeleteProvisionedModelThroughput, GetProvisionedModelThroughput and InvokeModel, on model-customization-job* for
# StopModelCustomizationJob, on custom-model* for CreateProvisionedModelThroughput and CreateCustomModelDeployment,
# on custom-model-deployment* for DeleteCustomModelDeployment and InvokeModel, and on evaluation-job* for
# StopEvaluationJob (each resource type's key); aws:RequestTag/${TagKey} and aws:TagKeys for
# CreateProvisionedModelThroughput, CreateModelCustomizationJob, CreateCustomModelDeployment and CreateEvaluationJob
# (on their custom-model* and foundation-model* resource types) and for TagResource.


def tagged_by_this_project() -> dict[str, Any]:
    """The resource acted on carries this project's tag (aws:ResourceTag)."""
    return {"StringEquals": {f"aws:ResourceTag/{PROJECT_TAG_KEY}": PROJECT_TAG_VALUE}}


def tagging_as_this_project(*, on_a_resource_of_this_project: bool = False) -> dict[str, Any]:
    """The request tags what it creates with this project's tag, and with no key a run does not send
    (aws:RequestTag, aws:TagKeys); with `on_a_resource_of_this_project`, the resource it names (the custom model a
    PT is bought for) also carries the project's tag."""
    equals = {f"aws:RequestTag/{PROJECT_TAG_KEY}": PROJECT_TAG_VALUE}
    if on_a_resource_of_this_project:
        equals |= tagged_by_this_project()["StringEquals"]
    return {"StringEquals": equals, "ForAllValues:StringEquals": {"aws:TagKeys": RUN_TAG_KEYS}}
