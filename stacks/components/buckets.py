from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.components.encryption import bedrock_source_conditions
from stacks.config import ACCESS_LOG_RETENTION_DAYS, DistillConfig

_NONCURRENT_VERSION_DAYS = 30


class DataBuckets(Construct):
    """Every bucket of the app: invocation logs, prompt datasets, job outputs, and their access logs.

    All of them block public access, deny non-TLS requests, are versioned, encrypted and retained.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DistillConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        # S3 server access logging cannot deliver to SSE-KMS buckets, so this one uses SSE-S3.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS),
                    noncurrent_version_expiration=Duration.days(_NONCURRENT_VERSION_DAYS),
                )
            ],
        )
        self.invocation_logs = self._hardened_bucket(
            "InvocationLogs",
            key,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireInvocationLogs",
                    prefix=f"{config.invocation_log_prefix}/",
                    expiration=Duration.days(config.invocation_log_expiration_days),
                    noncurrent_version_expiration=Duration.days(_NONCURRENT_VERSION_DAYS),
                )
            ],
        )
        self.invocation_log_prefix = config.invocation_log_prefix
        self.invocation_logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBedrockInvocationLogDelivery",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.invocation_logs.arn_for_objects(f"{self.invocation_log_delivery_prefix}/*")],
                conditions=bedrock_source_conditions("*"),
            )
        )
        # Uploads reach EventBridge, where the upload rule starts runs (stacks/components/event_triggers.py).
        self.inputs = self._hardened_bucket("Inputs", key)
        # CloudFormation's own setting, not `event_bridge_enabled=True`, which deploys a notification Lambda.
        inputs_resource: s3.CfnBucket = self.inputs.node.default_child  # type: ignore[assignment]
        inputs_resource.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        self.outputs = self._hardened_bucket("Outputs", key)

    @property
    def invocation_log_delivery_prefix(self) -> str:
        """Where Bedrock writes logs under our prefix (its layout: `<prefix>/AWSLogs/<account>/...`)."""
        return f"{self.invocation_log_prefix}/AWSLogs/{Aws.ACCOUNT_ID}/BedrockModelInvocationLogs"

    def _hardened_bucket(
        self,
        construct_id: str,
        key: kms.IKey,
        lifecycle_rules: list[s3.LifecycleRule] | None = None,
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{construct_id}/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=lifecycle_rules
            or [
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(_NONCURRENT_VERSION_DAYS),
                )
            ],
        )
