"""The narrow grants the project's function roles share: S3 by prefix, the key only through a service."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3


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
