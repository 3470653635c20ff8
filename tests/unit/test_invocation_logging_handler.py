"""The invocation-logging custom resource's handler, against moto's Bedrock logging and SSM.

moto does not check iam:PassRole; `PassRoleCheck` does, for the one call where this handler needs it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bedrock_distill.handlers import invocation_logging
from bedrock_distill.invocation_logging import ROLE_CONTEXT_KEY, LoggingRoleNotPassableError
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


LOGGING_ROLE = "arn:aws:iam::123456789012:role/service-role/users-bedrock-logging"
# A CloudWatch Logs delivery with large bodies in S3, beside an S3 delivery (botocore `bedrock` LoggingConfig).
USERS_CLOUDWATCH_CONFIGURATION = {
    "cloudWatchConfig": {
        "logGroupName": "/users/bedrock-invocations",
        "roleArn": LOGGING_ROLE,
        "largeDataDeliveryS3Config": {"bucketName": "users-large-bodies", "keyPrefix": "large"},
    },
    "s3Config": {"bucketName": "users-own-log-bucket", "keyPrefix": "audit"},
    "textDataDeliveryEnabled": True,
    "imageDataDeliveryEnabled": True,
    "embeddingDataDeliveryEnabled": True,
    "videoDataDeliveryEnabled": True,
}


@dataclass
class PassRoleCheck:
    """iam:PassRole as AWS checks it on PutModelInvocationLoggingConfiguration: a configuration naming a
    CloudWatch role the caller may not pass is refused with AccessDenied (seen from AWS: "is not authorized
    to perform: iam:PassRole on resource: <role>"). `passable` is what the handler's role is granted."""

    passable: set[str] = field(default_factory=set)
    puts: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        configuration = params["loggingConfig"]
        role = (configuration.get("cloudWatchConfig") or {}).get("roleArn")
        if role is not None and role not in self.passable:
            message = f"not authorized to perform: iam:PassRole on resource: {role}"
            error = {"Error": {"Code": "AccessDeniedException", "Message": message}}
            raise ClientError(error, "PutModelInvocationLoggingConfiguration")
        self.puts.append(copy.deepcopy(configuration))


@pytest.fixture
def bedrock() -> Iterator[Any]:
    """The test's own client, from its own session: what it sets up is not the handler's call."""
    with mock_aws():
        invocation_logging._manager.cache_clear()
        yield boto3.session.Session().client("bedrock")
    invocation_logging._manager.cache_clear()


@pytest.fixture
def pass_role(bedrock: Any) -> Iterator[PassRoleCheck]:
    """Checks the handler's puts: its clients come from boto3's default session (which moto resets when
    it starts, so this one is made after)."""
    check = PassRoleCheck()
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("provide-client-params.bedrock.PutModelInvocationLoggingConfiguration", check)
    yield check
    boto3.DEFAULT_SESSION = None


def _event(
    request_type: str, *, bucket: str = OUR_BUCKET, prefix: str = OUR_PREFIX, role: str | None = None
) -> dict[str, Any]:
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
    if role is not None:
        event["ResourceProperties"]["CloudWatchRoleArn"] = role
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


# An existing CloudWatch Logs delivery ----------------------------------------------------------------------


def test_create_keeps_an_existing_cloudwatch_delivery_and_delete_restores_it_exactly(
    bedrock: Any, pass_role: PassRoleCheck
) -> None:
    # Given an account that logs to CloudWatch Logs (and its own bucket), and a deploy naming that role
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CLOUDWATCH_CONFIGURATION)
    pass_role.passable = {LOGGING_ROLE}
    # When the stack creates the resource
    _handle(_event("Create", role=LOGGING_ROLE))
    # Then the CloudWatch delivery and every data type it delivered are kept; only S3 now goes to our bucket
    expected = USERS_CLOUDWATCH_CONFIGURATION | {"s3Config": {"bucketName": OUR_BUCKET, "keyPrefix": OUR_PREFIX}}
    assert _current(bedrock) == expected
    # When the stack deletes the resource
    _handle(_event("Delete", role=LOGGING_ROLE))
    # Then the handler passed the role to put back exactly what the account had, and the record is gone
    assert pass_role.puts[-1] == USERS_CLOUDWATCH_CONFIGURATION
    assert _current(bedrock) == USERS_CLOUDWATCH_CONFIGURATION
    assert not _parameter_exists()


