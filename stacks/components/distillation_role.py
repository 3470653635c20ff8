from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from bedrock_distill.catalog import parse_model_id
from stacks.components.encryption import bedrock_source_conditions
from stacks.config import INPUT_PREFIX, OUTPUT_PREFIX, DistillConfig


class DistillationServiceRole(Construct):
    """The role Bedrock assumes to run a distillation job, and nothing more.

    It reads prompt datasets and invocation logs, writes job outputs, uses the project key through S3
    only, and invokes only the configured teacher.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DistillConfig,
        key: kms.IKey,
        inputs: s3.IBucket,
        invocation_logs: s3.IBucket,
        invocation_log_prefix: str,
        outputs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Bedrock to run bedrock-distill model distillation jobs",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions=bedrock_source_conditions("model-customization-job/*"),
            ),
        )
        self.role.add_to_policy(_read_prefix("ReadPromptDatasets", inputs, INPUT_PREFIX))
        self.role.add_to_policy(_list_prefix("ListPromptDatasets", inputs, INPUT_PREFIX))
        self.role.add_to_policy(_read_prefix("ReadInvocationLogs", invocation_logs, invocation_log_prefix))
        self.role.add_to_policy(_list_prefix("ListInvocationLogs", invocation_logs, invocation_log_prefix))
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteJobOutputs",
                actions=["s3:PutObject"],
                resources=[outputs.arn_for_objects(f"{OUTPUT_PREFIX}/*")],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UseProjectKeyThroughS3",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTeacherOnly",
                actions=["bedrock:InvokeModel"],
                resources=teacher_model_arns(config.teacher_model_id),
            )
        )


def teacher_model_arns(teacher_model_id: str) -> list[str]:
    """The ARNs that invoking the teacher touches.

    A foundation model is invoked in this Region. A cross-Region inference profile is invoked by its
    profile ARN and routes to the same foundation model in the Regions of its geography, which IAM
    checks too, so the model ARN takes any Region.
    """
    model = parse_model_id(teacher_model_id)
    foundation_model_region = "*" if model.is_inference_profile else Aws.REGION
    arns = [f"arn:{Aws.PARTITION}:bedrock:{foundation_model_region}::foundation-model/{model.base_model_id}"]
    if model.is_inference_profile:
        arns.append(f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:inference-profile/{model.model_id}")
    return arns


def _read_prefix(sid: str, bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}/*")])


def _list_prefix(sid: str, bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
    )
