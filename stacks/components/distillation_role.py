from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from bedrock_distill.catalog import TeacherRoute, teacher_route
from stacks.components.encryption import bedrock_source_conditions
from stacks.config import INPUT_PREFIX, OUTPUT_PREFIX, DistillConfig


class DistillationServiceRole(Construct):
    """The role Bedrock assumes to run a distillation job, and nothing more.

    It reads prompt datasets and invocation logs, reads, writes and lists job outputs, uses the project key
    through S3 only, and invokes only the teachers of the deployment's allowed model pairs.
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
        # The output location's grants of AWS's documented service-role policy (User Guide: "Create a service role
        # for model customization"): GetObject, PutObject and ListBucket, here scoped to the output prefix.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWriteJobOutputs",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[outputs.arn_for_objects(f"{OUTPUT_PREFIX}/*")],
            )
        )
        self.role.add_to_policy(_list_prefix("ListJobOutputs", outputs, OUTPUT_PREFIX))
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UseProjectKeyThroughS3",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        teachers = dict.fromkeys(pair.teacher for pair in config.model_pairs)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeAllowedTeachersOnly",
                actions=["bedrock:InvokeModel"],
                resources=list(dict.fromkeys(arn for t in teachers for arn in teacher_model_arns(t, config.region))),
            )
        )


def teacher_model_arns(teacher_model_id: str, region: str) -> list[str]:
    """The ARNs that invoking the teacher from `region` touches, each of which IAM checks."""
    return invoked_model_arns(teacher_route(teacher_model_id, region))


def invoked_model_arns(route: TeacherRoute) -> list[str]:
    """The ARNs that invoking a model by `route` touches, each of which IAM checks (the teacher's, the judge's).

    A foundation model is invoked in this Region. A cross-Region inference profile is invoked by its profile
    ARN here and routes to the foundation model in each of its destination Regions (bedrock_distill/catalog.json,
    from the user guide's "Supported Regions and models for inference profiles"), so each is named, not `*`.
    """
    if route.inference_profile_id is None:
        return [f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{route.foundation_model_id}"]
    return [
        f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:inference-profile/{route.inference_profile_id}",
        *(f"arn:{Aws.PARTITION}:bedrock:{r}::foundation-model/{route.foundation_model_id}" for r in route.regions),
    ]


def _read_prefix(sid: str, bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}/*")])


def _list_prefix(sid: str, bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
    )
