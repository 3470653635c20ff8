"""The offline policy evaluator against IAM's documented evaluation rules.

Each case cites the rule it checks: "Policy evaluation logic", "IAM JSON policy elements: Action /
NotAction / Resource / NotResource" and "Condition operators", "Conditions with multiple context keys or
values". A rule the evaluator got wrong would make the offline world allow what AWS denies, or deny what
it allows.
"""

from __future__ import annotations

from typing import Any

import pytest

from offline.iam.policy import Decision, Request, UnsupportedPolicyError, evaluate, wildcard_match

pytestmark = pytest.mark.unit

BUCKET = "arn:aws:s3:::data"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_nothing_allowed_is_an_implicit_deny() -> None:
    assert evaluate([policy()], Request("s3:GetObject", f"{BUCKET}/a")) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow() -> None:
    # Given one policy allowing everything and another denying one action
    documents = [policy(allow("*", "*")), policy(deny("s3:DeleteObject", f"{BUCKET}/*"))]
    # Then the denied action is denied, and others stay allowed
    assert evaluate(documents, Request("s3:DeleteObject", f"{BUCKET}/a")) is Decision.EXPLICIT_DENY
    assert evaluate(documents, Request("s3:GetObject", f"{BUCKET}/a")) is Decision.ALLOW


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("arn:aws:s3:::data/*", "arn:aws:s3:::data/a/b.jsonl", True),  # * spans '/'
        ("arn:aws:s3:::data/?", "arn:aws:s3:::data/a", True),
        ("arn:aws:s3:::data/?", "arn:aws:s3:::data/ab", False),
        ("arn:aws:s3:::data/*", "arn:aws:s3:::database/a", False),
        ("arn:aws:s3:::Data/*", "arn:aws:s3:::data/a", False),  # resources are case-sensitive
        ("arn:aws:bedrock:*::foundation-model/x", "arn:aws:bedrock:us-west-2::foundation-model/x", True),
        ("a.b", "aXb", False),  # '.' is literal, not a regex
    ],
)
def test_resource_wildcards(pattern: str, value: str, matches: bool) -> None:
    assert wildcard_match(pattern, value) is matches


def test_actions_match_case_insensitively_with_wildcards() -> None:
    document = policy(allow("BEDROCK:get*", "*"))
    assert evaluate([document], Request("bedrock:GetModelCustomizationJob", "*")) is Decision.ALLOW
    assert evaluate([document], Request("bedrock:CreateModelCustomizationJob", "*")) is Decision.IMPLICIT_DENY


def test_not_action_and_not_resource_match_everything_else() -> None:
    document = policy(
        {"Effect": "Allow", "NotAction": "s3:DeleteObject", "NotResource": f"{BUCKET}/secret/*"},
    )
    assert evaluate([document], Request("s3:GetObject", f"{BUCKET}/a")) is Decision.ALLOW
    assert evaluate([document], Request("s3:DeleteObject", f"{BUCKET}/a")) is Decision.IMPLICIT_DENY
    assert evaluate([document], Request("s3:GetObject", f"{BUCKET}/secret/a")) is Decision.IMPLICIT_DENY


def test_a_missing_key_fails_a_condition_but_satisfies_a_negated_one() -> None:
    positive = policy(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "jobs/*"}}))
    negated = policy(allow("s3:ListBucket", BUCKET, Condition={"StringNotLike": {"s3:prefix": "secret/*"}}))
    no_prefix = Request("s3:ListBucket", BUCKET)
    assert evaluate([positive], no_prefix) is Decision.IMPLICIT_DENY
    assert evaluate([negated], no_prefix) is Decision.ALLOW


def test_if_exists_holds_when_the_key_is_missing_and_checks_it_when_present() -> None:
    document = policy(allow("s3:ListBucket", BUCKET, Condition={"StringLikeIfExists": {"s3:prefix": "jobs/*"}}))
    assert evaluate([document], Request("s3:ListBucket", BUCKET)) is Decision.ALLOW
    assert evaluate([document], Request("s3:ListBucket", BUCKET, {"s3:prefix": "jobs/x"})) is Decision.ALLOW
    assert evaluate([document], Request("s3:ListBucket", BUCKET, {"s3:prefix": "other"})) is Decision.IMPLICIT_DENY


