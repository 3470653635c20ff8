from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from bedrock_distill.project import PROJECT_NAME


class EncryptionKey(Construct):
    """The project's customer-managed key for buckets and log groups, rotated yearly."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{PROJECT_NAME}/{Aws.STACK_NAME}",
            description="bedrock-distill: datasets, job outputs, invocation logs and function logs",
            enable_key_rotation=True,
            # Deleting the key would make every retained object and log unreadable.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs encrypts our log groups with this key, and only for log groups of this account.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccountsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )

    def allow_bedrock_log_delivery(self) -> None:
        """Bedrock's invocation-log delivery writes SSE-KMS objects: it needs a data key, nothing more."""
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBedrockInvocationLogDelivery",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["kms:GenerateDataKey"],
                resources=["*"],
                conditions=bedrock_source_conditions("*"),
            )
        )


def bedrock_source_conditions(resource: str) -> dict[str, dict[str, str]]:
    """The confused-deputy guard for the Bedrock service principal: only this account's resources."""
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"},
    }
