"""The distillation catalog against AWS's table: every documented pair in its Regions and forms, nothing else."""

from __future__ import annotations

import pytest

from bedrock_distill.catalog import (
    REGION_DEFAULTS,
    ModelPair,
    allowed_pair_problem,
    offered_pairs,
    pair_problem,
    parse_model_id,
    requires_single_turn,
    teacher_route,
)

pytestmark = pytest.mark.unit

# The user guide's table ("Choose teacher and student models for distillation", read 2026-11-28), written out
# here by hand so that a mistake in catalog.json or in how catalog.py reads it shows up as a difference.
NOVA_PRO, NOVA_PRO_PROFILE, NOVA_PREMIER_PROFILE = (
    "amazon.nova-pro-v1:0",
    "us.amazon.nova-pro-v1:0",
    "us.amazon.nova-premier-v1:0",
)
LLAMA_405B = "meta.llama3-1-405b-instruct-v1:0"
LLAMA_31_70B, LLAMA_31_70B_PROFILE = "meta.llama3-1-70b-instruct-v1:0", "us.meta.llama3-1-70b-instruct-v1:0"
LLAMA_33_70B_PROFILE = "us.meta.llama3-3-70b-instruct-v1:0"
LITE, MICRO, PRO = "amazon.nova-lite-v1:0:300k", "amazon.nova-micro-v1:0:128k", "amazon.nova-pro-v1:0:300k"
L31_8B, L31_70B = "meta.llama3-1-8b-instruct-v1:0:128k", "meta.llama3-1-70b-instruct-v1:0:128k"
L32_1B, L32_3B, L33_70B = (
    "meta.llama3-2-1b-instruct-v1:0:128k",
    "meta.llama3-2-3b-instruct-v1:0:128k",
    "meta.llama3-3-70b-instruct-v1:0:128k",
)
DOCUMENTED: dict[ModelPair, str] = {
    **{ModelPair(t, s): "us-east-1" for t in (NOVA_PRO, NOVA_PRO_PROFILE) for s in (LITE, MICRO)},
    **{ModelPair(NOVA_PREMIER_PROFILE, s): "us-east-1" for s in (LITE, MICRO, PRO)},
    **{ModelPair(LLAMA_405B, s): "us-west-2" for s in (L31_8B, L31_70B, L32_1B, L33_70B)},
    **{ModelPair(t, s): "us-west-2" for t in (LLAMA_31_70B, LLAMA_31_70B_PROFILE) for s in (L31_8B, L32_1B, L32_3B)},
    **{ModelPair(LLAMA_33_70B_PROFILE, s): "us-west-2" for s in (L31_8B, L32_1B, L32_3B)},
}
REGIONS = ("us-east-1", "us-west-2", "us-east-2", "eu-west-1")


def test_the_catalog_offers_exactly_the_documented_pairs() -> None:
    assert sorted(offered_pairs()) == sorted(DOCUMENTED)
    for region in REGIONS:
        assert sorted(offered_pairs(region)) == sorted(p for p, r in DOCUMENTED.items() if r == region)


@pytest.mark.parametrize("pair", sorted(DOCUMENTED), ids=str)
def test_a_documented_pair_is_accepted_in_its_region_and_refused_elsewhere(pair: ModelPair) -> None:
    offered_in = DOCUMENTED[pair]
    # Given the Region AWS offers the pair in, it is accepted there (and where no Region is asked about)
    assert pair_problem(pair.teacher, pair.student, offered_in) is None
    assert pair_problem(pair.teacher, pair.student) is None
    for region in REGIONS:
        if region == offered_in:
            continue
        # When it is asked for anywhere else
        problem = pair_problem(pair.teacher, pair.student, region)
        # Then the refusal says where it is offered, and what this Region offers instead
        assert problem is not None
        assert f"is offered only in {offered_in}, not in {region}" in problem
        here = sorted(p for p, r in DOCUMENTED.items() if r == region)
        if here:
            assert f"pairs offered in {region}: " in problem
            assert all(p.student in problem and p.teacher in problem for p in here)
        else:
            assert f"Bedrock offers no distillation pair in {region}" in problem


@pytest.mark.parametrize(
    ("teacher", "student", "expected"),
    [
        # "Inference profile only" teachers given as the bare model id
        ("amazon.nova-premier-v1:0", LITE, "only as the inference profile 'us.amazon.nova-premier-v1:0'"),
        ("meta.llama3-3-70b-instruct-v1:0", L31_8B, "only as the inference profile 'us.meta.llama3-3-70b"),
        # The "On demand" teacher given as a profile
        ("us.meta.llama3-1-405b-instruct-v1:0", L31_8B, "only as the model id 'meta.llama3-1-405b-instruct-v1:0'"),
        # A profile of another geography than the one the table's Regions call
        ("eu.amazon.nova-pro-v1:0", LITE, "the model id 'amazon.nova-pro-v1:0' or the inference profile 'us.amazon"),
        # A teacher id with a student's context suffix
        ("amazon.nova-pro-v1:0:300k", LITE, "Bedrock takes Amazon Nova Pro as a distillation teacher only as"),
    ],
)
def test_a_teacher_in_a_form_aws_does_not_take_is_refused(teacher: str, student: str, expected: str) -> None:
    problem = pair_problem(teacher, student)
    assert problem is not None
    assert expected in problem


