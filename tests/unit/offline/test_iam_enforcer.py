"""The enforcer's botocore hook: a call made as a principal is answered with the service's AccessDenied
before moto sees it, unless the principal's policies allow every request the call is authorized as."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from offline.iam import enforcer as iam_enforcer
from offline.iam.enforcer import EVENT_NAMES, Enforcer, Principal
from offline.iam.requests import SERVICES, World

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reader"
KEY = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234"


def reader(*statements: dict[str, Any]) -> Principal:
    return Principal(ROLE, "fn", ({"Version": "2012-10-17", "Statement": list(statements)},))


@pytest.fixture
def enforcer() -> Iterator[Enforcer]:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        boto3.client("s3").put_object(Bucket="data", Key="jobs/a.json", Body=b"{}")
        enforcer = Enforcer(World(region="us-west-2", account_id=ACCOUNT, bucket_keys={"data": KEY}))
        iam_enforcer.activate(enforcer)
        try:
            yield enforcer
        finally:
            iam_enforcer.deactivate()


def test_event_names_are_botocores() -> None:
    session = botocore.session.get_session()
    for service in SERVICES:
        assert EVENT_NAMES[service] == session.get_service_model(service).service_id.hyphenize()


def test_a_call_without_a_principal_is_not_checked(enforcer: Enforcer) -> None:
    assert boto3.client("s3").get_object(Bucket="data", Key="jobs/a.json")["Body"].read() == b"{}"
    assert enforcer.denials == []


def test_a_denied_call_gets_the_services_access_denied_and_never_reaches_moto(enforcer: Enforcer) -> None:
    # Given a principal that may read objects but not put them
    principal = reader({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"})
    s3 = boto3.client("s3")
    # When it puts an object
    with Enforcer.acting_as(principal), pytest.raises(ClientError) as raised:
        s3.put_object(Bucket="data", Key="jobs/b.json", Body=b"{}")
    # Then S3 answers AccessDenied naming the session, action and resource, and nothing was written
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"].startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/fn is not authorized")
    assert "s3:PutObject on resource: arn:aws:s3:::data/jobs/b.json" in error["Message"]
    assert "Contents" not in s3.list_objects_v2(Bucket="data", Prefix="jobs/b")


def test_reading_an_sse_kms_object_also_needs_the_key_through_s3(enforcer: Enforcer) -> None:
    get = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}
    key = {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-west-2.amazonaws.com"}},
    }
    s3 = boto3.client("s3")
    with Enforcer.acting_as(reader(get)), pytest.raises(ClientError, match="kms:Decrypt"):
        s3.get_object(Bucket="data", Key="jobs/a.json")
    with Enforcer.acting_as(reader(get, key)):
        assert s3.get_object(Bucket="data", Key="jobs/a.json")["Body"].read() == b"{}"


def test_listing_is_authorized_with_the_requested_prefix(enforcer: Enforcer) -> None:
    listing = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::data",
        "Condition": {"StringLike": {"s3:prefix": ["jobs", "jobs/*"]}},
    }
    s3 = boto3.client("s3")
    with Enforcer.acting_as(reader(listing)):
        assert s3.list_objects_v2(Bucket="data", Prefix="jobs/")["KeyCount"] == 1
        with pytest.raises(ClientError, match="AccessDenied"):
            s3.list_objects_v2(Bucket="data")


def test_the_principal_follows_the_call_into_other_threads_of_the_invocation(enforcer: Enforcer) -> None:
    from bedrock_distill.threads import ContextThreadPoolExecutor  # noqa: PLC0415

    s3 = boto3.client("s3")
    with Enforcer.acting_as(reader()), ContextThreadPoolExecutor(max_workers=2) as pool:
        future = pool.submit(s3.get_object, Bucket="data", Key="jobs/a.json")
        with pytest.raises(ClientError, match="AccessDenied"):
            future.result()


def test_the_principal_follows_an_upload_into_s3transfers_own_threads(enforcer: Enforcer) -> None:
    # Given a principal that may read objects but not put them
    principal = reader({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"})
    s3 = boto3.client("s3")
    # When it uploads through s3transfer (upload_fileobj: the parts go out from s3transfer's thread pool)
    with Enforcer.acting_as(principal), pytest.raises(ClientError, match="AccessDenied"):
        s3.upload_fileobj(io.BytesIO(b"{}"), "data", "jobs/c.json")
    # Then the upload was checked as the principal's, and refused: nothing was written
    assert [denial.operation for denial in enforcer.denials] == ["s3:PutObject"]
    assert "Contents" not in s3.list_objects_v2(Bucket="data", Prefix="jobs/c")


def test_a_missing_key_is_a_404_only_to_a_caller_who_may_list_the_bucket(enforcer: Enforcer) -> None:
    get = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data"}
    s3 = boto3.client("s3")
    # Given a caller who may read objects but not list the bucket, a missing key is AccessDenied
    with Enforcer.acting_as(reader(get)), pytest.raises(ClientError) as without_list:
        s3.head_object(Bucket="data", Key="jobs/missing.json")
    assert without_list.value.response["Error"]["Code"] == "AccessDenied"
    # And with ListBucket it is the 404 S3 gives everyone who may know the key is not there
    with Enforcer.acting_as(reader(get, listing)), pytest.raises(ClientError) as with_list:
        s3.head_object(Bucket="data", Key="jobs/missing.json")
    assert with_list.value.response["Error"]["Code"] == "404"


def test_a_request_on_a_bedrock_resource_carries_its_tags() -> None:
    from offline.bedrock_emulator import bedrock_emulator  # noqa: PLC0415

    # Given a principal that may delete only Provisioned Throughputs tagged project=bedrock-distill
    only_ours = {
        "Effect": "Allow",
        "Action": "bedrock:DeleteProvisionedModelThroughput",
        "Resource": f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/project": "bedrock-distill"}},
    }
    with mock_aws(), bedrock_emulator(no_commitment_model_units=2) as emulator:
        world = World(
            region="us-west-2",
            account_id=ACCOUNT,
            bedrock_lookup=emulator.resource_arn,
            resource_tags=emulator.tags_of,
        )
        iam_enforcer.activate(Enforcer(world))
        try:
            bedrock = boto3.client("bedrock")
            model = "meta.llama3-1-8b-instruct-v1:0:128k"
            tags = [{"key": "project", "value": "bedrock-distill"}]
            ours = bedrock.create_provisioned_model_throughput(
                modelUnits=1, provisionedModelName="ours", modelId=model, tags=tags
            )["provisionedModelArn"]
            theirs = bedrock.create_provisioned_model_throughput(
                modelUnits=1, provisionedModelName="theirs", modelId=model
            )["provisionedModelArn"]
            # When it deletes both, by ARN and by name
            with Enforcer.acting_as(reader(only_ours)):
                bedrock.delete_provisioned_model_throughput(provisionedModelId="ours")
                with pytest.raises(ClientError) as refused:
                    bedrock.delete_provisioned_model_throughput(provisionedModelId=theirs)
        finally:
            iam_enforcer.deactivate()
        # Then only the tagged one is gone; the other was refused with its ARN named
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert theirs in refused.value.response["Error"]["Message"]
        assert [pt.arn for pt in emulator.live_provisioned_throughputs()] == [theirs]
        assert ours not in [pt.arn for pt in emulator.live_provisioned_throughputs()]
