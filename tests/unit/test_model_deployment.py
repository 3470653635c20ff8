"""The on-demand deployment of the distilled model, at the gateway: every request goes through botocore's Stubber
on a real `bedrock` client, so its shape is checked against botocore's model of the API, and Bedrock's answers
(errors included) are the ones its model defines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.clients import LazyClient
from bedrock_distill.handlers import create_model_deployment as create_handler
from bedrock_distill.handlers import delete_model_deployment as delete_handler
from bedrock_distill.workflow.errors import (
    BedrockRequestRejected,
    ConflictException,
    ModelDeploymentFailed,
    ModelDeploymentQuotaExceeded,
    TransientError,
)
from bedrock_distill.workflow.model_deployment import (
    create_model_deployment,
    delete_model_deployment,
    model_deployment_status,
)
from bedrock_distill.workflow.run import (
    EXECUTION_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_VALUE,
    PROJECT_TAG_KEY,
    PROJECT_TAG_VALUE,
    ExecutionContext,
    ExecutionInput,
    Run,
    plan_run,
)
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

EXECUTION = ExecutionContext(id="arn:aws:states:us-east-1:123456789012:execution:distillation:nova-1", name="nova-1")
CUSTOM_MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abcdefghij12"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghij12"


def _plan(**fields: object) -> Run:
    settings = pipeline_settings(
        default_teacher_model_id="amazon.nova-pro-v1:0",
        default_student_model_id="amazon.nova-lite-v1:0:300k",
        deploy_region="us-east-1",
    )
    document: dict[str, object] = {"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}, **fields}
    run = plan_run(ExecutionInput.model_validate(document), EXECUTION, settings)
    assert run.serving_mode == "on-demand"
    return run


@pytest.fixture
def stub() -> Iterator[tuple[Stubber, BedrockGateway]]:
    client = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield stubber, BedrockGateway(LazyClient("bedrock", client))
        stubber.assert_no_pending_responses()


def _pattern(operation: str, member: str) -> re.Pattern[str]:
    shape = boto3.client("bedrock", region_name="us-east-1").meta.service_model.operation_model(operation)
    return re.compile(f"^(?:{shape.input_shape.members[member].metadata['pattern']})$")


def _tags(run: Run, *extra: tuple[str, str]) -> list[dict[str, str]]:
    pairs = [(PROJECT_TAG_KEY, PROJECT_TAG_VALUE), (EXECUTION_TAG_KEY, run.execution_arn), *extra]
    return [{"key": key, "value": value} for key, value in pairs]


def _create_request(run: Run, tags: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "modelDeploymentName": run.model_deployment_name,
        "modelArn": CUSTOM_MODEL,
        "description": f"Distilled model served on demand by execution {run.execution_arn}",
        "clientRequestToken": run.model_deployment_client_request_token,
        "tags": tags,
    }


def test_a_deployment_is_named_tokened_and_tagged_by_its_execution(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given an on-demand run, and a Lambda retried after its first request reached Bedrock
    run = _plan()
    request = _create_request(run, _tags(run))
    for _ in range(2):
        stubber.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT}, request)
    # When the deployment is created twice
    first = create_model_deployment(run, CUSTOM_MODEL, bedrock)
    second = create_model_deployment(run, CUSTOM_MODEL, bedrock)
    # Then both requests carry the same name and client token (Bedrock ignores the repeat), the project and
    # execution tags and no keep tag; the deployment is Creating
    assert first == second
    assert (first.custom_model_deployment_arn, first.status) == (DEPLOYMENT, "Creating")
    # And the name and token match Bedrock's patterns (the Stubber checks types and lengths, not patterns)
    assert _pattern("CreateCustomModelDeployment", "modelDeploymentName").match(run.model_deployment_name)
    assert _pattern("CreateCustomModelDeployment", "clientRequestToken").match(
        run.model_deployment_client_request_token
    )


def test_a_run_asked_to_keep_its_deployment_tags_it_keep_on_success(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given a run started with keepDeployment
    run = _plan(keepDeployment=True)
    # When its deployment is created
    request = _create_request(run, _tags(run, (KEEP_ON_SUCCESS_TAG_KEY, KEEP_ON_SUCCESS_TAG_VALUE)))
    stubber.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT}, request)
    # Then the request carries the keep-on-success tag besides the run's tags (the Stubber compares exactly)
    assert create_model_deployment(run, CUSTOM_MODEL, bedrock).custom_model_deployment_arn == DEPLOYMENT


def test_the_deployment_quota_is_named_with_what_to_do(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given an account at its custom model deployment quota
    stubber.add_client_error(
        "create_custom_model_deployment", "ServiceQuotaExceededException", "quota reached", http_status_code=400
    )
    # When the run deploys its model
    with pytest.raises(ModelDeploymentQuotaExceeded) as raised:
        create_model_deployment(_plan(), CUSTOM_MODEL, bedrock)
    # Then the error is the named fatal one, with the next steps and the reassurance that the model is kept
    message = str(raised.value)
    assert "quota reached" in message
    assert "servingMode 'provisioned'" in message
    assert "Service Quotas" in message
    assert f"The distilled model {CUSTOM_MODEL} is kept" in message


def test_another_refusal_is_not_called_a_quota(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given a model Bedrock will not deploy on demand
    stubber.add_client_error("create_custom_model_deployment", "ValidationException", "not supported")
    # When the run deploys it, Then Bedrock's refusal is passed on as it is
    with pytest.raises(BedrockRequestRejected, match="ValidationException: not supported") as raised:
        create_model_deployment(_plan(), CUSTOM_MODEL, bedrock)
    assert not isinstance(raised.value, ModelDeploymentQuotaExceeded)


def _deployment(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "customModelDeploymentArn": DEPLOYMENT,
        "modelDeploymentName": "distill-serve-nova-1",
        "modelArn": CUSTOM_MODEL,
        "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
        "status": status,
        **fields,
    }


@pytest.mark.parametrize("status", ["Creating", "Active"])
def test_the_status_is_reported_until_active(stub: tuple[Stubber, BedrockGateway], status: str) -> None:
    stubber, bedrock = stub
    stubber.add_response(
        "get_custom_model_deployment", _deployment(status), {"customModelDeploymentIdentifier": DEPLOYMENT}
    )
    deployment = model_deployment_status(DEPLOYMENT, bedrock)
    assert (deployment.custom_model_deployment_arn, deployment.status) == (DEPLOYMENT, status)


def test_a_failed_deployment_fails_the_run_with_bedrocks_reason(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given a deployment Bedrock could not set up
    failed = _deployment("Failed", failureMessage="model not eligible for on-demand deployment")
    stubber.add_response("get_custom_model_deployment", failed, {"customModelDeploymentIdentifier": DEPLOYMENT})
    # When its status is read, Then the run fails by name, with Bedrock's message
    with pytest.raises(ModelDeploymentFailed, match="model not eligible for on-demand deployment"):
        model_deployment_status(DEPLOYMENT, bedrock)


def test_deleting_a_deployment_reports_how_long_it_lived(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given an Active deployment created an hour ago
    created = datetime.now(UTC) - timedelta(hours=1)
    name = {"customModelDeploymentIdentifier": "distill-serve-nova-1"}
    stubber.add_response("get_custom_model_deployment", _deployment("Active", createdAt=created), name)
    stubber.add_response("delete_custom_model_deployment", {}, name)
    # When it is deleted by the name the run chose
    deletion = delete_model_deployment("distill-serve-nova-1", bedrock)
    # Then it was deleted, after about an hour
    assert deletion.deleted is True
    assert deletion.alive_seconds == pytest.approx(3600, abs=60)


def test_a_deployment_never_created_is_nothing_to_delete(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given no deployment of that name (the create failed, or a retry already deleted it)
    stubber.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "no such deployment", 404)
    # When it is deleted
    deletion = delete_model_deployment("distill-serve-nova-1", bedrock)
    # Then that is done, without a delete request (the fixture checks no stubbed call is left, and none extra made)
    assert (deletion.deleted, deletion.alive_seconds) == (False, None)


def test_a_deployment_gone_between_read_and_delete_is_nothing_to_delete(stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    stubber.add_response("get_custom_model_deployment", _deployment("Active"))
    stubber.add_client_error("delete_custom_model_deployment", "ResourceNotFoundException", "gone", 404)
    assert delete_model_deployment(DEPLOYMENT, bedrock).deleted is False


def test_a_conflicting_delete_is_the_transient_error_the_state_machine_retries(
    stub: tuple[Stubber, BedrockGateway],
) -> None:
    stubber, bedrock = stub
    # Given a deployment whose deletion conflicts (DeleteCustomModelDeployment documents ConflictException)
    stubber.add_response("get_custom_model_deployment", _deployment("Creating"))
    stubber.add_client_error("delete_custom_model_deployment", "ConflictException", "still creating", 400)
    # When it is deleted, Then the named transient error leaves, which the ASL's Retry lists
    with pytest.raises(ConflictException, match="still creating") as raised:
        delete_model_deployment(DEPLOYMENT, bedrock)
    assert isinstance(raised.value, TransientError)
    assert raised.value.code == "ConflictException"


def test_the_handlers_answer_in_the_states_shape(
    stub: tuple[Stubber, BedrockGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    stubber, bedrock = stub
    # Given the create and delete functions on the stubbed Bedrock
    monkeypatch.setattr(create_handler, "_bedrock", bedrock)
    monkeypatch.setattr(delete_handler, "_bedrock", bedrock)
    run = _plan()
    stubber.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT})
    stubber.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "gone", 404)
    context = LocalLambdaContext(function_name="model-deployment")
    # When the state machine calls them as the contract says
    created = create_handler.handler(
        {"run": run.model_dump(by_alias=True, mode="json"), "customModelArn": CUSTOM_MODEL}, context
    )
    deleted = delete_handler.handler({"customModelDeploymentIdentifier": run.model_deployment_name}, context)
    # Then they answer in camelCase with the contract's fields
    assert created == {"customModelDeploymentArn": DEPLOYMENT, "status": "Creating"}
    assert deleted == {
        "customModelDeploymentIdentifier": run.model_deployment_name,
        "deleted": False,
        "aliveSeconds": None,
    }