@pytest.mark.parametrize(
    ("teacher", "student", "suffixed"),
    [
        (NOVA_PREMIER_PROFILE, "amazon.nova-lite-v1:0", LITE),
        (NOVA_PRO, "amazon.nova-micro-v1:0", MICRO),
        (LLAMA_31_70B, "meta.llama3-1-8b-instruct-v1:0", L31_8B),
        (LLAMA_31_70B, "meta.llama3-1-8b-instruct-v1:0:8k", L31_8B),
    ],
)
def test_a_student_without_its_context_suffix_is_refused_naming_it(teacher: str, student: str, suffixed: str) -> None:
    assert pair_problem(teacher, student) == (
        f"student {student!r}: name the student with its context length, {suffixed!r}"
    )


@pytest.mark.parametrize(
    ("teacher", "student", "expected"),
    [
        (LLAMA_405B, L32_3B, "is not supported for teacher"),  # the 405B row lists Llama 3.2 1B, not 3B
        (NOVA_PRO, PRO, "is not supported for teacher"),
        (LLAMA_31_70B, L31_70B, "is not supported for teacher"),
        (NOVA_PRO, L31_8B, "are from different model families"),
        ("meta.llama3-1-8b-instruct-v1:0", L32_1B, "is not a supported distillation teacher"),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-haiku-20240307-v1:0:200k", "not a supported"),
    ],
)
def test_a_pair_aws_does_not_list_is_refused(teacher: str, student: str, expected: str) -> None:
    problem = pair_problem(teacher, student)
    assert problem is not None
    assert expected in problem


def test_each_regions_default_is_a_pair_offered_there() -> None:
    assert set(REGION_DEFAULTS) == {"us-east-1", "us-west-2"}
    for region, pair in REGION_DEFAULTS.items():
        assert DOCUMENTED[pair] == region


@pytest.mark.parametrize(
    ("teacher", "region", "profile", "regions"),
    [
        (NOVA_PRO, "us-east-1", None, ("us-east-1",)),
        (LLAMA_405B, "us-west-2", None, ("us-west-2",)),
        # The profiles' destinations from the source Region (user guide: supported cross-Region inference profiles)
        (NOVA_PREMIER_PROFILE, "us-east-1", NOVA_PREMIER_PROFILE, ("us-east-1", "us-east-2", "us-west-2")),
        (NOVA_PRO_PROFILE, "us-east-1", NOVA_PRO_PROFILE, ("us-east-1", "us-east-2", "us-west-2")),
        (LLAMA_31_70B_PROFILE, "us-west-2", LLAMA_31_70B_PROFILE, ("us-east-1", "us-east-2", "us-west-2")),
        (LLAMA_33_70B_PROFILE, "us-west-2", LLAMA_33_70B_PROFILE, ("us-east-1", "us-east-2", "us-west-2")),
    ],
)
def test_a_teachers_route_names_every_region_its_model_is_invoked_in(
    teacher: str, region: str, profile: str | None, regions: tuple[str, ...]
) -> None:
    route = teacher_route(teacher, region)
    assert route.inference_profile_id == profile
    assert route.foundation_model_id == parse_model_id(teacher).base_model_id
    assert route.regions == regions


def test_a_teacher_form_aws_does_not_take_has_no_route() -> None:
    with pytest.raises(ValueError, match="not a distillation teacher in a form Bedrock takes"):
        teacher_route("amazon.nova-premier-v1:0", "us-east-1")


def test_a_deployments_list_allows_only_its_pairs() -> None:
    allowed = [ModelPair(LLAMA_31_70B, L31_8B), ModelPair(LLAMA_33_70B_PROFILE, L32_3B)]
    # Given a pair on the list, it is allowed
    assert allowed_pair_problem(LLAMA_33_70B_PROFILE, L32_3B, allowed) is None
    # When a documented pair is not on the list, the refusal names the pairs that are
    problem = allowed_pair_problem(LLAMA_31_70B, L32_1B, allowed)
    assert problem == (
        f"teacher {LLAMA_31_70B!r} -> student {L32_1B!r} is not allowed by this deployment (allowed: "
        f"{LLAMA_31_70B} -> {L31_8B}; {LLAMA_33_70B_PROFILE} -> {L32_3B}); add it to the allowedModelPairs "
        "context key and redeploy"
    )
    # And a pair AWS does not take is refused for that reason first
    assert "context length" in str(allowed_pair_problem(LLAMA_31_70B, "meta.llama3-1-8b-instruct-v1:0", allowed))
    # Without a list, whatever the table documents is allowed
    assert allowed_pair_problem(LLAMA_31_70B, L32_1B, None) is None


@pytest.mark.parametrize(
    ("student", "single_turn"),
    [
        (L31_8B, True),
        ("meta.llama3-1-8b-instruct-v1:0", True),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", True),
        (LITE, False),
        ("amazon.nova-micro-v1:0", False),
    ],
)
def test_meta_and_anthropic_students_take_single_turn_records_only(student: str, single_turn: bool) -> None:
    assert requires_single_turn(student) is single_turn
