"""The role Bedrock assumes to run the judge's evaluation jobs over the answers a run stored, and nothing more.

Every grant is one of the user guide's "Required service role permissions for creating a model evaluation job that
uses a judge model" (judge-service-roles.html), narrowed to this project's prefixes and the configured judge. The
trust policy carries the confused-deputy conditions of "Service role requirements for automatic model evaluation
jobs" (automatic-service-roles.html): aws:SourceAccount and aws:SourceArn on this account's evaluation jobs.
"""

from __future__ import annotations

import posixpath
from typing import Final

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from bedrock_distill.workflow.run import (
    EVALUATION_OUTPUT_FOLDER,
    STUDENT_EVALUATION_DATASET_FILE,
    TEACHER_EVALUATION_DATASET_FILE,
)
from stacks.components.distillation_role import invoked_model_arns
from stacks.components.encryption import bedrock_source_conditions
from stacks.config import OUTPUT_PREFIX, DistillConfig, judge_route

_DATASETS_FOLDER = posixpath.dirname(STUDENT_EVALUATION_DATASET_FILE)
assert posixpath.dirname(TEACHER_EVALUATION_DATASET_FILE) == _DATASETS_FOLDER
# Under every run's folder of the output prefix (workflow/run.py): the judge reads the datasets the run wrote and
# writes its results beside them; it cannot read the run's other files (training data, answers, reports).
EVALUATION_DATASETS_PREFIX: Final = f"{OUTPUT_PREFIX}/*/{_DATASETS_FOLDER}"
EVALUATION_OUTPUT_PREFIX: Final = f"{OUTPUT_PREFIX}/*/{EVALUATION_OUTPUT_FOLDER}"
# The page's Bedrock statement; the two batch-inference actions are its own (Bedrock may run the judge's prompts as
# a batch job). Per the Service Authorization Reference they also need a model-invocation-job resource, which the
# page does not grant and neither do we: they reach no further than the judge itself.
JUDGE_ACTIONS: Final = ("bedrock:InvokeModel", "bedrock:CreateModelInvocationJob", "bedrock:StopModelInvocationJob")


class EvaluationServiceRole(Construct):
    """Reads the evaluation datasets, writes the evaluation output, uses the project key through S3 only, and
    invokes only the configured judge (its inference profile and the model in each Region the profile routes to)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DistillConfig, key: kms.IKey, outputs: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Bedrock to run bedrock-distill's LLM-as-a-judge evaluation jobs",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com", conditions=bedrock_source_conditions("evaluation-job/*")
            ),
        )
        # judge-service-roles, "Required Amazon S3 IAM actions": GetObject and ListBucket on the prompt datasets.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadEvaluationDatasets",
                actions=["s3:GetObject"],
                resources=[outputs.arn_for_objects(f"{EVALUATION_DATASETS_PREFIX}/*")],
            )
        )
        # The same page: GetObject, PutObject and AbortMultipartUpload on the output location's objects ...
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteEvaluationOutput",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[outputs.arn_for_objects(f"{EVALUATION_OUTPUT_PREFIX}/*")],
            )
        )
        # ... ListBucket on both, here only under their prefixes (s3:prefix, Service Authorization Reference) ...
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ListEvaluationPrefixes",
                actions=["s3:ListBucket"],
                resources=[outputs.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [
                            EVALUATION_DATASETS_PREFIX,
                            f"{EVALUATION_DATASETS_PREFIX}/*",
                            EVALUATION_OUTPUT_PREFIX,
                            f"{EVALUATION_OUTPUT_PREFIX}/*",
                        ]
                    }
                },
            )
        )
        # ... and GetBucketLocation and ListBucketMultipartUploads on the output bucket, which take no prefix.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="LocateOutputBucket",
                actions=["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                resources=[outputs.bucket_arn],
            )
        )
        # The bucket encrypts with the project key (SSE-KMS): reading needs kms:Decrypt, writing kms:GenerateDataKey
        # (S3 user guide, "Using server-side encryption with AWS KMS keys"), both only through S3.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UseProjectKeyThroughS3",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        # judge-service-roles, "Required Amazon Bedrock IAM actions", on the configured judge only. The answers
        # are the run's own ("bring your own inference responses"): Bedrock invokes no generator model.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTheJudgeOnly",
                actions=list(JUDGE_ACTIONS),
                resources=invoked_model_arns(judge_route(config.evaluation.judge_model_id, config.region)),
            )
        )
