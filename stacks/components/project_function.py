from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bedrock_distill.observability import METRICS_NAMESPACE, SERVICE_NAME
from bedrock_distill.project import PROJECT_NAME
from stacks.config import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_CODE_DIR,
    LAMBDA_LAYER_DIR,
    LAMBDA_MEMORY_MB,
    LAMBDA_RUNTIME,
    LAMBDA_TIMEOUT_SECONDS,
    DistillConfig,
)

_CODE_EXCLUDES = ["requirements.txt", "**/__pycache__", "**/*.pyc", "*.egg-info"]


class LambdaPackaging(Construct):
    """The one code asset for `lambdas/` and the layer of pinned runtime dependencies.

    The layer directory is built by `make layer` (pip, wheels for the Lambda platform only), so synth
    needs neither Docker nor network.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.code = lambda_.Code.from_asset(LAMBDA_CODE_DIR, exclude=_CODE_EXCLUDES)
        self.dependencies = lambda_.LayerVersion(
            self,
            "RuntimeDependencies",
            code=lambda_.Code.from_asset(LAMBDA_LAYER_DIR, exclude=[".built"]),
            compatible_runtimes=[LAMBDA_RUNTIME],
            compatible_architectures=[LAMBDA_ARCHITECTURE],
            description="bedrock-distill pinned runtime dependencies (lambdas/requirements.txt)",
            removal_policy=RemovalPolicy.DESTROY,
        )


class ProjectFunction(Construct):
    """A Lambda function with the project defaults.

    Runtime, architecture, memory, timeout, X-Ray tracing, JSON logs into its own encrypted log group
    with retention, and a role that may write only to that log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        packaging: LambdaPackaging,
        config: DistillConfig,
        key: kms.IKey,
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        memory_mb: int = LAMBDA_MEMORY_MB,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=config.log_retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An explicit role instead of AWSLambdaBasicExecutionRole, which may write to every log group.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{PROJECT_NAME} {construct_id} function",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            code=packaging.code,
            handler=handler,
            layers=[packaging.dependencies],
            description=description,
            memory_size=memory_mb,
            timeout=timeout or Duration.seconds(LAMBDA_TIMEOUT_SECONDS),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
            role=self.role,
            dead_letter_queue=dead_letter_queue,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
