"""The emulator as a workflow test uses it: production-style clients, polling, and a teardown check."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from offline.bedrock_emulator import bedrock_emulator
from tests.unit.emulator.builders import BUCKET, REGION, distillation_request, upload_prompts

pytestmark = pytest.mark.unit


def _wait(read: Any, done: set[str]) -> str:
    status: str = read()
    while status not in done:
        status = read()
    return status


def test_a_polling_pipeline_runs_a_seven_day_job_and_tears_down_its_provisioned_throughput(s3: Any) -> None:
    # Given an emulator where each status read is ten logical minutes, jobs take a week, and one
    # no-commitment model unit may be bought
    with bedrock_emulator(
        job_seconds=7 * 24 * 3600, seconds_per_status_read=600, no_commitment_model_units=1
    ) as emulator:
        # When code under test creates its clients as production does and runs the whole pipeline
        bedrock = boto3.client("bedrock", region_name=REGION)
        runtime = boto3.client("bedrock-runtime", region_name=REGION)
        job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 150)}))[
            "jobArn"
        ]
        job_status = _wait(
            lambda: bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"],
            {"Completed", "Failed", "Stopped"},
        )
        model_arn = bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
        pt_arn = bedrock.create_provisioned_model_throughput(
            modelUnits=1,
            provisionedModelName="pt-exec-1",
            modelId=model_arn,
            tags=[{"key": "bedrock-distill:execution", "value": "exec-1"}],
        )["provisionedModelArn"]
        pt_status = _wait(
            lambda: bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["status"],
            {"InService", "Failed"},
        )
        answer = runtime.converse(modelId=pt_arn, messages=[{"role": "user", "content": [{"text": "Summarise"}]}])
        bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
        # Then the week passed in logical time, the model answered, and nothing is left billing
        assert (job_status, pt_status) == ("Completed", "InService")
        assert emulator.clock.elapsed_seconds >= 7 * 24 * 3600
        assert answer["output"]["message"]["content"][0]["text"]
        assert emulator.live_provisioned_throughputs() == []
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix="output/model-customization-job-")["KeyCount"] == 2
