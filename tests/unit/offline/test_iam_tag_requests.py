"""The tags a Bedrock request carries offline, so the template's tag conditions decide as AWS's would: a create call's
tags as aws:RequestTag/<key> and aws:TagKeys on every resource it is authorized on, and an existing resource's tags as
aws:ResourceTag/<key> (Service Authorization Reference, "Actions, resources, and condition keys for Amazon Bedrock")."""

from __future__ import annotations

import pytest

from offline.iam.policy import Request
from offline.iam.requests import World, requests_for

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
BEDROCK = f"arn:aws:bedrock:us-west-2:{ACCOUNT}"
CUSTOM_MODEL = f"{BEDROCK}:custom-model/meta.llama3-1-8b-instruct-v1:0:128k/abcdefghijkl"
JOB = f"{BEDROCK}:model-customization-job/meta.llama3-1-8b-instruct-v1:0:128k/abcdefghijkl"
TAGS = [{"key": "project", "value": "bedrock-distill"}, {"key": "run", "value": "r-1"}]
REQUEST_TAGS = {
    "aws:RequestTag/project": "bedrock-distill",
    "aws:RequestTag/run": "r-1",
    "aws:TagKeys": ["project", "run"],
}


def _world(tags_by_arn: dict[str, dict[str, str]]) -> World:
    return World(
        region="us-west-2",
        account_id=ACCOUNT,
        bedrock_lookup=lambda kind, identifier: identifier if identifier.startswith("arn:") else None,
        resource_tags=lambda arn: tags_by_arn.get(arn, {}),
    )


def test_buying_a_pt_is_authorized_on_its_model_with_the_models_and_the_requests_tags() -> None:
    world = _world({CUSTOM_MODEL: {"project": "bedrock-distill"}})
    params = {"modelUnits": 1, "provisionedModelName": "pt", "modelId": CUSTOM_MODEL, "tags": TAGS}
    assert requests_for("bedrock", "CreateProvisionedModelThroughput", params, world) == [
        # no provisioned-model resource type for this action: the model it is bought for
        Request(
            "bedrock:CreateProvisionedModelThroughput",
            CUSTOM_MODEL,
            {"aws:ResourceTag/project": "bedrock-distill", **REQUEST_TAGS},
        ),
        Request("bedrock:TagResource", f"{BEDROCK}:provisioned-model/*", REQUEST_TAGS),
    ]


def test_an_untagged_pt_purchase_carries_no_request_tags_and_asks_no_tagging() -> None:
    params = {"modelUnits": 1, "provisionedModelName": "pt", "modelId": CUSTOM_MODEL}
    (request,) = requests_for("bedrock", "CreateProvisionedModelThroughput", params, _world({}))
    assert request == Request("bedrock:CreateProvisionedModelThroughput", CUSTOM_MODEL, {})


def test_a_job_creation_carries_its_tags_on_the_student_too() -> None:
    params = {
        "jobName": "j",
        "customModelName": "m",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/service",
        "baseModelIdentifier": "meta.llama3-1-8b-instruct-v1:0:128k",
        "jobTags": TAGS,
        "customModelTags": TAGS,
    }
    requests = requests_for("bedrock", "CreateModelCustomizationJob", params, _world({}))
    student = "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-1-8b-instruct-v1:0:128k"
    (on_student,) = [r for r in requests if r.resource == student]
    assert on_student.context["aws:RequestTag/project"] == "bedrock-distill"
    assert set(on_student.context["aws:TagKeys"]) == {"project", "run"}


def test_stopping_a_job_carries_the_jobs_tags() -> None:
    world = _world({JOB: {"project": "another-team"}})
    (request,) = requests_for("bedrock", "StopModelCustomizationJob", {"jobIdentifier": JOB}, world)
    assert request == Request("bedrock:StopModelCustomizationJob", JOB, {"aws:ResourceTag/project": "another-team"})