def test_values_of_one_key_or_together_keys_and_operators_and_together() -> None:
    condition = {
        "StringEquals": {"aws:SourceAccount": ["111111111111", "123456789012"]},
        "ArnLike": {"aws:SourceArn": "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/*"},
    }
    document = policy(allow("kms:Decrypt", "*", Condition=condition))
    job = "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/m/abc"
    ok = {"aws:SourceAccount": "123456789012", "aws:SourceArn": job}
    assert evaluate([document], Request("kms:Decrypt", "k", ok)) is Decision.ALLOW
    wrong_account = ok | {"aws:SourceAccount": "999999999999"}
    assert evaluate([document], Request("kms:Decrypt", "k", wrong_account)) is Decision.IMPLICIT_DENY
    wrong_arn = ok | {"aws:SourceArn": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/m/abc"}
    assert evaluate([document], Request("kms:Decrypt", "k", wrong_arn)) is Decision.IMPLICIT_DENY


def test_a_negated_operator_nors_its_values() -> None:
    document = policy(allow("s3:GetObject", "*", Condition={"StringNotEquals": {"aws:RequestTag/team": ["a", "b"]}}))
    assert evaluate([document], Request("s3:GetObject", "x", {"aws:RequestTag/team": "c"})) is Decision.ALLOW
    assert evaluate([document], Request("s3:GetObject", "x", {"aws:RequestTag/team": "b"})) is Decision.IMPLICIT_DENY


def test_arn_like_compares_each_arn_part() -> None:
    document = policy(allow("sts:AssumeRole", "*", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:bedrock:*:1:*"}}))
    matching = Request("sts:AssumeRole", "*", {"aws:SourceArn": "arn:aws:bedrock:us-west-2:1:job/x"})
    not_an_arn = Request("sts:AssumeRole", "*", {"aws:SourceArn": "bedrock-us-west-2-1-job"})
    assert evaluate([document], matching) is Decision.ALLOW
    assert evaluate([document], not_an_arn) is Decision.IMPLICIT_DENY


def test_for_all_values_and_for_any_value_on_tag_keys() -> None:
    only_known = policy(
        allow("bedrock:TagResource", "*", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["project", "run"]}})
    )
    some_known = policy(
        allow("bedrock:TagResource", "*", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["project"]}})
    )
    known = Request("bedrock:TagResource", "*", {"aws:TagKeys": ["project", "run"]})
    extra = Request("bedrock:TagResource", "*", {"aws:TagKeys": ["project", "owner"]})
    none = Request("bedrock:TagResource", "*")
    assert evaluate([only_known], known) is Decision.ALLOW
    assert evaluate([only_known], extra) is Decision.IMPLICIT_DENY
    assert evaluate([only_known], none) is Decision.ALLOW  # ForAllValues holds for no values at all
    assert evaluate([some_known], extra) is Decision.ALLOW
    assert evaluate([some_known], none) is Decision.IMPLICIT_DENY


def test_null_tests_presence() -> None:
    untagged_only = policy(allow("s3:GetObject", "*", Condition={"Null": {"aws:RequestTag/team": "true"}}))
    assert evaluate([untagged_only], Request("s3:GetObject", "x")) is Decision.ALLOW
    assert (
        evaluate([untagged_only], Request("s3:GetObject", "x", {"aws:RequestTag/team": "a"})) is Decision.IMPLICIT_DENY
    )


def test_bool_compares_case_insensitively() -> None:
    document = policy(deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}), allow("s3:*", "*"))
    assert (
        evaluate([document], Request("s3:GetObject", "x", {"aws:SecureTransport": "FALSE"})) is Decision.EXPLICIT_DENY
    )
    assert evaluate([document], Request("s3:GetObject", "x", {"aws:SecureTransport": "true"})) is Decision.ALLOW


@pytest.mark.parametrize(
    "statement",
    [
        allow("s3:GetObject", "*", Condition={"NumericLessThan": {"s3:max-keys": "10"}}),
        allow("s3:GetObject", "*", Condition={"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}),
        allow("s3:GetObject", "arn:aws:s3:::${aws:username}/*"),
        {"Effect": "Allow", "Action": "s3:GetObject"},
        {"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "*"},
    ],
)
def test_what_the_evaluator_does_not_implement_fails_loudly(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicyError):
        evaluate([policy(statement)], Request("s3:GetObject", "arn:aws:s3:::bob/a", {"s3:max-keys": "5"}))
