"""Bedrock assumes a job's service role only as the role's trust policy allows (confused-deputy conditions)."""

from __future__ import annotations

from typing import Any

import pytest

from offline.iam.service_roles import BEDROCK_SERVICE_PRINCIPAL, trusts

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
JOB = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-customization-job/m/abc"
# As the stack writes it (stacks/components/distillation_role.py), resolved.
TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": BEDROCK_SERVICE_PRINCIPAL},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-customization-job/*"},
            },
        }
    ],
}


def test_bedrock_may_assume_the_role_for_a_job_of_this_account_and_region() -> None:
    assert trusts(TRUST, BEDROCK_SERVICE_PRINCIPAL, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": JOB})


@pytest.mark.parametrize(
    ("service", "context"),
    [
        pytest.param(
            "sagemaker.amazonaws.com", {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": JOB}, id="other service"
        ),
        pytest.param(
            BEDROCK_SERVICE_PRINCIPAL, {"aws:SourceAccount": "999999999999", "aws:SourceArn": JOB}, id="other account"
        ),
        pytest.param(
            BEDROCK_SERVICE_PRINCIPAL,
            {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": JOB.replace("us-west-2", "us-east-1")},
            id="job in another Region",
        ),
        pytest.param(
            BEDROCK_SERVICE_PRINCIPAL,
            {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": f"arn:aws:bedrock:us-west-2:{ACCOUNT}:evaluation-job/x"},
            id="another kind of Bedrock job",
        ),
        pytest.param(BEDROCK_SERVICE_PRINCIPAL, {"aws:SourceAccount": ACCOUNT}, id="no source ARN"),
    ],
)
def test_anyone_else_or_any_other_source_is_refused(service: str, context: dict[str, str]) -> None:
    assert not trusts(TRUST, service, context)


def test_an_explicit_deny_in_the_trust_policy_wins() -> None:
    denying = {"Effect": "Deny", "Principal": {"Service": BEDROCK_SERVICE_PRINCIPAL}, "Action": "sts:AssumeRole"}
    policy = TRUST | {"Statement": [*TRUST["Statement"], denying]}
    assert not trusts(policy, BEDROCK_SERVICE_PRINCIPAL, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": JOB})
