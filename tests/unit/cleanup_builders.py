"""What the cleanup tests share: resources for the cleanup to find, in the Bedrock emulator (inside moto) — a custom
model Bedrock deploys on demand, deployments of it, running evaluation jobs, each with the tags given — and the
metrics a function printed."""

from __future__ import annotations

import json
from typing import Any

import boto3

from bedrock_distill.workflow.run import EXECUTION_TAG_KEY, PROJECT_TAG_KEY, PROJECT_TAG_VALUE
from offline.bedrock_emulator import BedrockEmulator

# Deployable on demand in us-west-2, the tests' Region (user guide, "Deploy a custom model for on-demand
# inference"), and a student of this teacher there (user guide, "Choose teacher and student models").
ON_DEMAND_STUDENT = "meta.llama3-3-70b-instruct-v1:0:128k"
ON_DEMAND_TEACHER = "meta.llama3-1-405b-instruct-v1:0"
_BUCKET = "cleanup-data"
_RECORD = '{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}'


def run_tags(execution_arn: str) -> dict[str, str]:
    """The tags every run puts on what it creates (Run.tags)."""
    return {PROJECT_TAG_KEY: PROJECT_TAG_VALUE, EXECUTION_TAG_KEY: execution_arn}


def _bucket() -> Any:
    s3 = boto3.client("s3")
    if _BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=_BUCKET, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    return s3


def distilled_on_demand_model(emulator: BedrockEmulator) -> str:
    """The ARN of a Llama 3.3 70B student distilled now (the emulator's clock moves past the job)."""
    _bucket().put_object(Bucket=_BUCKET, Key="prompts.jsonl", Body=("\n".join([_RECORD] * 120)).encode())
    bedrock = boto3.client("bedrock")
    job_arn = bedrock.create_model_customization_job(
        jobName="job-on-demand",
        customModelName="on-demand-student",
        roleArn="arn:aws:iam::123456789012:role/distillation",
        baseModelIdentifier=ON_DEMAND_STUDENT,
        customizationType="DISTILLATION",
        trainingDataConfig={"s3Uri": f"s3://{_BUCKET}/prompts.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{_BUCKET}/out/"},
        customizationConfig={
            "distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": ON_DEMAND_TEACHER}}
        },
    )["jobArn"]
    emulator.advance(24 * 3600)
    return str(bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"])


def deployment(custom_model: str, name: str, tags: dict[str, str]) -> str:
    response: dict[str, Any] = boto3.client("bedrock").create_custom_model_deployment(
        modelDeploymentName=name,
        modelArn=custom_model,
        tags=[{"key": key, "value": value} for key, value in tags.items()],
    )
    return str(response["customModelDeploymentArn"])


def live_deployments(emulator: BedrockEmulator) -> set[str]:
    return {live.arn for live in emulator.live_model_deployments()}


def evaluation_job(name: str, tags: dict[str, str]) -> str:
    """A judge job over precomputed responses, InProgress until the emulator's evaluation time passes."""
    line = '{"prompt": "hi", "modelResponses": [{"response": "hello", "modelIdentifier": "student"}]}'
    _bucket().put_object(Bucket=_BUCKET, Key=f"evaluation/{name}.jsonl", Body=line.encode())
    dataset = {"name": name, "datasetLocation": {"s3Uri": f"s3://{_BUCKET}/evaluation/{name}.jsonl"}}
    response: dict[str, Any] = boto3.client("bedrock").create_evaluation_job(
        jobName=name,
        roleArn="arn:aws:iam::123456789012:role/evaluation",
        applicationType="ModelEvaluation",
        evaluationConfig={
            "automated": {
                "datasetMetricConfigs": [
                    {"taskType": "General", "dataset": dataset, "metricNames": ["Builtin.Correctness"]}
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": "amazon.nova-pro-v1:0"}]},
            }
        },
        inferenceConfig={"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "student"}}]},
        outputDataConfig={"s3Uri": f"s3://{_BUCKET}/evaluation/output/"},
        jobTags=[{"key": key, "value": value} for key, value in tags.items()],
    )
    return str(response["jobArn"])


def printed_metrics(printed: str) -> dict[str, float]:
    """The metrics Powertools printed to stdout (CloudWatch embedded metric format), by name."""
    values: dict[str, float] = {}
    for line in printed.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values[metric["Name"]] = sum(value) if isinstance(value, list) else float(value)
    return values
