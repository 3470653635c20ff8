from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bedrock_distill.workflow.settings import MIN_JOB_POLL_INTERVAL_SECONDS, UPLOAD_TRIGGER_PREFIX, PipelineSettings
from stacks.components.buckets import DataBuckets
from stacks.components.grants import (
    publish_to,
    read_objects,
    tagged_by_this_project,
    tagging_as_this_project,
    use_key_through,
    use_key_through_dynamodb,
    write_objects,
)
from stacks.components.project_function import LambdaPackaging, ProjectFunction
from stacks.components.tables import short_lived_table
from stacks.config import INPUT_PREFIX, OUTPUT_PREFIX, DistillConfig
from stacks.pipeline_spec import (
    DEFINITION_FILE,
    EXECUTION_TIMEOUT_SECONDS,
    PROVISIONED_THROUGHPUT_POLL_SECONDS,
    STATE_MACHINE_NAME_SUFFIX,
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
        # Named, so functions the state machine refers to can be granted access to it without a cycle.
        self.state_machine_name = f"{Stack.of(self).stack_name}-{STATE_MACHINE_NAME_SUFFIX}"
        self.state_machine_arn = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:{self.state_machine_name}"
        )
        self.executions_arn = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{self.state_machine_name}:*"
        )
        # Task tokens of executions waiting for their job's state-change event, by job name (job_waiter.py).
        self.job_waiters = short_lived_table(
            self, "JobWaiters", key=key, partition_key="jobName", time_to_live_attribute="expiresAt"
        )

        settings = PipelineSettings(
            output_bucket=buckets.outputs.bucket_name,
            output_prefix=OUTPUT_PREFIX,
            service_role_arn=distillation_role.role_arn,
            default_teacher_model_id=config.teacher_model_id,
            default_student_model_id=config.student_model_id,
            allowed_model_pairs=config.model_pairs,
            invocation_log_source=(
                f"s3://{buckets.invocation_logs.bucket_name}/{config.invocation_log_prefix}/AWSLogs"
            ),
            default_model_units=config.provisioned_model_units,
            default_job_poll_seconds=config.job_poll_interval_seconds,
            default_provisioned_throughput_poll_seconds=PROVISIONED_THROUGHPUT_POLL_SECONDS,
            notification_topic_arn=self.topic.topic_arn,
            provisioned_throughput_hourly_rate_usd=config.provisioned_throughput_hourly_rate_usd,
            state_machine_arn=self.state_machine_arn,
            job_waiter_table=self.job_waiters.table_name,
            upload_trigger_prefix=UPLOAD_TRIGGER_PREFIX,
            max_provisioned_throughput_seconds=config.max_provisioned_throughput_hours * 3600,
            min_job_poll_seconds=MIN_JOB_POLL_INTERVAL_SECONDS,
            max_provisioned_model_units=config.max_provisioned_model_units,
            invocation_log_scope=config.invocation_log_scope,
            max_concurrent_runs=config.max_concurrent_runs,
        )
        self.settings = settings
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
            state_machine_name=self.state_machine_name,
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
        # Bedrock authorizes CreateModelCustomizationJob on the base model too: only the allowed students.
        students = [
            f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{student}"
            for student in dict.fromkeys(pair.student for pair in config.model_pairs)
        ]
        f = {name: function.role for name, function in self.functions.items()}

        read_objects(f["Preflight"], buckets.inputs, INPUT_PREFIX)
        read_objects(f["Preflight"], buckets.invocation_logs, config.invocation_log_prefix)
        write_objects(f["Preflight"], buckets.outputs, OUTPUT_PREFIX)
        # maxConcurrentRuns: Preflight counts the RUNNING executions (ListExecutions is authorized on the state
        # machine, Service Authorization Reference "AWS Step Functions"); the ARN is built from its name, no cycle.
        f["Preflight"].add_to_policy(
            iam.PolicyStatement(
                sid="CountRunningExecutions", actions=["states:ListExecutions"], resources=[self.state_machine_arn]
            )
        )

        f["CreateJob"].add_to_policy(
            iam.PolicyStatement(
                sid="CreateDistillationJobs",
                actions=["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"],
                resources=[jobs, custom_models, *students],
                # The job and its custom model carry the project's tag from birth (jobTags, customModelTags): the
                # later PT purchase and every cleanup rely on it.
                conditions=tagging_as_this_project(),
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

        read_objects(f["CollectMetrics"], buckets.outputs, OUTPUT_PREFIX)
        write_objects(f["CollectMetrics"], buckets.outputs, OUTPUT_PREFIX)

        # CreateProvisionedModelThroughput is authorized on the model the PT is bought for (custom-model* or
        # foundation-model*, no provisioned-model type): only this project's custom models, and only with the tags
        # a run sends, so no code path can buy capacity on another team's model or hide what it bought.
        f["CreateProvisionedThroughput"].add_to_policy(
            iam.PolicyStatement(
                sid="BuyProvisionedThroughputOnProjectModels",
                actions=["bedrock:CreateProvisionedModelThroughput"],
                resources=[custom_models],
                conditions=tagging_as_this_project(on_a_resource_of_this_project=True),
            )
        )
        f["CreateProvisionedThroughput"].add_to_policy(
            iam.PolicyStatement(
                sid="TagNewProvisionedThroughput",
                actions=["bedrock:TagResource"],
                resources=[provisioned_models],
                conditions=tagging_as_this_project(),
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
                sid="ReadProvisionedThroughput",
                actions=["bedrock:GetProvisionedModelThroughput"],
                resources=[provisioned_models],
            )
        )
        f["DeleteProvisionedThroughput"].add_to_policy(
            iam.PolicyStatement(
                sid="DeleteProjectProvisionedThroughput",
                actions=["bedrock:DeleteProvisionedModelThroughput"],
                resources=[provisioned_models],
                conditions=tagged_by_this_project(),
            )
        )
        f["ValidateModel"].add_to_policy(
            iam.PolicyStatement(
                sid="InvokeProjectProvisionedThroughput",
                actions=["bedrock:InvokeModel"],
                resources=[provisioned_models],
                conditions=tagged_by_this_project(),
            )
        )
        # Preflight has read the validation prompts already, so a missing key here is an error either way; the
        # held-out ones are written under the run's output prefix.
        read_objects(f["ValidateModel"], buckets.inputs, INPUT_PREFIX, tell_missing=False)
        read_objects(f["ValidateModel"], buckets.outputs, OUTPUT_PREFIX, tell_missing=False)
        write_objects(f["ValidateModel"], buckets.outputs, OUTPUT_PREFIX)

        publish_to(f["Notify"], self.topic.topic_arn, key)
        f["Notify"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadOwnExecutionHistory", actions=["states:GetExecutionHistory"], resources=[self.executions_arn]
            )
        )

        f["RegisterJobWaiter"].add_to_policy(
            iam.PolicyStatement(
                sid="FileTaskTokens",
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.job_waiters.table_arn],
            )
        )
        use_key_through_dynamodb(f["RegisterJobWaiter"], key)
        f["RegisterJobWaiter"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadDistillationJobs", actions=["bedrock:GetModelCustomizationJob"], resources=[jobs]
            )
        )
        f["RegisterJobWaiter"].add_to_policy(
            iam.PolicyStatement(
                sid="ReleaseWaitingTask", actions=["states:SendTaskSuccess"], resources=[self.state_machine_arn]
            )
        )
        for role in (f["Preflight"], f["CollectMetrics"], f["ValidateModel"]):
            use_key_through(role, key, "s3")
