from __future__ import annotations

import posixpath
from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bedrock_distill.workflow.preflight import PREFLIGHT_REPORT
from bedrock_distill.workflow.run import SCORECARD_FILE, STUDENT_RESPONSES_FILE, TEACHER_RESPONSES_FILE
from bedrock_distill.workflow.settings import MIN_JOB_POLL_INTERVAL_SECONDS, UPLOAD_TRIGGER_PREFIX, PipelineSettings
from stacks.components.buckets import DataBuckets
from stacks.components.distillation_role import teacher_model_arns
from stacks.components.evaluation_role import EVALUATION_DATASETS_PREFIX, EVALUATION_OUTPUT_PREFIX
from stacks.components.grants import (
    bedrock_arn,
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
from stacks.config import INPUT_PREFIX, OUTPUT_PREFIX, DistillConfig, evaluation_poll_floor_seconds, judge_route
from stacks.pipeline_spec import (
    DEFINITION_FILE,
    EXECUTION_TIMEOUT_SECONDS,
    PROVISIONED_THROUGHPUT_POLL_SECONDS,
    STATE_MACHINE_NAME_SUFFIX,
    WORKFLOW_FUNCTIONS,
    substitutions,
)

# Where every run writes both sides' answers (workflow/run.py): the evaluation datasets are made from these.
_RESPONSES_FOLDER = posixpath.dirname(STUDENT_RESPONSES_FILE)
assert posixpath.dirname(TEACHER_RESPONSES_FILE) == _RESPONSES_FOLDER
RESPONSES_PREFIX: Final = f"{OUTPUT_PREFIX}/*/{_RESPONSES_FOLDER}"
# Each run's report folder holds the scorecard and Preflight's report, whose log-scan volume prices the switch.
_REPORT_FOLDER = posixpath.dirname(SCORECARD_FILE)
PREFLIGHT_REPORTS: Final = f"{OUTPUT_PREFIX}/*/{_REPORT_FOLDER}/{PREFLIGHT_REPORT}"


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
        evaluation_role: iam.IRole,
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
            deploy_region=config.region,
            evaluation_role_arn=evaluation_role.role_arn,
            judge_model_id=config.evaluation.judge_model_id,
            judge_metrics=config.evaluation.metrics,
            decision_metric=config.evaluation.decision_metric,
            promote_min_share=config.evaluation.promote_min_share,
            model_prices_usd=config.model_prices_usd,
            default_evaluation_poll_seconds=config.evaluation.poll_seconds,
            # A run may poll its evaluation no more often than the history budget allows for the longest evaluation.
            min_evaluation_poll_seconds=evaluation_poll_floor_seconds(config.evaluation.max_evaluation_hours),
            max_evaluation_seconds=config.evaluation.max_evaluation_hours * 3600,
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
        self._grant_serving(config, key, buckets)
        self._grant_judging(config, key, buckets, evaluation_role)

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
            comment="bedrock-distill: distil, serve on demand or on PT, judge against the teacher, delete what it made",
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

    def _grant_serving(self, config: DistillConfig, key: kms.IKey, buckets: DataBuckets) -> None:
        """The on-demand deployment's functions, the student's and the teacher's answers. Which action is authorized
        on which resource type, with which condition keys: Service Authorization Reference, "Actions, resources,
        and condition keys for Amazon Bedrock"."""
        custom_models = bedrock_arn("custom-model/*")
        deployments = bedrock_arn("custom-model-deployment/*")
        f = {name: function.role for name, function in self.functions.items()}

        # CreateCustomModelDeployment is authorized on the custom model it deploys (custom-model*, with
        # aws:RequestTag and aws:TagKeys): only this project's models, and only with the tags a run sends, the
        # keep-on-success key among them (grants.RUN_TAG_KEYS).
        f["CreateModelDeployment"].add_to_policy(
            iam.PolicyStatement(
                sid="DeployProjectModelsOnDemand",
                actions=["bedrock:CreateCustomModelDeployment"],
                resources=[custom_models],
                conditions=tagging_as_this_project(on_a_resource_of_this_project=True),
            )
        )
        # The reference lists no custom-model-deployment type for it: tagging the deployment it creates is TagResource
        # on the deployment, under the request-tag conditions only (it has no tags before it exists).
        f["CreateModelDeployment"].add_to_policy(
            iam.PolicyStatement(
                sid="TagNewModelDeployments",
                actions=["bedrock:TagResource"],
                resources=[deployments],
                conditions=tagging_as_this_project(),
            )
        )
        f["ModelDeploymentStatus"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadModelDeployments", actions=["bedrock:GetCustomModelDeployment"], resources=[deployments]
            )
        )
        f["DeleteModelDeployment"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadModelDeployments", actions=["bedrock:GetCustomModelDeployment"], resources=[deployments]
            )
        )
        f["DeleteModelDeployment"].add_to_policy(
            iam.PolicyStatement(
                sid="DeleteProjectModelDeployments",
                actions=["bedrock:DeleteCustomModelDeployment"],
                resources=[deployments],
                conditions=tagged_by_this_project(),
            )
        )
        # Converse on a deployment ARN is InvokeModel on custom-model-deployment* (beside the PT's statement).
        f["ValidateModel"].add_to_policy(
            iam.PolicyStatement(
                sid="InvokeProjectModelDeployments",
                actions=["bedrock:InvokeModel"],
                resources=[deployments],
                conditions=tagged_by_this_project(),
            )
        )
        # The teacher answers on demand, invoked as the distillation job invokes it: the allowed teachers only, each
        # profile with its model in every Region it routes to (the distillation role's grant, one way).
        teachers = dict.fromkeys(pair.teacher for pair in config.model_pairs)
        f["AnswerAsTeacher"].add_to_policy(
            iam.PolicyStatement(
                sid="InvokeAllowedTeachersOnly",
                actions=["bedrock:InvokeModel"],
                resources=list(dict.fromkeys(arn for t in teachers for arn in teacher_model_arns(t, config.region))),
            )
        )
        # The held-out prompts, as ValidateModel reads them; the answers go under the run's output prefix.
        read_objects(f["AnswerAsTeacher"], buckets.inputs, INPUT_PREFIX, tell_missing=False)
        read_objects(f["AnswerAsTeacher"], buckets.outputs, OUTPUT_PREFIX, tell_missing=False)
        write_objects(f["AnswerAsTeacher"], buckets.outputs, OUTPUT_PREFIX)
        use_key_through(f["AnswerAsTeacher"], key, "s3")

    def _grant_judging(
        self, config: DistillConfig, key: kms.IKey, buckets: DataBuckets, evaluation_role: iam.IRole
    ) -> None:
        evaluation_jobs = bedrock_arn("evaluation-job/*")
        judge = judge_route(config.evaluation.judge_model_id, config.region).foundation_model_id
        answers = buckets.outputs.arn_for_objects(f"{RESPONSES_PREFIX}/*")
        f = {name: function.role for name, function in self.functions.items()}

        # Both sides' answers in, the judge's datasets out: nothing else of the run.
        f["CreateEvaluationJobs"].add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[answers]))
        f["CreateEvaluationJobs"].add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[buckets.outputs.arn_for_objects(f"{EVALUATION_DATASETS_PREFIX}/*")],
            )
        )
        # CreateEvaluationJob is authorized on the models the job involves (foundation-model*, custom-model*, prompt
        # routers; no evaluation-job or inference-profile type), with aws:RequestTag and aws:TagKeys: precomputed
        # answers involve no model, so only the judge's, here. Tagging the job it creates is TagResource on it.
        f["CreateEvaluationJobs"].add_to_policy(
            iam.PolicyStatement(
                sid="CreateProjectEvaluationJobs",
                actions=["bedrock:CreateEvaluationJob"],
                resources=[f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{judge}"],
                conditions=tagging_as_this_project(),
            )
        )
        # A retried create whose name is taken finds its job by name (GetEvaluationJob takes an ARN only);
        # ListEvaluationJobs supports no resource type.
        f["CreateEvaluationJobs"].add_to_policy(
            iam.PolicyStatement(sid="FindEvaluationJobsByName", actions=["bedrock:ListEvaluationJobs"], resources=["*"])
        )
        f["CreateEvaluationJobs"].add_to_policy(
            iam.PolicyStatement(
                sid="TagNewEvaluationJobs",
                actions=["bedrock:TagResource"],
                resources=[evaluation_jobs],
                conditions=tagging_as_this_project(),
            )
        )
        f["CreateEvaluationJobs"].add_to_policy(
            iam.PolicyStatement(
                sid="PassEvaluationRoleToBedrock",
                actions=["iam:PassRole"],
                resources=[evaluation_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
        f["EvaluationStatus"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadEvaluationJobs", actions=["bedrock:GetEvaluationJob"], resources=[evaluation_jobs]
            )
        )
        # Past maxEvaluationHours the run stops its own jobs (EvaluationTimedOut): only jobs carrying the tag.
        f["EvaluationStatus"].add_to_policy(
            iam.PolicyStatement(
                sid="StopProjectEvaluationJobs",
                actions=["bedrock:StopEvaluationJob"],
                resources=[evaluation_jobs],
                conditions=tagged_by_this_project(),
            )
        )
        # The judge's output (listed: its file names are Bedrock's), both sides' answers and the log scan's volume
        # (Preflight's report) in, the scorecard out.
        read_objects(f["Score"], buckets.outputs, EVALUATION_OUTPUT_PREFIX)
        f["Score"].add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[answers, buckets.outputs.arn_for_objects(PREFLIGHT_REPORTS)]
            )
        )
        f["Score"].add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[buckets.outputs.arn_for_objects(f"{OUTPUT_PREFIX}/*/{SCORECARD_FILE}")],
            )
        )
        for role in (f["CreateEvaluationJobs"], f["Score"]):
            use_key_through(role, key, "s3")
