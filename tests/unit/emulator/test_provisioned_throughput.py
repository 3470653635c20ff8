"""Provisioned Throughput: lifecycle on the logical clock, commitments, and the faults that hurt most."""

from __future__ import annotations

from typing import Any

import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.bedrock_emulator.quotas import NO_COMMITMENT_UNITS_QUOTA
from tests.unit.emulator.builders import (
    JOB_SECONDS,
    PROVISIONING_SECONDS,
    client,
    distillation_request,
    upload_prompts,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def custom_model_arn(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> str:
    job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 10)}))[
        "jobArn"
    ]
    emulator.clock.advance(JOB_SECONDS)
    arn: str = bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
    return arn


def _create(bedrock: Any, model_id: str, name: str = "pt-exec-1", **extra: Any) -> str:
    arn: str = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName=name, modelId=model_id, **extra
    )["provisionedModelArn"]
    return arn


def test_a_provisioned_throughput_goes_creating_then_in_service_and_is_deleted(
    bedrock: Any, emulator: BedrockEmulator, custom_model_arn: str
) -> None:
    # Given a PT on the distilled model
    pt_arn = _create(bedrock, custom_model_arn, tags=[{"key": "execution", "value": "exec-1"}])
    described = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert described["status"] == "Creating"
    assert described["modelArn"] == custom_model_arn
    assert described["foundationModelArn"].endswith("foundation-model/amazon.nova-lite-v1:0:300k")
    # When the provisioning delay passes, Then it is InService
    emulator.clock.advance(PROVISIONING_SECONDS)
    assert bedrock.get_provisioned_model_throughput(provisionedModelId="pt-exec-1")["status"] == "InService"
    assert bedrock.list_tags_for_resource(resourceARN=pt_arn)["tags"] == [{"key": "execution", "value": "exec-1"}]
    # And once deleted it is gone
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert emulator.live_provisioned_throughputs() == []
    assert emulator.provisioned_throughputs[pt_arn].deleted
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.list_tags_for_resource(resourceARN=pt_arn)


def test_an_unknown_custom_model_is_not_found(bedrock: Any) -> None:
    missing = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abcdefabcdef"
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        _create(bedrock, missing)


def test_the_same_token_returns_the_same_provisioned_throughput(bedrock: Any, emulator: BedrockEmulator) -> None:
    first = _create(bedrock, "amazon.nova-lite-v1:0", clientRequestToken="exec-1-pt")
    second = _create(bedrock, "amazon.nova-lite-v1:0", clientRequestToken="exec-1-pt")
    assert first == second
    assert len(emulator.live_provisioned_throughputs()) == 1


def test_a_live_name_cannot_be_reused(bedrock: Any) -> None:
    _create(bedrock, "amazon.nova-lite-v1:0")
    with pytest.raises(bedrock.exceptions.ValidationException):
        _create(bedrock, "amazon.nova-lite-v1:0")


def test_an_injected_failure_leaves_a_failed_provisioned_throughput_to_delete(
    bedrock: Any, emulator: BedrockEmulator
) -> None:
    emulator.faults.fail_provisioned_throughput(message="Insufficient capacity for model units")
    pt_arn = _create(bedrock, "amazon.nova-lite-v1:0")
    emulator.clock.advance(PROVISIONING_SECONDS)
    described = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert described["status"] == "Failed"
    assert described["failureMessage"] == "Insufficient capacity for model units"
    assert [pt.arn for pt in emulator.live_provisioned_throughputs()] == [pt_arn]
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert emulator.live_provisioned_throughputs() == []


def test_a_new_account_cannot_buy_no_commitment_throughput_on_a_custom_model(s3: Any) -> None:
    # Given an account with the default quota (0 no-commitment model units) and a distilled model
    with BedrockEmulator(job_seconds=JOB_SECONDS) as fresh:
        bedrock = client("bedrock")
        job_arn = bedrock.create_model_customization_job(**distillation_request({"s3Uri": upload_prompts(s3, 10)}))[
            "jobArn"
        ]
        fresh.clock.advance(JOB_SECONDS)
        model_arn = bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
        # When it buys one model unit without commitment
        with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException) as raised:
            _create(bedrock, model_arn)
        # Then Bedrock refuses, naming the quota as Service Quotas does and what to do, and nothing exists
        message = raised.value.response["Error"]["Message"]
        assert f"'{NO_COMMITMENT_UNITS_QUOTA}' (0)" in message
        assert "Request an increase" in message
        assert fresh.live_provisioned_throughputs() == []


