from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bedrock_distill.catalog import parse_model_id
from bedrock_distill.workflow.settings import PipelineSettings
from stacks.components.buckets import DataBuckets
from stacks.components.project_function import LambdaPackaging, ProjectFunction
from stacks.config import INPUT_PREFIX, OUTPUT_PREFIX, DistillConfig
from stacks.pipeline_spec import (
    DEFINITION_FILE,
    EXECUTION_TIMEOUT_SECONDS,
    PROVISIONED_THROUGHPUT_POLL_SECONDS,
    WORKFLOW_FUNCTIONS,
    substitutions,
)


class DistillationPipeline(Construct):
    """The workflow: its functions, each with only the permissions its state needs, the outcome topic,
    and the Standard state machine from `statemachines/distillation.asl.json`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DistillConfig,
        key: kms.IKey,
        buckets: DataBuckets,
        distillation_role: iam.IRole,
        packaging: LambdaPackaging,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Outcomes", display_name="bedrock-distill outcomes", master_key=key, enforce_ssl=True
        )
        if config.notification_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.notification_email))

        settings = PipelineSettings(
            output_bucket=buckets.outputs.bucket_name,
            output_prefix=OUTPUT_PREFIX,
            service_role_arn=distillation_role.role_arn,
            default_teacher_model_id=config.teacher_model_id,
            default_student_model_id=config.student_model_id,
            invocation_log_source=(
                f"s3://{buckets.invocation_logs.bucket_name}/{config.invocation_log_prefix}/AWSLogs"
            ),
            default_model_units=config.provisioned_model_units,
            default_job_poll_seconds=config.job_poll_interval_seconds,
            default_provisioned_throughput_poll_seconds=PROVISIONED_THROUGHPUT_POLL_SECONDS,
            notification_topic_arn=self.topic.topic_arn,
            provisioned_throughput_hourly_rate_usd=config.provisioned_throughput_hourly_rate_usd,
        )
        self.functions = {
            name: ProjectFunction(
                self,
                name,
                handler=spec.handler,
                description=spec.description,
                packaging=packaging,
                config=config,
                key=key,
                environment=settings.to_environment(),
                timeout=Duration.seconds(spec.timeout_seconds),
                memory_mb=spec.memory_mb,
            )
            for name, spec in WORKFLOW_FUNCTIONS.items()
        }
        self._grant(config, key, buckets, distillation_role)

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=config.log_retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        function_arns = {name: function.function.function_arn for name, function in self.functions.items()}
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(DEFINITION_FILE)),
            definition_substitutions={name: str(value) for name, value in substitutions(function_arns).items()},
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            timeout=Duration.seconds(EXECUTION_TIMEOUT_SECONDS),
            comment="bedrock-distill: distil, validate on Provisioned Throughput, always delete it",
        )
        for function in self.functions.values():
            function.function.grant_invoke(self.state_machine)

    def _grant(self, config: DistillConfig, key: kms.IKey, buckets: DataBuckets, distillation_role: iam.IRole) -> None:
        bedrock = f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        jobs = f"{bedrock}:model-customization-job/*"
        custom_models = f"{bedrock}:custom-model/*"
        provisioned_models = f"{bedrock}:provisioned-model/*"
        student = parse_model_id(config.student_model_id).model_id
        f = {name: function.role for name, function in self.functions.items()}

        _read_objects(f["Preflight"], buckets.inputs, INPUT_PREFIX)
        _read_objects(f["Preflight"], buckets.invocation_logs, config.invocation_log_prefix)
        _write_objects(f["Preflight"], buckets.outputs, OUTPUT_PREFIX)

        f["CreateJob"].add_to_policy(
            iam.PolicyStatement(
                sid="CreateDistillationJobs",
                actions=["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"],
                resources=[
                    jobs,
                    custom_models,
                    f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{student}",
                ],
            )
        )
        f["CreateJob"].add_to_policy(
            iam.PolicyStatement(
                sid="PassDistillationRoleToBedrock",
                actions=["iam:PassRole"],
                resources=[distillation_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
        f["JobStatus"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadDistillationJobs", actions=["bedrock:GetModelCustomizationJob"], resources=[jobs]
            )
        )

        _read_objects(f["CollectMetrics"], buckets.outputs, OUTPUT_PREFIX)
        _write_objects(f["CollectMetrics"], buckets.outputs, OUTPUT_PREFIX)

        f["CreateProvisionedThroughput"].add_to_policy(
            iam.PolicyStatement(
                sid="CreateProvisionedThroughput",
                actions=["bedrock:CreateProvisionedModelThroughput", "bedrock:TagResource"],
                resources=[custom_models, provisioned_models],
            )
        )
        f["ProvisionedThroughputStatus"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadProvisionedThroughput",
                actions=["bedrock:GetProvisionedModelThroughput"],
                resources=[provisioned_models],
            )
        )
        f["DeleteProvisionedThroughput"].add_to_policy(
            iam.PolicyStatement(
                sid="DeleteProvisionedThroughput",
                actions=["bedrock:GetProvisionedModelThroughput", "bedrock:DeleteProvisionedModelThroughput"],
                resources=[provisioned_models],
            )
        )
        f["ValidateModel"].add_to_policy(
            iam.PolicyStatement(
                sid="InvokeProvisionedThroughput", actions=["bedrock:InvokeModel"], resources=[provisioned_models]
            )
        )
        _read_objects(f["ValidateModel"], buckets.inputs, INPUT_PREFIX)
        _write_objects(f["ValidateModel"], buckets.outputs, OUTPUT_PREFIX)

        f["Notify"].add_to_policy(
            iam.PolicyStatement(sid="PublishOutcomes", actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        f["Notify"].add_to_policy(
            iam.PolicyStatement(
                sid="EncryptOutcomesThroughSns",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com"}},
            )
        )
        for role in (f["Preflight"], f["CollectMetrics"], f["ValidateModel"]):
            _use_key_through_s3(role, key)


def _read_objects(role: iam.IRole, bucket: s3.IBucket, prefix: str) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}/*")])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        )
    )


def _write_objects(role: iam.IRole, bucket: s3.IBucket, prefix: str) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{prefix}/*")])
    )


def _use_key_through_s3(role: iam.IRole, key: kms.IKey) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
        )
    )
