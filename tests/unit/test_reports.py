"""The run's metrics report: the full curve in S3, a summary in the state."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.workflow.metrics import TRAINING_METRICS, VALIDATION_METRICS, job_output_prefix
from bedrock_distill.workflow.reports import METRICS_REPORT, record_job_metrics
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, Run, plan_run
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

JOB = "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/abc123"


@pytest.fixture
def run() -> Iterator[Run]:
    with mock_aws():
        client = boto3.client("s3")
        region = client.meta.region_name
        client.create_bucket(Bucket="outputs", CreateBucketConfiguration={"LocationConstraint": region})
        execution = ExecutionContext(id="arn:aws:states:us-west-2:123456789012:execution:d:run-1", name="run-1")
        requested = ExecutionInput.model_validate({"trainingData": {"prompts": "s3://inputs/p.jsonl"}})
        yield plan_run(requested, execution, pipeline_settings())


def _put(key: str, body: str) -> None:
    boto3.client("s3").put_object(Bucket="outputs", Key=key, Body=body.encode())


def test_the_job_metrics_go_to_the_report_and_their_summary_to_the_state(run: Run) -> None:
    # Given a job that wrote three training steps and two validation losses
    prefix = job_output_prefix(run.output_s3_uri, JOB)
    _put(
        prefix.child(TRAINING_METRICS).key,
        "step_number,epoch_number,training_loss\n1,0,2.5\n2,0,1.5\n3,1,0.75\n",
    )
    _put(prefix.child(VALIDATION_METRICS).key, "step_number,validation_loss\n2,1.9\n3,1.25\n")
    # When the metrics are recorded
    summary = record_job_metrics(run, JOB, S3Gateway())
    # Then the state gets the counts, the last losses and where the report is
    assert (summary.training_steps, summary.final_training_loss, summary.validation_loss) == (3, 0.75, 1.25)
    assert summary.report_uri == f"{run.report_s3_uri}{METRICS_REPORT}"
    # And the report holds the whole curve
    key = summary.report_uri.removeprefix("s3://outputs/")
    report = json.loads(boto3.client("s3").get_object(Bucket="outputs", Key=key)["Body"].read())
    assert [step["training_loss"] for step in report["training_steps"]] == [2.5, 1.5, 0.75]


def test_a_job_without_metric_files_reports_no_losses(run: Run) -> None:
    # Given a job that wrote no metric CSVs
    # When the metrics are recorded
    summary = record_job_metrics(run, JOB, S3Gateway())
    # Then there are no steps and no losses, and the (empty) report is still written
    assert (summary.training_steps, summary.final_training_loss, summary.validation_loss) == (0, None, None)