def test_no_commitment_units_are_counted_across_custom_models_until_deleted(
    bedrock: Any, emulator: BedrockEmulator, custom_model_arn: str
) -> None:
    # Given a quota of one unit (the fixture's), taken by a PT on the distilled model
    first = _create(bedrock, custom_model_arn, name="pt-1")
    # When a second unit is asked for, Then it is refused: 1 in use + 1 > 1
    with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException) as raised:
        _create(bedrock, custom_model_arn, name="pt-2")
    assert "1 already in use" in raised.value.response["Error"]["Message"]
    # And PTs on base models or with a commitment draw on other quotas, not this one
    _create(bedrock, "amazon.nova-lite-v1:0", name="pt-base")
    _create(bedrock, custom_model_arn, name="pt-committed", commitmentDuration="OneMonth")
    # And once the first is deleted (Creating still holds its unit until then), the unit is free again
    bedrock.delete_provisioned_model_throughput(provisionedModelId=first)
    _create(bedrock, custom_model_arn, name="pt-2")
    assert sorted(pt.name for pt in emulator.live_provisioned_throughputs()) == ["pt-2", "pt-base", "pt-committed"]


def test_a_refused_deletion_singles_out_one_pt_by_name(bedrock: Any, emulator: BedrockEmulator) -> None:
    # Given two PTs, and the first one's deletion refused twice (still being created)
    first = _create(bedrock, "amazon.nova-lite-v1:0", name="pt-a")
    second = _create(bedrock, "amazon.nova-lite-v1:0", name="pt-b")
    emulator.faults.conflict_on_delete("pt-a", times=2)
    # When both are deleted, Then the second goes and the first conflicts, twice, by ARN or name
    bedrock.delete_provisioned_model_throughput(provisionedModelId=second)
    for identifier in (first, "pt-a"):
        with pytest.raises(bedrock.exceptions.ConflictException):
            bedrock.delete_provisioned_model_throughput(provisionedModelId=identifier)
    assert [pt.arn for pt in emulator.live_provisioned_throughputs()] == [first]
    # And the third attempt succeeds; a missing PT is still not found rather than in conflict
    bedrock.delete_provisioned_model_throughput(provisionedModelId=first)
    assert emulator.live_provisioned_throughputs() == []
    emulator.faults.conflict_on_delete()
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_provisioned_model_throughput(provisionedModelId=first)


def test_a_committed_provisioned_throughput_cannot_be_deleted_before_its_term(
    bedrock: Any, emulator: BedrockEmulator
) -> None:
    pt_arn = _create(bedrock, "amazon.nova-lite-v1:0", commitmentDuration="OneMonth")
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert "commitment" in raised.value.response["Error"]["Message"]
    emulator.clock.advance(31 * 24 * 3600)
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert emulator.live_provisioned_throughputs() == []


def test_list_shows_live_ones_with_filters(bedrock: Any, emulator: BedrockEmulator) -> None:
    _create(bedrock, "amazon.nova-lite-v1:0", name="pt-a")
    emulator.clock.advance(PROVISIONING_SECONDS)
    _create(bedrock, "amazon.nova-micro-v1:0", name="pt-b")
    deleted = _create(bedrock, "amazon.nova-micro-v1:0", name="pt-c")
    bedrock.delete_provisioned_model_throughput(provisionedModelId=deleted)

    def names(**filters: Any) -> list[str]:
        summaries = bedrock.list_provisioned_model_throughputs(**filters)["provisionedModelSummaries"]
        return [summary["provisionedModelName"] for summary in summaries]

    assert names() == ["pt-b", "pt-a"]
    assert names(statusEquals="InService") == ["pt-a"]
    assert names(nameContains="b") == ["pt-b"]


def test_custom_models_are_listed_with_filters(bedrock: Any, emulator: BedrockEmulator, custom_model_arn: str) -> None:
    def names(**filters: Any) -> list[str]:
        return [summary["modelName"] for summary in bedrock.list_custom_models(**filters)["modelSummaries"]]

    base_arn = bedrock.get_custom_model(modelIdentifier="distilled-model-1")["baseModelArn"]
    assert names() == ["distilled-model-1"]
    assert names(baseModelArnEquals=base_arn, modelStatus="Active", nameContains="distilled") == ["distilled-model-1"]
    assert names(nameContains="other") == []
    assert names(isOwned=False) == []
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier="no-such-model")
