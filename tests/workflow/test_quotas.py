"""Bedrock's account quotas, as a new account has them: the run fails at the call Bedrock refuses, names the
quota as Service Quotas does and what to do, and leaves nothing billing."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from bedrock_distill.workflow.quotas import CUSTOMIZATION_JOBS, NO_COMMITMENT_MODEL_UNITS
from offline.bedrock_emulator import BedrockEmulator
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import (
    conversation_record,
    entered_states,
    offline_bedrock,
    prompts_input,
    published_outcomes,
    run_to_end,
    upload_prompts,
)

pytestmark = pytest.mark.workflow


@pytest.fixture
def emulator() -> Iterator[BedrockEmulator]:
    # A new account's 0 no-commitment model units (the emulator's default), and one customization job at a time.
    with offline_bedrock(customization_jobs=1) as bedrock:
        yield bedrock


def test_a_new_account_fails_the_run_at_the_pt_naming_the_model_unit_quota(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given an account with no no-commitment model units
    # When a run distils a model and tries to buy its PT
    result = run_to_end(pipeline, prompts_input(pipeline), "no-model-units")
    # Then it fails at CreateProvisionedThroughput with the quota named and what to do
    assert result["status"] == "FAILED"
    assert result["error"] == "ProvisionedThroughputQuotaExceeded"
    assert f"'{NO_COMMITMENT_MODEL_UNITS.name}'" in result["cause"]
    assert "Request an increase" in result["cause"]
    states = entered_states(pipeline, result["executionArn"])
    assert "CreateProvisionedThroughput" in states
    # And nothing was bought, yet the failure path still looked for the PT by name (the fixture checks none is left)
    assert emulator.provisioned_throughputs == {}
    assert "DeleteProvisionedThroughputAfterFailure" in states
    # And the person is told the same, with the distilled model kept
    (outcome,) = published_outcomes(outcomes)
    assert outcome["error"] == "ProvisionedThroughputQuotaExceeded"
    assert NO_COMMITMENT_MODEL_UNITS.name in outcome["next_step"]
    assert next(iter(emulator.custom_models)) in outcome["cause"]


def test_a_run_past_the_customization_jobs_quota_fails_at_create_job_and_buys_nothing(
    pipeline: LocalPipeline, emulator: BedrockEmulator, outcomes: str
) -> None:
    # Given the account's only customization-job slot taken by someone else's job
    assert pipeline.settings is not None
    data = upload_prompts(pipeline.names.input_bucket, "elsewhere/prompts.jsonl", [conversation_record(1)])
    boto3.client("bedrock").create_model_customization_job(
        jobName="another-teams-job",
        customModelName="another-teams-model",
        roleArn=pipeline.settings.service_role_arn,
        baseModelIdentifier=pipeline.settings.default_student_model_id,
        customizationType="DISTILLATION",
        trainingDataConfig={"s3Uri": data},
        outputDataConfig={"s3Uri": f"s3://{pipeline.names.output_bucket}/elsewhere/"},
        customizationConfig={
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": pipeline.settings.default_teacher_model_id,
                    "maxResponseLengthForInference": 1000,
                }
            }
        },
    )
    # When a run starts
    result = run_to_end(pipeline, prompts_input(pipeline), "no-job-slot")
    # Then it fails at CreateJob, naming the quota and what to do, with no job of its own and nothing bought
    assert result["status"] == "FAILED"
    assert result["error"] == "CustomizationJobQuotaExceeded"
    assert f"'{CUSTOMIZATION_JOBS.name}'" in result["cause"]
    assert list(emulator.jobs) == ["another-teams-job"]
    assert emulator.call_count("CreateProvisionedModelThroughput") == 0
    (outcome,) = published_outcomes(outcomes)
    assert outcome["error"] == "CustomizationJobQuotaExceeded"
    assert CUSTOMIZATION_JOBS.name in outcome["next_step"]
