from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from bedrock_distill import project
from bedrock_distill.workflow.settings import UPLOAD_TRIGGER_PREFIX
from stacks.components.buckets import DataBuckets
from stacks.components.distillation_role import DistillationServiceRole
from stacks.components.encryption import EncryptionKey
from stacks.components.evaluation_role import EvaluationServiceRole
from stacks.components.event_triggers import EventTriggers
from stacks.components.invocation_logging import InvocationLogging
from stacks.components.monitoring import PipelineMonitoring
from stacks.components.pipeline import DistillationPipeline
from stacks.components.project_function import LambdaPackaging
from stacks.config import INPUT_PREFIX, OUTPUT_PREFIX, DistillConfig


class DistillStack(Stack):
    """bedrock-distill: one construct per capability, composed."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DistillConfig, env: Environment) -> None:
        super().__init__(
            scope, construct_id, description="bedrock-distill: Amazon Bedrock Model Distillation as code", env=env
        )
        encryption = EncryptionKey(self, "Encryption")
        encryption.allow_bedrock_log_delivery()
        buckets = DataBuckets(self, "Buckets", config=config, key=encryption.key)
        service_role = DistillationServiceRole(
            self,
            "DistillationServiceRole",
            config=config,
            key=encryption.key,
            inputs=buckets.inputs,
            invocation_logs=buckets.invocation_logs,
            invocation_log_prefix=config.invocation_log_prefix,
            outputs=buckets.outputs,
        )
        evaluation_role = EvaluationServiceRole(
            self, "EvaluationServiceRole", config=config, key=encryption.key, outputs=buckets.outputs
        )
        packaging = LambdaPackaging(self, "Packaging")
        invocation_logging = InvocationLogging(
            self, "InvocationLogging", config=config, buckets=buckets, key=encryption.key, packaging=packaging
        )
        pipeline = DistillationPipeline(
            self,
            "Pipeline",
            config=config,
            key=encryption.key,
            buckets=buckets,
            distillation_role=service_role.role,
            evaluation_role=evaluation_role.role,
            packaging=packaging,
        )
        triggers = EventTriggers(
            self,
            "Triggers",
            config=config,
            key=encryption.key,
            buckets=buckets,
            pipeline=pipeline,
            packaging=packaging,
        )
        # Every function but CDK's custom-resource framework relay, whose failures fail the deployment itself.
        monitoring = PipelineMonitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=pipeline.state_machine,
            functions={
                **{name: function.function for name, function in pipeline.functions.items()},
                **{name: function.function for name, function in triggers.functions.items()},
                "InvocationLogging": invocation_logging.handler.function,
            },
            topic=pipeline.topic,
            key=encryption.key,
            dead_letter_queues=triggers.dead_letter_queues,
        )

        CfnOutput(self, "InvocationLogBucketName", value=buckets.invocation_logs.bucket_name)
        CfnOutput(
            self,
            project.INVOCATION_LOG_SOURCE_OUTPUT,
            value=f"s3://{buckets.invocation_logs.bucket_name}/{config.invocation_log_prefix}/AWSLogs",
        )
        CfnOutput(self, project.INPUT_LOCATION_OUTPUT, value=f"s3://{buckets.inputs.bucket_name}/{INPUT_PREFIX}/")
        CfnOutput(
            self, project.UPLOAD_LOCATION_OUTPUT, value=f"s3://{buckets.inputs.bucket_name}/{UPLOAD_TRIGGER_PREFIX}/"
        )
        CfnOutput(self, project.OUTPUT_LOCATION_OUTPUT, value=f"s3://{buckets.outputs.bucket_name}/{OUTPUT_PREFIX}/")
        CfnOutput(self, project.DISTILLATION_SERVICE_ROLE_ARN_OUTPUT, value=service_role.role.role_arn)
        CfnOutput(self, project.STATE_MACHINE_ARN_OUTPUT, value=pipeline.state_machine.state_machine_arn)
        CfnOutput(self, project.OUTCOME_TOPIC_ARN_OUTPUT, value=pipeline.topic.topic_arn)
        CfnOutput(self, project.TEACHER_MODEL_ID_OUTPUT, value=config.teacher_model_id)
        CfnOutput(self, project.STUDENT_MODEL_ID_OUTPUT, value=config.student_model_id)
        CfnOutput(self, "DashboardUrl", value=monitoring.dashboard_url)
