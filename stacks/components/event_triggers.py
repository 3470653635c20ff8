from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bedrock_distill.workflow.settings import UPLOAD_TRIGGER_PREFIX
from stacks.components.buckets import DataBuckets
from stacks.components.grants import (
    bedrock_arn,
    publish_to,
    read_objects,
    tagged_by_this_project,
    use_key_through_dynamodb,
)
from stacks.components.pipeline import DistillationPipeline
from stacks.components.project_function import LambdaPackaging, ProjectFunction
from stacks.components.tables import short_lived_table
from stacks.config import DistillConfig
from stacks.pipeline_spec import (
    EVENT_FUNCTIONS,
    EVENT_MAX_AGE_SECONDS,
    EVENT_RETRY_ATTEMPTS,
    SWEEP_SCHEDULE,
    execution_end_pattern,
    job_end_pattern,
    upload_pattern,
)

DEAD_LETTER_RETENTION = Duration.days(14)


def _pattern(document: dict[str, object]) -> events.EventPattern:
    return events.EventPattern(
        source=document["source"],  # type: ignore[arg-type]
        detail_type=document["detail-type"],  # type: ignore[arg-type]
        detail=document.get("detail"),  # type: ignore[arg-type]
    )


class EventTriggers(Construct):
    """What runs the pipeline from outside: uploads start executions, job events release them, and the
    execution-end rule and the sweeper delete what an execution left behind. Each function has a dead-letter
    queue for the events it could not handle after EventBridge's and Lambda's retries."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DistillConfig,
        key: kms.IKey,
        buckets: DataBuckets,
        pipeline: DistillationPipeline,
        packaging: LambdaPackaging,
    ) -> None:
        super().__init__(scope, construct_id)
        # Powertools idempotency records: a redelivered execution-end event is answered, not handled again.
        self.idempotency = short_lived_table(
            self, "Idempotency", key=key, partition_key="id", time_to_live_attribute="expiration"
        )
        environment = pipeline.settings.model_copy(
            update={"idempotency_table": self.idempotency.table_name}
        ).to_environment()
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.functions: dict[str, ProjectFunction] = {}
        for name, spec in EVENT_FUNCTIONS.items():
            # SQS-managed encryption: EventBridge and Lambda can write to it without a grant on our key.
            queue = sqs.Queue(
                self,
                f"{name}DeadLetters",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=DEAD_LETTER_RETENTION,
            )
            self.dead_letter_queues[name] = queue
            self.functions[name] = ProjectFunction(
                self,
                name,
                handler=spec.handler,
                description=spec.description,
                packaging=packaging,
                config=config,
                key=key,
                environment=environment,
                timeout=Duration.seconds(spec.timeout_seconds),
                memory_mb=spec.memory_mb,
                dead_letter_queue=queue,
            )
        if config.upload_function_reserved_concurrency:
            # Reserved for uploads (a burst of them cannot starve the other functions) and capped by it; Lambda
            # refuses a reservation that leaves the account under 100 unreserved (README, deploy-time limits).
            upload_function = self.functions["StartFromUpload"].function.node.default_child
            assert isinstance(upload_function, lambda_.CfnFunction)
            upload_function.reserved_concurrent_executions = config.upload_function_reserved_concurrency
        self._rules(buckets, pipeline)
        self._grant(key, buckets, pipeline)

    def _target(self, name: str) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            self.functions[name].function,
            dead_letter_queue=self.dead_letter_queues[name],
            retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=Duration.seconds(EVENT_MAX_AGE_SECONDS),
        )

    def _rules(self, buckets: DataBuckets, pipeline: DistillationPipeline) -> None:
        events.Rule(
            self,
            "Uploads",
            description=f"A dataset uploaded under {UPLOAD_TRIGGER_PREFIX}/ starts a run",
            event_pattern=_pattern(upload_pattern(buckets.inputs.bucket_name)),
            targets=[self._target("StartFromUpload")],
        )
        events.Rule(
            self,
            "JobEvents",
            description="A distillation job ended: release the execution waiting on it",
            event_pattern=_pattern(job_end_pattern()),
            targets=[self._target("RelayJobEvent")],
        )
        events.Rule(
            self,
            "ExecutionEnds",
            description="An execution failed, timed out or was aborted: delete its PTs and deployments, stop its jobs",
            event_pattern=_pattern(execution_end_pattern(pipeline.state_machine.state_machine_arn)),
            targets=[self._target("CleanUpExecution")],
        )
        events.Rule(
            self,
            "Sweep",
            description="Delete this project's PTs and deployments left by ended executions or past their lifetime",
            schedule=events.Schedule.expression(SWEEP_SCHEDULE),
            targets=[self._target("SweepProvisionedThroughputs")],
        )

    def _grant(self, key: kms.IKey, buckets: DataBuckets, pipeline: DistillationPipeline) -> None:
        f = {name: function.role for name, function in self.functions.items()}
        jobs = bedrock_arn("model-customization-job/*")
        provisioned_models = bedrock_arn("provisioned-model/*")
        deployments = bedrock_arn("custom-model-deployment/*")
        evaluation_jobs = bedrock_arn("evaluation-job/*")

        read_objects(f["StartFromUpload"], buckets.inputs, UPLOAD_TRIGGER_PREFIX)
        f["StartFromUpload"].add_to_policy(
            iam.PolicyStatement(
                sid="StartRuns", actions=["states:StartExecution"], resources=[pipeline.state_machine_arn]
            )
        )

        f["RelayJobEvent"].add_to_policy(
            iam.PolicyStatement(
                sid="TakeTaskTokens", actions=["dynamodb:DeleteItem"], resources=[pipeline.job_waiters.table_arn]
            )
        )
        use_key_through_dynamodb(f["RelayJobEvent"], key)
        f["RelayJobEvent"].add_to_policy(
            iam.PolicyStatement(
                sid="ReleaseWaitingTask", actions=["states:SendTaskSuccess"], resources=[pipeline.state_machine_arn]
            )
        )

        for name in ("CleanUpExecution", "SweepProvisionedThroughputs"):
            role = f[name]
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ListProvisionedThroughputs",
                    actions=["bedrock:ListProvisionedModelThroughputs"],
                    resources=["*"],
                )
            )
            # The code reads a PT's tags to decide whether it is the project's: those reads stay unconditioned,
            # the delete holds only on a PT that carries the project's tag, whatever the code decided.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadProvisionedThroughputTags",
                    actions=["bedrock:ListTagsForResource", "bedrock:GetProvisionedModelThroughput"],
                    resources=[provisioned_models],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="DeleteProjectProvisionedThroughputs",
                    actions=["bedrock:DeleteProvisionedModelThroughput"],
                    resources=[provisioned_models],
                    conditions=tagged_by_this_project(),
                )
            )
            # Custom model deployments as PTs: listed (ListCustomModelDeployments supports no resource type), their
            # tags and status read unconditioned, deleted only when they carry the project's tag.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ListModelDeployments", actions=["bedrock:ListCustomModelDeployments"], resources=["*"]
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadModelDeploymentTags",
                    actions=["bedrock:ListTagsForResource", "bedrock:GetCustomModelDeployment"],
                    resources=[deployments],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="DeleteProjectModelDeployments",
                    actions=["bedrock:DeleteCustomModelDeployment"],
                    resources=[deployments],
                    conditions=tagged_by_this_project(),
                )
            )
            publish_to(role, pipeline.topic.topic_arn, key)
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(sid="ListJobs", actions=["bedrock:ListModelCustomizationJobs"], resources=["*"])
        )
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(sid="ReadJobTags", actions=["bedrock:ListTagsForResource"], resources=[jobs])
        )
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(
                sid="StopProjectJobs",
                actions=["bedrock:StopModelCustomizationJob"],
                resources=[jobs],
                conditions=tagged_by_this_project(),
            )
        )
        # The execution's running evaluation jobs are stopped as its customization job is: found by tag, stopped only
        # when they carry the project's tag.
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(sid="ListEvaluationJobs", actions=["bedrock:ListEvaluationJobs"], resources=["*"])
        )
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadEvaluationJobTags", actions=["bedrock:ListTagsForResource"], resources=[evaluation_jobs]
            )
        )
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(
                sid="StopProjectEvaluationJobs",
                actions=["bedrock:StopEvaluationJob"],
                resources=[evaluation_jobs],
                conditions=tagged_by_this_project(),
            )
        )
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(
                sid="RecordHandledEvents",
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[self.idempotency.table_arn],
            )
        )
        use_key_through_dynamodb(f["CleanUpExecution"], key)
        f["CleanUpExecution"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadExecutionHistory", actions=["states:GetExecutionHistory"], resources=[pipeline.executions_arn]
            )
        )
        f["SweepProvisionedThroughputs"].add_to_policy(
            iam.PolicyStatement(
                sid="ReadExecutionStatus", actions=["states:DescribeExecution"], resources=[pipeline.executions_arn]
            )
        )
