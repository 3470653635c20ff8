from __future__ import annotations

from aws_cdk import Aws, CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from bedrock_distill.project import PROJECT_NAME
from stacks.components.buckets import DataBuckets
from stacks.components.project_function import LambdaPackaging, ProjectFunction
from stacks.config import DistillConfig

# Bedrock's logging-configuration actions act on the account's single setting and have no resource type.
LOGGING_CONFIGURATION_ACTIONS = [
    "bedrock:GetModelInvocationLoggingConfiguration",
    "bedrock:PutModelInvocationLoggingConfiguration",
    "bedrock:DeleteModelInvocationLoggingConfiguration",
]


class InvocationLogging(Construct):
    """The account's model-invocation logging, delivering text to our bucket, as a custom resource.

    Create records the configuration that was there and installs ours; Update installs ours; Delete
    restores the recorded one (or deletes the setting if there was none). An existing CloudWatch Logs
    delivery is kept, which needs its role named at deploy time (`invocationLoggingRoleArn`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DistillConfig,
        buckets: DataBuckets,
        key: kms.IKey,
        packaging: LambdaPackaging,
    ) -> None:
        super().__init__(scope, construct_id)
        parameter_name = f"/{PROJECT_NAME}/{Aws.STACK_NAME}/previous-invocation-logging-configuration"
        parameter_arn = Stack.of(self).format_arn(
            service="ssm", resource="parameter", resource_name=parameter_name.lstrip("/")
        )
        self.handler = ProjectFunction(
            self,
            "Handler",
            handler="bedrock_distill.handlers.invocation_logging.handler",
            description="Installs and restores the account's Bedrock model-invocation logging configuration",
            packaging=packaging,
            config=config,
            key=key,
            environment={"PREVIOUS_CONFIGURATION_PARAMETER": parameter_name},
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageInvocationLoggingConfiguration",
                actions=LOGGING_CONFIGURATION_ACTIONS,
                resources=["*"],
            )
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(
                sid="RecordPreviousConfiguration",
                actions=["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"],
                resources=[parameter_arn],
            )
        )
        role_arn = config.invocation_logging_role_arn
        if role_arn is not None:
            # The stack keeps the account's CloudWatch Logs delivery, whose role Bedrock assumes: each put of
            # ours and the restore on delete pass it (lambdas/bedrock_distill/invocation_logging.py).
            self.handler.role.add_to_policy(
                iam.PolicyStatement(
                    sid="PassCloudWatchDeliveryRoleToBedrock",
                    actions=["iam:PassRole"],
                    resources=[role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
                )
            )
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.handler.function,
            log_group=logs.LogGroup(
                self,
                "ProviderLogs",
                retention=config.log_retention,
                encryption_key=key,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        self.resource = CustomResource(
            self,
            "Configuration",
            service_token=provider.service_token,
            resource_type="Custom::BedrockInvocationLogging",
            properties={
                "BucketName": buckets.invocation_logs.bucket_name,
                "KeyPrefix": config.invocation_log_prefix,
                # A change of role is an Update, so the handler checks the delivery against the new one.
                **({"CloudWatchRoleArn": role_arn} if role_arn is not None else {}),
            },
        )
        # Bedrock checks that it may write to the bucket when the configuration is put.
        policy = buckets.invocation_logs.policy
        assert policy is not None, "the invocation-log bucket policy is created with the bucket"
        self.resource.node.add_dependency(policy)
