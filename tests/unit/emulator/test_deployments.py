"""Custom model deployments: lifecycle on the logical clock, which models AWS deploys on demand, idempotency,
quota, faults, Converse through a deployment, and how IAM sees each call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from offline.bedrock_emulator import BedrockEmulator
from offline.bedrock_emulator.converse import key_terms
from offline.bedrock_emulator.deployments import on_demand_refusal
from offline.iam.requests import World, requests_for
from tests.unit.emulator.builders import ACCOUNT_ID, JOB_SECONDS, REGION, TEACHER, client, distilled_model

pytestmark = pytest.mark.unit

DEPLOYMENT_SECONDS = 300
TAGS = [{"key": "project", "value": "bedrock-distill"}, {"key": "execution", "value": "exec-1"}]
QUESTION = [{"role": "user", "content": [{"text": "How does knowledge distillation shrink a language model?"}]}]


@pytest.fixture
def emulator(s3: Any) -> Any:
    # The shared fixture's emulator, with a deployment delay of its own and a quota of two deployments.
    with BedrockEmulator(
        job_seconds=JOB_SECONDS, deployment_seconds=DEPLOYMENT_SECONDS, custom_model_deployments=2
    ) as started:
        yield started


@pytest.fixture
def model_arn(s3: Any, emulator: BedrockEmulator) -> str:
    return distilled_model(s3, emulator.clock.advance)


def _deploy(bedrock: Any, model_arn: str, name: str = "distill-exec-1", **extra: Any) -> str:
    arn: str = bedrock.create_custom_model_deployment(modelDeploymentName=name, modelArn=model_arn, **extra)[
        "customModelDeploymentArn"
    ]
    return arn


def _text(response: dict[str, Any]) -> str:
    text: str = response["output"]["message"]["content"][0]["text"]
    return text


def test_a_deployment_goes_creating_then_active_serves_the_model_and_is_deleted(
    bedrock: Any, runtime: Any, emulator: BedrockEmulator, model_arn: str
) -> None:
    # Given a tagged deployment of the distilled Nova Lite model
    arn = _deploy(bedrock, model_arn, tags=TAGS, description="on-demand student", clientRequestToken="exec-1-dep")
    assert arn.startswith(f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:custom-model-deployment/")
    assert len(arn.rsplit("/", 1)[1]) == 12
    described = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert described["status"] == "Creating"
    assert described["modelArn"] == model_arn
    assert described["modelDeploymentName"] == "distill-exec-1"
    assert described["description"] == "on-demand student"
    # And it does not answer yet
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        runtime.converse(modelId=arn, messages=QUESTION)
    # When the deployment delay passes, Then it is Active, by name as by ARN, and answers
    emulator.clock.advance(DEPLOYMENT_SECONDS)
    assert bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="distill-exec-1")["status"] == "Active"
    assert _text(runtime.converse(modelId=arn, messages=QUESTION))
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == TAGS
    # And once deleted, it is gone for every call, the custom model stays
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert emulator.live_model_deployments() == []
    assert emulator.model_deployments[arn].deleted
    assert bedrock.get_custom_model(modelIdentifier=model_arn)["modelStatus"] == "Active"
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier="distill-exec-1")
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.list_tags_for_resource(resourceARN=arn)
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.converse(modelId=arn, messages=QUESTION)


def test_the_same_token_returns_the_same_deployment_and_a_live_name_is_not_reused(
    bedrock: Any, emulator: BedrockEmulator, model_arn: str
) -> None:
    first = _deploy(bedrock, model_arn, clientRequestToken="exec-1-dep")
    assert _deploy(bedrock, model_arn, clientRequestToken="exec-1-dep") == first
    assert len(emulator.live_model_deployments()) == 1
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        _deploy(bedrock, model_arn, clientRequestToken="exec-2-dep")
    assert "already exists" in raised.value.response["Error"]["Message"]
    # And once deleted, the name is free again
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=first)
    assert _deploy(bedrock, model_arn, clientRequestToken="exec-2-dep") != first


def test_a_model_aws_does_not_serve_on_demand_is_refused_with_nothing_created(
    s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a distilled Llama 3.1 8B (a student AWS serves through Provisioned Throughput only)
    llama = distilled_model(
        s3,
        emulator.clock.advance,
        region="us-west-2",
        baseModelIdentifier="meta.llama3-1-8b-instruct-v1:0:128k",
        customizationConfig={
            "distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": "meta.llama3-1-70b-instruct-v1:0"}}
        },
    )
    bedrock = boto3.session.Session(region_name="us-west-2").client("bedrock")
    # When it is deployed, Then Bedrock refuses, naming the base model and the supported ones
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        _deploy(bedrock, llama)
    message = raised.value.response["Error"]["Message"]
    assert "meta.llama3-1-8b-instruct-v1:0" in message
    assert "does not support on-demand deployment" in message
    assert "Amazon Nova Lite" in message
    assert emulator.live_model_deployments() == []


def test_the_on_demand_table_is_per_region_and_date() -> None:
    def model(base: str, created: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> dict[str, Any]:
        arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT_ID}:custom-model/{base}/abcdefabcdef"
        return {
            "modelArn": arn,
            "baseModelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{base}",
            "creationTime": created,
        }

    assert on_demand_refusal(model("amazon.nova-micro-v1:0:128k"), "us-east-1") is None
    assert on_demand_refusal(model("amazon.nova-pro-v1:0:300k"), "us-east-1") is None
    assert on_demand_refusal(model("meta.llama3-3-70b-instruct-v1:0:128k"), "us-west-2") is None
    refused_region = on_demand_refusal(model("amazon.nova-lite-v1:0:300k"), "us-west-2")
    assert refused_region == (
        "On-demand deployment of custom models based on Amazon Nova Lite is not supported in us-west-2. "
        "Supported Regions: us-east-1."
    )
    too_early = on_demand_refusal(model("amazon.nova-lite-v1:0:300k", datetime(2025, 7, 15, tzinfo=UTC)), "us-east-1")
    assert too_early is not None
    assert "customized before 2025-07-16" in too_early


def test_a_model_of_another_region_or_account_is_not_found(bedrock: Any, model_arn: str) -> None:
    elsewhere = model_arn.replace(f":{ACCOUNT_ID}:", ":210987654321:")
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        _deploy(bedrock, elsewhere)
    west = boto3.session.Session(region_name="us-west-2").client("bedrock")
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        _deploy(west, model_arn)


def test_the_deployments_quota_counts_live_deployments(bedrock: Any, emulator: BedrockEmulator, model_arn: str) -> None:
    # Given the quota of two, taken
    first = _deploy(bedrock, model_arn, name="dep-1")
    _deploy(bedrock, model_arn, name="dep-2")
    # When a third is asked for, Then it is refused, with nothing created
    with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException) as raised:
        _deploy(bedrock, model_arn, name="dep-3")
    assert "quota of custom model deployments (2)" in raised.value.response["Error"]["Message"]
    assert len(emulator.live_model_deployments()) == 2
    # And once one is deleted there is room again
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=first)
    _deploy(bedrock, model_arn, name="dep-3")


def test_a_failed_deployment_does_not_answer_and_is_still_deleted(
    bedrock: Any, runtime: Any, emulator: BedrockEmulator, model_arn: str
) -> None:
    emulator.faults.fail_model_deployment("Model capacity unavailable", model_deployment_name="dep-doomed")
    healthy = _deploy(bedrock, model_arn, name="dep-healthy")
    doomed = _deploy(bedrock, model_arn, name="dep-doomed")
    emulator.clock.advance(DEPLOYMENT_SECONDS)
    assert bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=healthy)["status"] == "Active"
    described = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=doomed)
    assert described["status"] == "Failed"
    assert described["failureMessage"] == "Model capacity unavailable"
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.converse(modelId=doomed, messages=QUESTION)
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=doomed)
    assert [d.arn for d in emulator.live_model_deployments()] == [healthy]


def test_a_refused_deletion_singles_out_one_deployment(bedrock: Any, emulator: BedrockEmulator, model_arn: str) -> None:
    first = _deploy(bedrock, model_arn, name="dep-a")
    emulator.faults.conflict_on_model_deployment_delete("dep-a", times=2)
    for identifier in (first, "dep-a"):
        with pytest.raises(bedrock.exceptions.ConflictException):
            bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=first)
    assert emulator.live_model_deployments() == []
    # A PT's conflict rule does not touch deployments, nor theirs a PT
    emulator.faults.conflict_on_delete()
    second = _deploy(bedrock, model_arn, name="dep-b")
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=second)


def test_injected_call_errors_leave_nothing_behind(bedrock: Any, emulator: BedrockEmulator, model_arn: str) -> None:
    emulator.faults.throttle("CreateCustomModelDeployment")
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        _deploy(bedrock, model_arn)
    assert emulator.live_model_deployments() == []
    arn = _deploy(bedrock, model_arn)
    emulator.faults.raise_on("GetCustomModelDeployment", "InternalServerException")
    with pytest.raises(bedrock.exceptions.InternalServerException):
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    with pytest.raises(ValueError, match="cannot raise ConflictException"):
        emulator.faults.raise_on("CreateCustomModelDeployment", "ConflictException")


def test_list_shows_live_deployments_with_filters_and_pages(
    bedrock: Any, emulator: BedrockEmulator, model_arn: str
) -> None:
    _deploy(bedrock, model_arn, name="dep-a")
    emulator.clock.advance(DEPLOYMENT_SECONDS)
    _deploy(bedrock, model_arn, name="dep-b")
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier="dep-a")
    emulator.clock.advance(1)
    _deploy(bedrock, model_arn, name="dep-c")

    def names(**filters: Any) -> list[str]:
        summaries = bedrock.list_custom_model_deployments(**filters)["modelDeploymentSummaries"]
        return [summary["customModelDeploymentName"] for summary in summaries]

    assert names() == ["dep-c", "dep-b"]
    assert names(sortOrder="Ascending") == ["dep-b", "dep-c"]
    assert names(statusEquals="Creating", nameContains="C") == ["dep-c"]
    assert names(statusEquals="Active") == []
    assert names(modelArnEquals=model_arn, createdBefore=emulator.clock.now()) == ["dep-b"]
    first_page = bedrock.list_custom_model_deployments(maxResults=1)
    assert [s["customModelDeploymentName"] for s in first_page["modelDeploymentSummaries"]] == ["dep-c"]
    rest = bedrock.list_custom_model_deployments(maxResults=1, nextToken=first_page["nextToken"])
    assert [s["customModelDeploymentName"] for s in rest["modelDeploymentSummaries"]] == ["dep-b"]
    assert "nextToken" not in rest


def test_a_deployment_answers_as_its_model_with_the_students_fidelity(
    bedrock: Any, runtime: Any, emulator: BedrockEmulator, model_arn: str
) -> None:
    # Given an Active deployment and a PT of the same distilled model
    deployment = _deploy(bedrock, model_arn)
    emulator.clock.advance(DEPLOYMENT_SECONDS)
    prompts = [
        [{"role": "user", "content": [{"text": f"Explain gradient checkpointing for transformer layer {n}"}]}]
        for n in range(20)
    ]

    def answers(model_id: str) -> list[str]:
        return [_text(runtime.converse(modelId=model_id, messages=messages)) for messages in prompts]

    teacher = answers(TEACHER)
    # When the student is faithful, Then it answers every prompt as its teacher does
    emulator.faults.degrade_student(1.0)
    assert answers(deployment) == teacher
    # When it is degraded to 0.25, Then about a quarter of its answers are the teacher's and the rest miss the point
    emulator.faults.degrade_student(0.25, custom_model_name="distilled-model-1")
    degraded = answers(deployment)
    same = sum(1 for ours, theirs in zip(degraded, teacher, strict=True) if ours == theirs)
    assert 1 <= same <= 10
    off_topic = [ours for ours, theirs in zip(degraded, teacher, strict=True) if ours != theirs]
    assert all(key_terms(answer) == set() for answer in off_topic)
    # And by default (0.9) most answers are the teacher's
    emulator.faults.clear()
    assert sum(1 for ours, theirs in zip(answers(deployment), teacher, strict=True) if ours == theirs) >= 15


def test_iam_sees_each_deployment_call_as_the_service_authorization_reference_says(
    bedrock: Any, emulator: BedrockEmulator, model_arn: str
) -> None:
    world = World(
        region=REGION, account_id=ACCOUNT_ID, bedrock_lookup=emulator.resource_arn, resource_tags=emulator.tags_of
    )
    bedrock.tag_resource(resourceARN=model_arn, tags=[{"key": "project", "value": "bedrock-distill"}])
    # Create: on the custom model deployed (with its tags and the request's), TagResource on the new deployment
    create = requests_for(
        "bedrock",
        "CreateCustomModelDeployment",
        {"modelDeploymentName": "d", "modelArn": model_arn, "tags": TAGS},
        world,
    )
    assert [(r.action, r.resource) for r in create] == [
        ("bedrock:CreateCustomModelDeployment", model_arn),
        ("bedrock:TagResource", f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:custom-model-deployment/*"),
    ]
    assert create[0].context["aws:ResourceTag/project"] == "bedrock-distill"
    assert create[0].context["aws:RequestTag/execution"] == "exec-1"
    assert create[0].context["aws:TagKeys"] == ["project", "execution"]
    # Get and Delete by name: on the deployment's ARN, with its tags; List: on *
    arn = _deploy(bedrock, model_arn, name="dep-iam", tags=TAGS)
    for operation in ("GetCustomModelDeployment", "DeleteCustomModelDeployment"):
        [request] = requests_for("bedrock", operation, {"customModelDeploymentIdentifier": "dep-iam"}, world)
        assert (request.action, request.resource) == (f"bedrock:{operation}", arn)
        assert request.context["aws:ResourceTag/execution"] == "exec-1"
    [listing] = requests_for("bedrock", "ListCustomModelDeployments", {}, world)
    assert listing.resource == "*"
    # Converse on the deployment: InvokeModel on its ARN, with its tags
    [invoke] = requests_for("bedrock-runtime", "Converse", {"modelId": arn, "messages": QUESTION}, world)
    assert (invoke.action, invoke.resource) == ("bedrock:InvokeModel", arn)
    assert invoke.context["aws:ResourceTag/project"] == "bedrock-distill"


def test_the_status_reads_move_the_clock_like_other_polls(s3: Any) -> None:
    with BedrockEmulator(job_seconds=JOB_SECONDS, deployment_seconds=600, seconds_per_status_read=300) as emulator:
        model_arn = distilled_model(s3, emulator.clock.advance)
        bedrock = client("bedrock")
        arn = _deploy(bedrock, model_arn)
        statuses = [
            bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"] for _ in range(3)
        ]
    assert statuses == ["Creating", "Active", "Active"]