@pytest.mark.parametrize(
    "deployed_role",
    [None, "arn:aws:iam::123456789012:role/some-other-role"],
    ids=["no role named", "another role named"],
)
def test_create_refuses_a_cloudwatch_delivery_it_could_not_keep_and_changes_nothing(
    bedrock: Any, pass_role: PassRoleCheck, deployed_role: str | None
) -> None:
    # Given an account that logs to CloudWatch Logs as a role the deploy does not name
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CLOUDWATCH_CONFIGURATION)
    pass_role.passable = {deployed_role} if deployed_role else set()
    # When the stack creates the resource, it is refused, saying which context key to set to what
    with pytest.raises(LoggingRoleNotPassableError) as refused:
        _handle(_event("Create", role=deployed_role))
    message = str(refused.value)
    assert f"-c {ROLE_CONTEXT_KEY}={LOGGING_ROLE} " in message
    assert "/users/bedrock-invocations" in message
    assert "Nothing was changed" in message
    # Then the account's configuration is untouched and nothing was recorded
    assert pass_role.puts == []
    assert _current(bedrock) == USERS_CLOUDWATCH_CONFIGURATION
    assert not _parameter_exists()
    # And the rollback's Delete leaves it untouched too
    _handle(_event("Delete", role=deployed_role))
    assert _current(bedrock) == USERS_CLOUDWATCH_CONFIGURATION


def test_update_keeps_the_cloudwatch_delivery_and_refuses_to_drop_the_role_it_needs(
    bedrock: Any, pass_role: PassRoleCheck
) -> None:
    # Given our configuration installed over a CloudWatch delivery
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CLOUDWATCH_CONFIGURATION)
    pass_role.passable = {LOGGING_ROLE}
    _handle(_event("Create", role=LOGGING_ROLE))
    # When the stack updates the prefix
    _handle(_event("Update", prefix="team-a/logs", role=LOGGING_ROLE))
    # Then ours moves to the new prefix and the CloudWatch delivery stays
    current = _current(bedrock)
    assert current is not None
    assert current["s3Config"] == {"bucketName": OUR_BUCKET, "keyPrefix": "team-a/logs"}
    assert current["cloudWatchConfig"] == USERS_CLOUDWATCH_CONFIGURATION["cloudWatchConfig"]
    # When an update no longer names the role, it is refused and nothing changes
    with pytest.raises(LoggingRoleNotPassableError, match=f"-c {ROLE_CONTEXT_KEY}={LOGGING_ROLE} "):
        _handle(_event("Update", prefix="team-b/logs"))
    assert _current(bedrock) == current


def test_an_update_that_changes_nothing_passes_no_role(bedrock: Any, pass_role: PassRoleCheck) -> None:
    # Given our configuration installed over a CloudWatch delivery
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CLOUDWATCH_CONFIGURATION)
    pass_role.passable = {LOGGING_ROLE}
    _handle(_event("Create", role=LOGGING_ROLE))
    puts = len(pass_role.puts)
    # When an update's rollback puts back the same properties while the grant may still be missing
    pass_role.passable = set()
    _handle(_event("Update", role=LOGGING_ROLE))
    # Then it puts nothing, so it needs no role
    assert len(pass_role.puts) == puts


def test_delete_never_fails_when_the_recorded_role_may_not_be_passed(
    bedrock: Any, pass_role: PassRoleCheck, caplog: pytest.LogCaptureFixture
) -> None:
    # Given ours installed over a CloudWatch delivery, then a deploy that no longer grants its role
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CLOUDWATCH_CONFIGURATION)
    pass_role.passable = {LOGGING_ROLE}
    _handle(_event("Create", role=LOGGING_ROLE))
    ours = _current(bedrock)
    pass_role.passable = set()
    # When the stack deletes the resource
    response = _handle(_event("Delete"))
    # Then the delete succeeds; ours (still holding the CloudWatch delivery) stays
    assert response["PhysicalResourceId"] == invocation_logging.PHYSICAL_RESOURCE_ID
    assert _current(bedrock) == ours
    # And the record is kept, and the log says where it is and how to restore it
    assert _parameter_exists()
    (logged,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert LOGGING_ROLE in logged
    assert PREVIOUS_LOGGING_PARAMETER in logged
    assert "put-model-invocation-logging-configuration" in logged


def test_delete_never_fails_when_bedrock_refuses_the_restore(bedrock: Any, pass_role: PassRoleCheck) -> None:
    # Given ours installed over a CloudWatch delivery whose role the stack names
    bedrock.put_model_invocation_logging_configuration(loggingConfig=USERS_CLOUDWATCH_CONFIGURATION)
    pass_role.passable = {LOGGING_ROLE}
    _handle(_event("Create", role=LOGGING_ROLE))
    ours = _current(bedrock)
    # When IAM refuses the restore's PassRole anyway (the grant is not in place)
    pass_role.passable = set()
    _handle(_event("Delete", role=LOGGING_ROLE))
    # Then the delete succeeds, ours stays and the record is kept
    assert _current(bedrock) == ours
    assert _parameter_exists()
