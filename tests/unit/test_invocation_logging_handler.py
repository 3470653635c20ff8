"""The invocation-logging custom resource's handler, against moto's Bedrock logging and SSM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.handlers import invocation_logging
from offline.lambda_runtime import LocalLambdaContext
from tests.conftest import PREVIOUS_LOGGING_PARAMETER

pytestmark = pytest.mark.unit

OUR_BUCKET = "bedrock-distill-invocation-logs"
OUR_PREFIX = "bedrock-invocation-logs"
USERS_CONFIGURATION = {
    "s3Config": {"bucketName": "users-own-log-bucket", "keyPrefix": "audit"},
    "textDataDeliveryEnabled": True,
    "imageDataDeliveryEnabled": True,
    "embeddingDataDeliveryEnabled": False,
}


@pytest.fixture
def bedrock() -> Iterator[Any]:
    with mock_aws():
        invocation_logging._manager.cache_clear()
        yield boto3.client("bedrock")
    invocation_logging._manager.cache_clear()


def _event(request_type: str, *, bucket: str = OUR_BUCKET, prefix: str = OUR_PREFIX) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/BedrockDistill/1",
        "RequestId": "1",
        "LogicalResourceId": "InvocationLoggingConfiguration",
        "ResourceType": "Custom::BedrockInvocationLogging",
        "ResourceProperties": {"ServiceToken": "arn", "BucketName": bucket, "KeyPrefix": prefix},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = invocation_logging.PHYSICAL_RESOURCE_ID
    return event


def _handle(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = invocation_logging.handler(event, LocalLambdaContext())
    return response


def _current(bedrock: Any) -> dict[str, Any] | None:
    # An account without logging answers with no (or an empty) loggingConfig.
    configuration: dict[str, Any] | None = bedrock.get_model_invocation_logging_configuration().get("loggingConfig")
    return configuration or None


def _parameter_exists() -> bool:
    names = [p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]]
    return PREVIOUS_LOGGING_PARAMETER in names


def test_create_records_the_users_configuration_then_installs_ours(bedrock: Any) -> None:
    # Given an account that already logs to the user's own bucket
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CONFIGURATION)
    # When the stack creates the resource
    response = _handle(_event("Create"))
    # Then ours is installed: text delivery on, to our bucket and prefix
    current = _current(bedrock)
    assert current is not None
    assert current["s3Config"] == {"bucketName": OUR_BUCKET, "keyPrefix": OUR_PREFIX}
    assert current["textDataDeliveryEnabled"] is True
    assert response["PhysicalResourceId"] == invocation_logging.PHYSICAL_RESOURCE_ID
    # And deleting the resource later puts the user's configuration back exactly
    _handle(_event("Delete"))
    assert _current(bedrock) == USERS_CONFIGURATION
    assert not _parameter_exists()


def test_delete_removes_logging_when_there_was_none_before(bedrock: Any) -> None:
    # Given an account without invocation logging
    assert _current(bedrock) is None
    _handle(_event("Create"))
    assert _current(bedrock) is not None
    # When the stack deletes the resource
    _handle(_event("Delete"))
    # Then the account is left without logging again, and the record is gone
    assert _current(bedrock) is None
    assert not _parameter_exists()


def test_update_installs_our_new_settings_and_keeps_the_original_record(bedrock: Any) -> None:
    # Given our configuration installed over the user's
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CONFIGURATION)
    _handle(_event("Create"))
    # When the stack updates the prefix
    _handle(_event("Update", prefix="team-a/logs"))
    # Then ours is put with the new prefix
    current = _current(bedrock)
    assert current is not None
    assert current["s3Config"] == {"bucketName": OUR_BUCKET, "keyPrefix": "team-a/logs"}
    # And a delete still restores what the user had before the very first create
    _handle(_event("Delete", prefix="team-a/logs"))
    assert _current(bedrock) == USERS_CONFIGURATION


def test_retried_create_does_not_overwrite_the_record_with_ours(bedrock: Any) -> None:
    # Given a create that already ran once (CloudFormation retried it)
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CONFIGURATION)
    _handle(_event("Create"))
    # When it runs again while ours is in place
    _handle(_event("Create"))
    # Then deleting still restores the user's configuration, not ours
    _handle(_event("Delete"))
    assert _current(bedrock) == USERS_CONFIGURATION


def test_delete_leaves_a_configuration_someone_set_after_us(bedrock: Any) -> None:
    # Given our configuration installed, then replaced by somebody else's
    _handle(_event("Create"))
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CONFIGURATION)
    # When the stack deletes the resource
    _handle(_event("Delete"))
    # Then their configuration stays
    assert _current(bedrock) == USERS_CONFIGURATION
    assert not _parameter_exists()


def test_malformed_event_fails_before_touching_the_account(bedrock: Any) -> None:
    # Given an event without the bucket name
    event = _event("Create")
    del event["ResourceProperties"]["BucketName"]
    # When the handler runs, it raises a validation error naming the field
    with pytest.raises(Exception, match="BucketName"):
        _handle(event)
    # Then nothing was changed or recorded
    assert _current(bedrock) is None
    assert not _parameter_exists()
